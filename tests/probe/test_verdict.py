"""Verdict logic on answers as the engine records them (the namespace tests produce the same
answers from real packets; these pin the corner cases)."""

from __future__ import annotations

import pytest

from edgeaudit.probe.engine import Answer
from edgeaudit.probe.model import Probe
from edgeaudit.probe.verdict import decide

T, U = "198.18.2.20", "198.18.2.21"


def probe(address: str, protocol: str, port: int | None, expected: str = "deny") -> Probe:
    return Probe(address, protocol, port, "seg-b", "b", "tenant-b", expected)


CONTROL = Probe("198.18.3.30", "tcp", 22, "seg-c", "c", "shared", "allow")
CONTROL_OK = {(CONTROL.address, "tcp", 22): [Answer("syn-ack", CONTROL.address, 63)]}


def verdicts(probes, answers, routed=True):  # type: ignore[no-untyped-def]
    probes = [CONTROL, *probes]
    sent = {(p.address, p.protocol, p.port): 3 for p in probes}
    results, ok = decide(probes, {**CONTROL_OK, **answers}, sent, dict.fromkeys([T, U], routed))
    return {(r.probe.address, r.probe.protocol, r.probe.port): r for r in results[1:]}, ok


def test_rst_without_reference_behind_a_router_is_forged() -> None:
    got, _ = verdicts([probe(T, "tcp", 80)], {(T, "tcp", 80): [Answer("rst", T, 64)]})
    r = got[(T, "tcp", 80)]
    assert r.verdict == "blocked-by-forged-rst"
    assert r.reasons == ("rst ttl=64 crossed no router, but the target lies behind one",)


def test_rst_on_the_link_without_reference_is_genuine() -> None:
    got, _ = verdicts([probe(T, "tcp", 80)], {(T, "tcp", 80): [Answer("rst", T, 64)]}, False)
    assert got[(T, "tcp", 80)].verdict == "reachable"


def test_rst_checked_against_the_hosts_own_answers() -> None:
    answers = {
        (T, "tcp", 22): [Answer("syn-ack", T, 61)],  # the real host: 3 hops
        (T, "tcp", 80): [Answer("rst", T, 63)],  # 1 hop: a firewall on the way
        (T, "tcp", 81): [Answer("rst", T, 61)],  # the host's own RST: closed port
    }
    got, _ = verdicts([probe(T, "tcp", 22), probe(T, "tcp", 80), probe(T, "tcp", 81)], answers)
    assert got[(T, "tcp", 80)].verdict == "blocked-by-forged-rst"
    assert "the host's own answers come from 3 hop(s)" in got[(T, "tcp", 80)].reasons[0]
    assert got[(T, "tcp", 81)].verdict == "reachable"


def test_rst_checked_against_other_hosts_of_the_segment() -> None:
    answers = {(U, "icmp", None): [Answer("echo", U, 126)], (T, "tcp", 80): [Answer("rst", T, 64)]}
    got, _ = verdicts([probe(U, "icmp", None), probe(T, "tcp", 80)], answers)
    assert got[(T, "tcp", 80)].verdict == "blocked-by-forged-rst"
    assert "other hosts of seg-b come from 2 hop(s)" in got[(T, "tcp", 80)].reasons[0]


def test_icmp_errors() -> None:
    answers = {
        (T, "tcp", 80): [Answer("icmp", "198.18.1.1", 64, 3, 13)],
        (T, "udp", 53): [Answer("icmp", "198.18.1.1", 64, 3, 3)],  # port unreachable, forged
        (T, "udp", 54): [Answer("icmp", T, 63, 3, 3)],  # from the host: closed, got through
    }
    got, _ = verdicts([probe(T, "tcp", 80), probe(T, "udp", 53), probe(T, "udp", 54)], answers)
    assert got[(T, "tcp", 80)].verdict == "blocked"
    assert got[(T, "tcp", 80)].reasons == ("icmp 3/13 from 198.18.1.1",)
    assert got[(T, "udp", 53)].verdict == "blocked"
    assert got[(T, "udp", 54)].verdict == "reachable"
    assert got[(T, "udp", 54)].violation


