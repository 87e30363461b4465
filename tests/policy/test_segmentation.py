"""Segmentation from probe evidence against the isolation matrix (policies/isolation.yaml):
fintech -> media is denied (no rule between tenants), fintech -> mgmt allows DNS/NTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE
from tests.policy.helpers import Evidence, of, probe_run, run, the

PAIR = "seg-fintech->seg-media"


def test_denied_pair_reachable_fails_citing_the_run_and_the_open_paths(
    ev: Evidence, pol: Path
) -> None:
    idx = ev.add(
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [("seg-media", "deny", "blocked"), ("seg-media", "deny", "reachable")],
        )
    )
    r = the(run(pol, ev.log), "segmentation-denied-blocked", segment=PAIR)
    assert r.status == FAIL
    assert r.scope.tenant == "media-b"
    assert "1 denied path from seg-fintech to seg-media reachable: tcp/23" in r.reason
    assert [e.index for e in r.evidence] == [idx[0], idx[2]]


def test_denied_pair_blocked_with_controls_ok_passes(ev: Evidence, pol: Path) -> None:
    run_idx = ev.add(
        probe_run("2026-08-03T03:00:00Z", "r1", "seg-fintech", [("seg-media", "deny", "blocked")])
    )[0]
    a = run(pol, ev.log)
    r = the(a, "segmentation-denied-blocked", segment=PAIR)
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [run_idx]
    assert the(a, "segmentation-cadence", segment=PAIR).status == PASS


def test_blocked_with_failed_controls_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [("seg-media", "deny", "blocked")],
            controls_ok=False,
        )
    )
    r = the(run(pol, ev.log), "segmentation-denied-blocked", segment=PAIR)
    assert r.status == NOT_EVALUATED
    assert "positive controls failed" in r.reason


def test_inconclusive_denied_path_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [("seg-media", "deny", "blocked"), ("seg-media", "deny", "inconclusive")],
        )
    )
    r = the(run(pol, ev.log), "segmentation-denied-blocked", segment=PAIR)
    assert r.status == NOT_EVALUATED


def test_latest_run_of_a_pair_decides(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run(
            "2026-07-06T03:00:00Z", "old", "seg-fintech", [("seg-media", "deny", "reachable")]
        )
    )
    ev.add(
        probe_run("2026-08-03T03:00:00Z", "new", "seg-fintech", [("seg-media", "deny", "blocked")])
    )
    assert the(run(pol, ev.log), "segmentation-denied-blocked", segment=PAIR).status == PASS
    # judged before the newer run existed, the older one decides
    a = run(pol, ev.log, now="2026-07-20T00:00:00Z")
    assert the(a, "segmentation-denied-blocked", segment=PAIR).status == FAIL


def test_old_run_is_overdue_and_no_run_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run("2025-12-01T03:00:00Z", "r0", "seg-fintech", [("seg-media", "deny", "blocked")])
    )
    a = run(pol, ev.log)
    overdue = the(a, "segmentation-cadence", segment=PAIR)
    assert overdue.status == FAIL
    assert "overdue" in overdue.reason
    assert "due 2026-06-02T03:00:00Z" in overdue.reason
    # blocked months before the period is no pass for this period
    old = the(a, "segmentation-denied-blocked", segment=PAIR)
    assert old.status == NOT_EVALUATED
    assert "predates it" in old.reason
    none = the(a, "segmentation-cadence", segment="seg-media->seg-fintech")
    assert none.status == NOT_EVALUATED
    assert the(a, "segmentation-denied-blocked", segment="seg-ai->seg-media").status == (
        NOT_EVALUATED
    )


@pytest.mark.parametrize(
    ("ran", "status"),
    [
        ("2026-07-01T00:00:00Z", PASS),  # in the period
        ("2026-06-30T00:00:00Z", STALE),  # before it, next due 2026-12-30: not yet overdue
        ("2026-03-30T00:00:00Z", FAIL),  # before it, due 2026-09-29: overdue at 2026-10-01
    ],
)
def test_cadence_in_period_stale_and_overdue(
    ev: Evidence, pol: Path, ran: str, status: str
) -> None:
    ev.add(probe_run(ran, "r0", "seg-fintech", [("seg-media", "deny", "blocked")]))
    r = the(run(pol, ev.log), "segmentation-cadence", segment=PAIR)
    assert r.status == status, r.reason


def test_allowed_path_closed_fails_and_open_passes(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [("seg-mgmt", "allow", "blocked"), ("seg-mgmt", "deny", "blocked")],
        ),
        probe_run(
            "2026-08-03T03:15:00Z",
            "r2",
            "seg-media",
            [("seg-mgmt", "allow", "reachable"), ("seg-mgmt", "deny", "blocked")],
        ),
    )
    a = run(pol, ev.log)
    assert the(a, "segmentation-allowed-reachable", segment="seg-fintech->seg-mgmt").status == FAIL
    assert the(a, "segmentation-allowed-reachable", segment="seg-media->seg-mgmt").status == PASS
    # the denied ports of an allowed pair are still checked
    assert the(a, "segmentation-denied-blocked", segment="seg-media->seg-mgmt").status == PASS


def test_no_matrix_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    (pol / "isolation.yaml").unlink()
    ev.add(
        probe_run("2026-08-03T03:00:00Z", "r1", "seg-fintech", [("seg-media", "deny", "reachable")])
    )
    a = run(pol, ev.log)
    for rule in ("segmentation-cadence", "segmentation-denied-blocked"):
        rs = of(a, rule)
        assert len(rs) == 1
        assert rs[0].status == NOT_EVALUATED
        assert "no isolation matrix" in rs[0].reason


def test_unanswered_allowed_udp_is_not_evaluated_not_failed(ev: Evidence, pol: Path) -> None:
    ev.add(
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [("seg-mgmt", "allow", "inconclusive"), ("seg-mgmt", "deny", "blocked")],
        ),
        probe_run(
            "2026-08-03T03:15:00Z",
            "r2",
            "seg-media",
            [("seg-mgmt", "allow", "reachable"), ("seg-mgmt", "allow", "inconclusive")],
        ),
    )
    a = run(pol, ev.log)
    only_unsure = the(a, "segmentation-allowed-reachable", segment="seg-fintech->seg-mgmt")
    assert only_unsure.status == NOT_EVALUATED
    assert "inconclusive" in only_unsure.reason
    mixed = the(a, "segmentation-allowed-reachable", segment="seg-media->seg-mgmt")
    assert mixed.status == PASS
    assert "1 more inconclusive" in mixed.reason
