"""A recorded assessment is read back for the same snapshot, and refused once evidence moved."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import ENGINE
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
    policies = load_policies(pol)
    catalogue, digest = policies.catalogue, policies.digest
    mapped = {ref for rule in policies.rules.rules for ref in rule.controls}

    def latest_for(start: str, end: str, tenant: str | None) -> dict[str, Any] | None:
        return latest_for_snapshot(
            log, start, end, tenant, catalogue, policy_digest=digest, mapped=mapped
        )

    assert latest_for(START, END, None) is None

    first = run(pol, log)
    record(first, log)
    reused = latest_for(START, END, None)
    assert reused is not None
    assert reused["assessment"]["id"] == first.id  # only its own results came after it
    second = run(pol, log)  # judges the first's results too: a later snapshot
    record(second, log)
    doc = latest_for(START, END, None)
    assert doc is not None
    assert doc["assessment"]["id"] == second.id
    assert doc["assessment"]["reused"] is True
    assert doc["results"] == [r.to_dict() for r in second.results]
    assert doc["controls"] == [c.to_dict() for c in second.controls]
    # another tenant's view or another period is not this assessment
    assert latest_for(START, END, "fintech-a") is None
    assert latest_for(START, "2026-12-01T00:00:00Z", None) is None

    ev.add(logon("2026-08-04T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"))
    assert latest_for(START, END, None) is None


def test_an_assessment_of_another_engine_or_other_policy_files_is_not_reused(
    ev: Evidence, pol: Path
) -> None:
    log = ev.log
    ev.add(logon("2026-08-03T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"))
    policies = load_policies(pol)
    a = run(policies, log)
    assert a.engine == ENGINE
    assert (
        dict(a.policy_files)["rules.yaml"]
        == hashlib.sha256((pol / "rules.yaml").read_bytes()).hexdigest()
    )
    # recorded by an engine whose statuses meant something else
    old = dataclasses.replace(a, engine="edgeaudit-policy/1")
    record(old, log)
    assert (
        latest_for_snapshot(
            log, START, END, None, policies.catalogue, policy_digest=a.policy_digest
        )
        is None
    )
    fresh = run(policies, log)
    record(fresh, log)
    doc = latest_for_snapshot(
        log, START, END, None, policies.catalogue, policy_digest=fresh.policy_digest
    )
    assert doc is not None
    assert doc["assessment"]["engine"] == ENGINE
    assert doc["assessment"]["policy_files"] == dict(fresh.policy_files)
    # the same snapshot judged by other policy files: not reused
    assert (
        latest_for_snapshot(log, START, END, None, policies.catalogue, policy_digest="0" * 64)
        is None
    )
