"""A recorded assessment is read back for the same snapshot, and refused once evidence moved."""

from __future__ import annotations

from pathlib import Path

from edgeaudit.policy.files import load_policies
from edgeaudit.policy.record import record
from edgeaudit.policy.recorded import latest_for_snapshot
from tests.policy.helpers import END, START, Evidence, key_use, logon, run


def test_the_latest_recorded_assessment_is_reused_until_evidence_moves(
    ev: Evidence, pol: Path
) -> None:
    log = ev.log
    ev.add(
        logon("2026-08-03T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"),
        key_use("2026-08-03T10:00:00Z", "svc-media-b", "fintech-a-data"),
    )
    catalogue = load_policies(pol).catalogue
    assert latest_for_snapshot(log, START, END, None, catalogue) is None

    first = run(pol, log)
    record(first, log)
    reused = latest_for_snapshot(log, START, END, None, catalogue)
    assert reused is not None
    assert reused["assessment"]["id"] == first.id  # only its own results came after it
    second = run(pol, log)  # judges the first's results too: a later snapshot
    record(second, log)
    doc = latest_for_snapshot(log, START, END, None, catalogue)
    assert doc is not None
    assert doc["assessment"]["id"] == second.id
    assert doc["assessment"]["reused"] is True
    assert doc["results"] == [r.to_dict() for r in second.results]
    assert doc["controls"] == [c.to_dict() for c in second.controls]
    # another tenant's view or another period is not this assessment
    assert latest_for_snapshot(log, START, END, "fintech-a", catalogue) is None
    assert latest_for_snapshot(log, START, "2026-12-01T00:00:00Z", None, catalogue) is None

    ev.add(logon("2026-08-04T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"))
    assert latest_for_snapshot(log, START, END, None, catalogue) is None
