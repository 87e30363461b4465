"""The reference rule for UDP silence, on values as the store holds them: a reachable answer
from a vantage allowed to reach the port, in a run starting within the window and in the same
period, makes another vantage's silence *blocked*; anything less leaves it inconclusive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edgeaudit.probe.model import Probe
from edgeaudit.probe.reference import Reference, Seen, find, parse_time, seen_from, settle
from edgeaudit.probe.verdict import Result, with_references

B = "198.18.2.20"
T0 = "2026-11-02T03:00:00Z"


def seen(
    started: str = T0, run: str = "run-ref", entry: int = 7, vantage: str = "seg-mgmt", **kw: Any
) -> Seen:
    base: dict[str, Any] = {
        "address": B,
        "port": 161,
        "expected": "allow",
        "verdict": "reachable",
        "payloads": ("snmp-v2c-get",),
        **kw,
    }
    return Seen(vantage=vantage, ref=Reference(run, vantage, started, entry), **base)


def look(candidates: list[Seen], at: str = "2026-11-02T03:40:00Z", **kw: Any) -> Reference | None:
    args: dict[str, Any] = {
        "address": B,
        "port": 161,
        "vantage": "seg-ai",
        "payloads": ("snmp-v2c-get",),
        "started": parse_time(at),
    }
    args.update(kw)
    return find(candidates, **args)


def test_a_reference_within_the_window_counts() -> None:
    assert look([seen()]) == Reference("run-ref", "seg-mgmt", T0, 7)
    assert look([seen()], at="2026-11-02T02:10:00Z") is not None  # before or after
    assert look([seen()], at="2026-11-02T04:00:01Z") is None  # 1 h 0 min 1 s apart
    assert look([seen()], at="2026-11-02T04:30:00Z", window=7200.0) is not None


def test_only_a_fitting_reference_counts() -> None:
    assert look([seen(vantage="seg-ai")]) is None  # the silent vantage itself
    assert look([seen(port=162)]) is None
    assert look([seen(address="198.18.2.21")]) is None
    assert look([seen(expected="deny")]) is None  # a leak is not a reference
    assert look([seen(verdict="inconclusive")]) is None
    assert look([seen(payloads=("snmp-v3-discovery",))]) is None  # other requests


def test_same_period() -> None:
    # 40 minutes apart, but across the quarter boundary (or the assessed period's end)
    late = seen(started="2026-12-31T23:50:00Z")
    assert look([late], at="2027-01-01T00:20:00Z") is None
    end = datetime(2026, 11, 2, 3, 30, tzinfo=UTC).timestamp()
    assert look([seen()], at="2026-11-02T03:20:00Z", period=(0.0, end)) is not None
    assert look([seen()], at="2026-11-02T03:40:00Z", period=(0.0, end)) is None


def test_the_closest_reference_is_cited() -> None:
    far = seen(started="2026-11-02T02:50:00Z", run="far", entry=1)
    near = seen(started="2026-11-02T03:35:00Z", run="near", entry=2)
    assert look([far, near]) == near.ref


def _result(verdict: str, reasons: tuple[str, ...], protocol: str = "udp") -> Result:
    p = Probe(B, protocol, 161, "seg-b", "b", "t", "deny", ("snmp-v2c-get",))
    return Result(p, verdict, reasons, 3)


SILENT = _result("inconclusive", ("no answer after 3 tries (udp open|filtered)",))


def test_run_time_silence_with_and_without_a_reference() -> None:
    t = parse_time("2026-11-02T03:40:00Z")
    (blocked,) = with_references([SILENT], True, "seg-ai", t, [seen()], 3600)
    assert blocked.verdict == "blocked"
    assert blocked.reference == Reference("run-ref", "seg-mgmt", T0, 7)
    assert blocked.reasons == (
        "no answer after 3 tries",
        f"blocked on the way: udp/161 at {B} answered run run-ref from seg-mgmt started {T0} "
        "(entry 7)",
    )
    (unsure,) = with_references([SILENT], True, "seg-ai", t, [], 3600)
    assert unsure.verdict == "inconclusive"
    assert unsure.reasons[1].startswith("no reference: ")
    assert "within 1 h in the same period" in unsure.reasons[1]
    # a run whose controls failed: this vantage may reach nothing, a reference cannot help
    (failed,) = with_references([SILENT], False, "seg-ai", t, [seen()], 3600)
    assert (failed.verdict, failed.reference) == ("inconclusive", None)
    # an ICMP answer from the filter is not silence: untouched
    icmp = _result("blocked", ("icmp 3/13 from 198.18.1.1",))
    assert with_references([icmp], True, "seg-ai", t, [seen()], 3600) == (icmp,)


def _rec(verdict: str, reasons: list[str], **attrs: Any) -> dict[str, Any]:
    a = {
        "protocol": "udp",
        "address": B,
        "port": 161,
        "vantage": "seg-ai",
        "expected": "deny",
        "verdict": verdict,
        "reasons": reasons,
        "payloads": ["snmp-v2c-get"],
        "run": "r1",
        **attrs,
    }
    return {"kind": "probe.result", "time": "2026-11-02T03:40:00Z", "attrs": a}


def test_policy_view_needs_the_reference_inside_the_period() -> None:
    ref_rec = _rec("reachable", ["udp reply ttl=63"], vantage="seg-mgmt", expected="allow")
    ref_rec["time"] = T0
    candidate = seen_from(ref_rec, 42)
    assert candidate is not None
    silent = _rec("inconclusive", ["no answer after 3 tries (udp open|filtered)"])
    judged = _rec("blocked", ["no answer after 3 tries", "..."], reference={"run": "x"})
    tcp = _rec("blocked", ["no answer after 3 tries"], protocol="tcp")
    year = (parse_time("2026-10-01T00:00:00Z"), parse_time("2027-01-01T00:00:00Z"))
    assert settle([(silent, 1), (judged, 2), (tcp, 3)], [candidate], year) == ([], [1, 2], [42])
    # the reference's run started before the assessed period: nothing settles the silence
    period = (parse_time("2026-11-02T03:30:00Z"), year[1])
    assert settle([(silent, 1), (judged, 2)], [candidate], period) == ([1, 2], [], [])
    # a reachable result of a denied path (a leak) never serves as a reference
    assert seen_from(_rec("reachable", ["udp reply"]), 5) is None