def test_silence() -> None:
    got, ok = verdicts([probe(T, "tcp", 80), probe(T, "udp", 161), probe(T, "arp", None)], {})
    assert ok
    assert got[(T, "tcp", 80)].verdict == "blocked"
    assert got[(T, "tcp", 80)].reasons == ("no answer after 3 tries",)
    assert got[(T, "tcp", 80)].outcome == "success"
    assert got[(T, "udp", 161)].verdict == "inconclusive"
    assert got[(T, "udp", 161)].outcome == "unknown"
    assert got[(T, "arp", None)].verdict == "blocked"


def test_syn_ack_wins_over_an_earlier_error() -> None:
    answers = {(T, "tcp", 80): [Answer("icmp", "198.18.1.1", 64, 3, 13), Answer("syn-ack", T, 63)]}
    got, _ = verdicts([probe(T, "tcp", 80)], answers)
    assert got[(T, "tcp", 80)].verdict == "reachable"
    assert got[(T, "tcp", 80)].outcome == "failure"


def test_failed_or_missing_control() -> None:
    probes = [CONTROL, probe(T, "tcp", 80), probe(T, "tcp", 8443)]
    sent = {(p.address, p.protocol, p.port): 3 for p in probes}
    leak = {(T, "tcp", 8443): [Answer("syn-ack", T, 63)]}
    results, ok = decide(probes, leak, sent, {})
    assert not ok
    control, blocked, reachable = results
    assert (control.verdict, control.outcome) == ("blocked", "failure")
    assert control.reasons[-1] == "positive control failed"
    assert (blocked.verdict, blocked.outcome) == ("inconclusive", "unknown")
    assert reachable.verdict == "reachable"
    assert reachable.violation
    results, ok = decide(probes[1:], leak, sent, {})
    assert not ok
    assert results[0].reasons[-1] == "no positive control in this run"


def test_filter_answers_stand_when_controls_fail() -> None:
    """An ICMP admin-prohibited from the filter and a forged RST are both the filter's answer
    to this very packet: both stay blocked when the controls fail; only silence does not."""
    probes = [CONTROL, probe(T, "tcp", 80), probe(T, "tcp", 8080), probe(T, "tcp", 22)]
    sent = {(p.address, p.protocol, p.port): 3 for p in probes}
    answers = {
        (T, "tcp", 80): [Answer("icmp", "198.18.1.1", 64, 3, 13)],
        (T, "tcp", 8080): [Answer("rst", T, 64)],
    }
    results, ok = decide(probes, answers, sent, {T: True})
    assert not ok
    _, prohibited, forged, silent = results
    assert (prohibited.verdict, prohibited.outcome) == ("blocked", "success")
    assert prohibited.reasons[-1] == "positive control failed; a filter answered"
    assert forged.verdict == "blocked-by-forged-rst"
    assert forged.reasons[-1] == "positive control failed; a filter answered"
    assert (silent.verdict, silent.reasons[-1]) == ("inconclusive", "positive control failed")


@pytest.mark.parametrize(
    ("violations", "controls_ok", "inconclusive", "strict", "code"),
    [
        (1, False, 3, False, 1),  # a reachable denied path, whatever the controls
        (0, False, 0, False, 3),  # a failed (or missing) control
        (0, True, 2, False, 0),  # UDP open|filtered alone does not change the code
        (0, True, 2, True, 3),  # ... unless --strict
        (0, True, 0, True, 0),
    ],
)
def test_exit_codes(
    violations: int, controls_ok: bool, inconclusive: int, strict: bool, code: int
) -> None:
    from edgeaudit.cli.probe import exit_code

    counts = {"inconclusive": inconclusive} if inconclusive else {}
    report = {"violations": violations, "controls_ok": controls_ok, "counts": counts}
    assert exit_code(report, strict=strict) == code
