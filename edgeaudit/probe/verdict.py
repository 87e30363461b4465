"""Verdicts: what the answers to one run's probes mean.

* ``reachable``: a SYN/ACK; an RST from the real host (a closed port still means the packet got
  through); an echo reply; a UDP answer, or ICMP port-unreachable from the target itself; an
  ARP reply.
* ``blocked``: no answer after every try (TCP, ICMP, ARP), or an ICMP unreachable /
  administratively-prohibited (the code and the reporting address are recorded).
* ``blocked-by-forged-rst``: an RST whose hop count differs from the real host's (its SYN/ACK
  or echo reply in this run, else other hosts of its segment), or, with no reference, an RST
  that has crossed no router although the target lies behind one: a firewall answered for it.
* ``inconclusive``: UDP without any answer (open or filtered: cannot tell) unless a reference
  shows the service answers another vantage (``reference.py``), and every ``blocked`` by
  silence of a run whose positive controls (probes the matrix allows) were not all reachable,
  or that had none. A filter's answer (ICMP unreachable, forged RST) stays ``blocked*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from edgeaudit.probe.engine import Answer, Key
from edgeaudit.probe.model import Probe
from edgeaudit.probe.reference import SILENCE, Reference, Seen, find, is_silent_udp, no_reference
from edgeaudit.probe.wire import hops

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:  # the annotations are strings
    from typing import Final

VERDICTS: Final = ("reachable", "blocked", "blocked-by-forged-rst", "inconclusive")
_GENUINE: Final = frozenset({"syn-ack", "echo", "udp"})


@dataclass(frozen=True, slots=True)
class Result:
    probe: Probe
    verdict: str
    reasons: tuple[str, ...]
    tries: int
    reference: Reference | None = None  # UDP silence judged blocked: whose answer shows it

    @property
    def violation(self) -> bool:
        """A denied path that is reachable."""
        return self.probe.expected == "deny" and self.verdict == "reachable"

    @property
    def outcome(self) -> str:
        if self.verdict == "inconclusive":
            return "unknown"
        reachable = self.verdict == "reachable"
        if (self.probe.expected == "deny") == reachable:
            return "failure"
        return "success"


def _ref(
    probes: Sequence[Probe], answers: Mapping[Key, Sequence[Answer]]
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Hop counts seen in genuine answers, per target address and per segment."""
    by_addr: dict[str, set[int]] = {}
    by_seg: dict[str, set[int]] = {}
    for p in probes:
        for a in answers.get((p.address, p.protocol, p.port), ()):
            if a.kind in _GENUINE and a.ttl is not None and a.reporter == p.address:
                by_addr.setdefault(p.address, set()).add(hops(a.ttl))
                by_seg.setdefault(p.segment, set()).add(hops(a.ttl))
    return by_addr, by_seg


def _forged(
    ttl: int,
    address: str,
    segment: str,
    ref: tuple[dict[str, set[int]], dict[str, set[int]]],
    routed: bool,
) -> str | None:
    """Why an RST with this TTL is not from the real host, or None when it looks genuine."""
    seen = hops(ttl)
    by_addr, by_seg = ref
    if address in by_addr:
        want = by_addr[address]
        source = "the host's own answers"
    elif segment in by_seg:
        want = by_seg[segment]
        source = f"other hosts of {segment}"
    else:
        if routed and seen == 0:
            return f"rst ttl={ttl} crossed no router, but the target lies behind one"
        return None
    if seen in want:
        return None
    expected = ", ".join(str(h) for h in sorted(want))
    return f"rst ttl={ttl}: {seen} hop(s) away, but {source} come from {expected} hop(s)"


