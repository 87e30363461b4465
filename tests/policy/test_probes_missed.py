"""Missed probe runs (``probe.missed`` records are findings) and the re-test of every pair after
a change of the isolation matrix (a new version first probed, or a run triggered change:REF)."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import Evidence, event, of, probe_run, run, set_rule_params, the

MISSED = "probe-runs-missed"
RERUN = "probe-rerun-after-change"
SEGMENTS = ("seg-mgmt", "seg-fintech", "seg-media", "seg-ai")
CURRENT = "2026.11-1"  # policies/isolation.yaml


def runs(
    time: str,
    name: str,
    version: str = CURRENT,
    trigger: str = "schedule",
    vantages: tuple[str, ...] = SEGMENTS,
) -> list[dict[str, Any]]:
    """One run per vantage probing every other segment (allowed or not, as the matrix says)."""
    out = []
    for v in vantages:
        records = probe_run(
            time, f"{name}-{v}", v, [(d, "deny", "blocked") for d in SEGMENTS if d != v]
        )
        for r in records:
            r["attrs"]["matrix_version"] = version
            r["attrs"]["trigger"] = trigger
        out.extend(records)
    return out


def missed(due: str, plan: str = "media-isolation", vantage: str = "seg-media") -> dict[str, Any]:
    return event(
        "probe.missed",
        due,
        outcome="failure",
        source="probe",
        attrs={"plan": plan, "vantage": vantage, "due": due, "detected": due},
        scope=("media-b",),
    )


def test_a_missed_run_fails_its_plan_and_others_pass(ev: Evidence, pol: Path) -> None:
    ev.add(runs("2026-08-01T03:00:00Z", "a", vantages=("seg-media", "seg-ai")))
    m = ev.one(missed("2026-08-17T03:15:00Z"))
    a = run(pol, ev.log)
    r = the(a, MISSED, subject="plan media-isolation")
    assert r.status == FAIL
    assert (r.scope.tenant, r.scope.segment) == ("media-b", "seg-media")
    assert [e.index for e in r.evidence] == [m]
    assert "due 2026-08-17T03:15:00Z" in r.reason
    assert {x.status for x in of(a, MISSED) if x.scope.subject == "plan p"} == {PASS}


def test_no_change_in_the_period_passes_and_an_unprobed_version_is_not_judged(
    ev: Evidence, pol: Path
) -> None:
    ev.add(runs("2026-08-01T03:00:00Z", "a"))
    assert [r.status for r in of(run(pol, ev.log), RERUN)] == [PASS]
    (pol / "isolation.yaml").write_text(
        (pol / "isolation.yaml")
        .read_text()
        .replace(f'version: "{CURRENT}"', 'version: "2026.12-1"')
    )
    statuses = sorted(r.status for r in of(run(pol, ev.log), RERUN))
    assert statuses == [NOT_EVALUATED, PASS]


@pytest.mark.parametrize(("days", "status"), [(7, PASS), (8, FAIL)])
def test_every_pair_is_probed_within_the_deadline_after_a_new_version(
    ev: Evidence, pol: Path, days: int, status: str
) -> None:
    ev.add(runs("2026-07-10T03:00:00Z", "old", version="2026.10-1"))
    # the change: the first run under the new version probes only seg-ai's pairs
    ev.add(runs("2026-08-01T00:00:00Z", "first", vantages=("seg-ai",)))
    ev.add(runs(f"2026-08-{1 + days:02d}T00:00:00Z", "rest", vantages=SEGMENTS[:3]))
    a = run(pol, ev.log)
    rs = of(a, RERUN)
    assert len(rs) == len(list(permutations(SEGMENTS, 2)))
    ai = [r for r in rs if r.scope.segment and r.scope.segment.startswith("seg-ai->")]
    assert {r.status for r in ai} == {PASS}
    others = [r for r in rs if r not in ai]
    assert {r.status for r in others} == {status}
    if status == FAIL:
        assert "not probed within 7 days" in others[0].reason
        assert "matrix version 2026.11-1 first probed (was 2026.10-1)" in others[0].reason


def test_a_change_trigger_starts_the_clock(ev: Evidence, pol: Path) -> None:
    set_rule_params(pol / "rules.yaml", RERUN, "{within: 2d}")
    ev.add(runs("2026-07-10T03:00:00Z", "base"))
    ev.add(runs("2026-08-01T00:00:00Z", "chg", trigger="change:CHG-77", vantages=("seg-mgmt",)))
    a = run(pol, ev.log)
    mgmt = [r for r in of(a, RERUN) if r.scope.segment and r.scope.segment.startswith("seg-mgmt->")]
    assert {r.status for r in mgmt} == {PASS}
    fails = [r for r in of(a, RERUN) if r.status == FAIL]
    assert len(fails) == 9
    assert all("change:CHG-77" in r.reason for r in fails)
