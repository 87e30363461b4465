"""Silence judged honestly: when an unanswered UDP probe means *blocked*.

A UDP service that does not answer and a filter that drops the request look the same from the
probing side (nmap's ``open|filtered``). Silence on a UDP path counts as blocked only with a
*reference*: a ``reachable`` result for the same address, UDP port and requests, from another
vantage that the matrix lets reach it (``expected: allow``), in a run starting within a window
(default one hour) of the silent probe's run and in the same period. The service answered
there, so its silence here is the filter's. Without a reference the result stays
``inconclusive`` (open|filtered), and its reason says that no reference was found. A run whose
own positive controls failed is not rescued by a reference (this vantage may reach nothing).

The same rule serves the probe run (references already in the store when it records) and the
policy engine (references recorded before or after, inside the assessed period). Pure code on
plain values: the policy engine imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:  # the annotations are strings
    from typing import Any, Final

WINDOW: Final = 3600.0  # seconds between the two runs' starts, at most
SILENCE: Final = "(udp open|filtered)"


@dataclass(frozen=True, slots=True)
class Reference:
    """A reachable result that shows the service answers: the run, vantage, start and entry."""

    run: str
    vantage: str
    started: str  # RFC 3339 UTC
    entry: int | None = None  # its index in the log, when read from the store

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "vantage": self.vantage,
            "started": self.started,
            "entry": self.entry,
        }

    def text(self, protocol: str, port: int | None, address: str) -> str:
        at = f" (entry {self.entry})" if self.entry is not None else ""
        return (
            f"blocked on the way: {protocol}/{port} at {address} answered run {self.run} from "
            f"{self.vantage} started {self.started}{at}"
        )


@dataclass(frozen=True, slots=True)
class Seen:
    """A recorded ``probe.result`` that may serve as a reference."""

    address: str
    port: int
    vantage: str
    expected: str
    verdict: str
    payloads: tuple[str, ...]
    ref: Reference

    @property
    def t(self) -> float:
        return parse_time(self.ref.started)


def parse_time(text: str) -> float:
    from datetime import datetime  # here: the engine's start-up stays light

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def quarter_of(t: float) -> tuple[int, int]:
    from datetime import UTC, datetime

    d = datetime.fromtimestamp(t, UTC)
    return d.year, (d.month - 1) // 3


def seen_from(rec: Mapping[str, Any], entry: int | None) -> Seen | None:
    """A stored ``probe.result`` record (parsed JSON) as a candidate, or None if it cannot be
    one (not UDP, not reachable from a vantage allowed to reach it)."""
    a = rec.get("attrs")
    if rec.get("kind") != "probe.result" or not isinstance(a, dict):
        return None
    if a.get("protocol") != "udp" or a.get("verdict") != "reachable":
        return None
    if a.get("expected") != "allow" or not isinstance(a.get("port"), int):
        return None
    started = str(rec.get("time") or "")
    return Seen(
        str(a.get("address")),
        int(a["port"]),
        str(a.get("vantage")),
        "allow",
        "reachable",
        tuple(a.get("payloads") or ()),
        Reference(str(a.get("run")), str(a.get("vantage")), started, entry),
    )


def find(
    candidates: Iterable[Seen],
    *,
    address: str,
    port: int,
    vantage: str,
    payloads: tuple[str, ...],
    started: float,
    window: float = WINDOW,
    period: tuple[float, float] | None = None,
) -> Reference | None:
    """The reference closest in time for a silent UDP probe, or None. ``period``: the assessed
    period (start, end); without it, the calendar quarter of ``started``."""
    best: tuple[float, Reference] | None = None
    for s in candidates:
        if (s.address, s.port) != (address, port) or s.vantage == vantage:
            continue
        if s.expected != "allow" or s.verdict != "reachable" or s.payloads != payloads:
            continue
        t = s.t
        gap = abs(t - started)
        if gap > window:
            continue
        if period is not None:
            if not (period[0] <= t < period[1] and period[0] <= started < period[1]):
                continue
        elif quarter_of(t) != quarter_of(started):
            continue
        if best is None or gap < best[0]:
            best = (gap, s.ref)
    return None if best is None else best[1]


def is_silent_udp(protocol: str, verdict: str, reasons: Iterable[str]) -> bool:
    """An inconclusive UDP result because nothing answered (its first reason says so; a
    control failure or an ICMP error reads otherwise)."""
    first = next(iter(reasons), "")
    return protocol == "udp" and verdict == "inconclusive" and SILENCE in first


def no_reference(window: float) -> str:
    hours = window / 3600
    span = f"{hours:g} h" if hours >= 1 else f"{window:g} s"
    return (
        f"no reference: no reachable result for this udp port and address from another "
        f"vantage allowed to reach it, within {span} in the same period"
    )


def settle(
    results: Iterable[tuple[Mapping[str, Any], int]],
    candidates: Iterable[Seen],
    period: tuple[float, float],
    window: float = WINDOW,
) -> tuple[list[int], list[int], list[int]]:
    """The policy engine's view of recorded UDP silence, for the denied results of one run
    (whose positive controls passed): ``(unsettled, settled, references)`` as entry indexes.
    A silent UDP result (or one the run judged blocked by a reference) is settled only by a
    reference inside ``period``; the entries of those references are returned to be cited.
    Other results pass through."""
    seen = list(candidates)
    unsettled: list[int] = []
    settled: list[int] = []
    refs: list[int] = []
    for rec, index in results:
        a = rec.get("attrs") or {}
        reasons = list(a.get("reasons") or ())
        cited = a.get("reference")
        silent = a.get("protocol") == "udp" and bool(reasons) and SILENCE in str(reasons[0])
        if not (silent and a.get("verdict") == "inconclusive") and not (
            a.get("verdict") == "blocked" and isinstance(cited, dict)
        ):
            continue
        ref = find(
            seen,
            address=str(a.get("address")),
            port=int(a.get("port") or 0),
            vantage=str(a.get("vantage")),
            payloads=tuple(a.get("payloads") or ()),
            started=parse_time(str(rec.get("time"))),
            window=window,
            period=period,
        )
        if ref is None or ref.entry is None:
            unsettled.append(index)
        else:
            settled.append(index)
            refs.append(ref.entry)
    return unsettled, settled, sorted(set(refs))