def _one(
    p: Probe,
    got: Sequence[Answer],
    tries: int,
    ref: tuple[dict[str, set[int]], dict[str, set[int]]],
    routed: bool,
) -> tuple[str, list[str]]:
    kinds = {a.kind for a in got}
    first = {a.kind: a for a in reversed(got)}
    if p.protocol == "tcp" and "syn-ack" in kinds:
        return "reachable", [f"syn-ack ttl={first['syn-ack'].ttl}"]
    if p.protocol == "icmp" and "echo" in kinds:
        return "reachable", [f"echo-reply ttl={first['echo'].ttl}"]
    if p.protocol == "udp" and "udp" in kinds:
        a = first["udp"]
        return "reachable", [f"udp reply ttl={a.ttl}" + (f": {a.detail}" if a.detail else "")]
    if p.protocol == "arp" and "arp" in kinds:
        what = "neighbour advertisement" if ":" in p.address else "arp reply"
        return "reachable", [f"{what} from {first['arp'].mac}"]
    if p.protocol == "tcp" and "rst" in kinds:
        rsts = [a for a in got if a.kind == "rst"]
        genuine = [
            a
            for a in rsts
            if a.ttl is None or _forged(a.ttl, p.address, p.segment, ref, routed) is None
        ]
        if genuine:
            ttl = "unknown" if genuine[0].ttl is None else genuine[0].ttl
            return "reachable", [f"rst ttl={ttl}"]
        why = _forged(rsts[0].ttl or 0, p.address, p.segment, ref, routed)
        return "blocked-by-forged-rst", [why or "forged rst"]
    errors = [a for a in got if a.kind == "icmp"]
    if errors:
        e = errors[0]
        v6 = ":" in p.address
        code = f"{'icmpv6' if v6 else 'icmp'} {e.icmp_type}/{e.icmp_code} from {e.reporter}"
        port_unreachable = (1, 4) if v6 else (3, 3)  # RFC 4443 3.1 / RFC 792
        if (
            p.protocol == "udp"
            and (e.icmp_type, e.icmp_code) == port_unreachable
            and e.reporter == p.address
        ):
            return "reachable", [f"{code} (port closed on the host)"]
        return "blocked", [code]
    if p.protocol == "udp":
        return "inconclusive", [f"no answer after {tries} tries {SILENCE}"]
    return "blocked", [f"no answer after {tries} tries"]


def decide(
    probes: Sequence[Probe],
    answers: Mapping[Key, Sequence[Answer]],
    sent: Mapping[Key, int],
    routed: Mapping[str, bool],
) -> tuple[tuple[Result, ...], bool]:
    """Every probe's verdict, and whether every positive control was reachable."""
    ref = _ref(probes, answers)
    results = []
    for p in probes:
        key = (p.address, p.protocol, p.port)
        tries = sent.get(key, 0)
        verdict, reasons = _one(p, answers.get(key, ()), tries, ref, routed.get(p.address, False))
        results.append(Result(p, verdict, tuple(reasons), tries))
    controls = [r for r in results if r.probe.control]
    controls_ok = bool(controls) and all(r.verdict == "reachable" for r in controls)
    if not controls_ok:
        # Only silence loses its meaning when the controls fail (this vantage may reach
        # nothing). An ICMP unreachable from a filter and a forged RST are both the filter's
        # answers to this very packet: they stay blocked, as the failed controls themselves do.
        why = "positive control failed" if controls else "no positive control in this run"
        results = [_uncontrolled(r, answers, why) for r in results]
    return tuple(results), controls_ok


def _uncontrolled(r: Result, answers: Mapping[Key, Sequence[Answer]], why: str) -> Result:
    """A result of a run whose controls failed (or that had none)."""
    if r.verdict == "blocked-by-forged-rst":
        return Result(r.probe, r.verdict, (*r.reasons, f"{why}; a filter answered"), r.tries)
    if r.verdict != "blocked":
        return r
    if r.probe.control:  # a failed control stays blocked (a failure of an allowed path)
        return Result(r.probe, "blocked", (*r.reasons, why), r.tries)
    if answers.get((r.probe.address, r.probe.protocol, r.probe.port)):
        return Result(r.probe, "blocked", (*r.reasons, f"{why}; a filter answered"), r.tries)
    return Result(r.probe, "inconclusive", (*r.reasons, why), r.tries)


def with_references(
    results: Sequence[Result],
    controls_ok: bool,
    vantage: str,
    started: float,
    candidates: Iterable[Seen],
    window: float,
) -> tuple[Result, ...]:
    """UDP silence with a reference (``reference.py``) becomes ``blocked``, citing it; without
    one it stays ``inconclusive`` and says so. A run whose controls failed keeps its silence
    inconclusive: this vantage may reach nothing at all."""
    seen = list(candidates)
    out = []
    for r in results:
        p = r.probe
        if not is_silent_udp(p.protocol, r.verdict, r.reasons) or p.port is None:
            out.append(r)
            continue
        ref = None
        if controls_ok:
            ref = find(
                seen,
                address=p.address,
                port=p.port,
                vantage=vantage,
                payloads=p.payloads,
                started=started,
                window=window,
            )
        if ref is None:
            why = no_reference(window) if controls_ok else "positive controls not all reachable"
            out.append(Result(p, "inconclusive", (*r.reasons, why), r.tries))
        else:
            text = ref.text(p.protocol, p.port, p.address)
            first = r.reasons[0].replace(f" {SILENCE}", "")
            out.append(Result(p, "blocked", (first, text), r.tries, ref))
    return tuple(out)
