"""Recorded campus assessments (ADR 0018) in the central log: a single-log lookup never reuses
one, a campus lookup reuses only one, and only while every pod is still at the held checkpoint
its ``logs`` name."""

from __future__ import annotations

from pathlib import Path

from edgeaudit.events import prepare
from edgeaudit.policy.files import Policies, load_policies
from edgeaudit.policy.model import PASS, Assessment, EvidenceRef, Result, Scope
from edgeaudit.policy.record import record
from edgeaudit.policy.recorded import latest_for_snapshot
from edgeaudit.store import Store
from edgeaudit.store.log import EvidenceLog
from tests.policy.helpers import END, POLICIES, START

CENTRAL = "edge.example.org/campus-office"
QUAY = "edge.example.org/quay"
DOCK = "edge.example.org/dock"


def _assessment(
    policies: Policies, size: int, logs: tuple[tuple[str, int, str], ...]
) -> Assessment:
    origin = CENTRAL if logs else None
    result = Result(
        "R-0123456789abcdef",
        "some-rule",
        "title",
        PASS,
        "low",
        (),
        Scope(subject="x"),
        "ok",
        (EvidenceRef(0, "00" * 32, origin),),
    )
    return Assessment(
        f"a-{len(logs)}-{size}",
        START,
        END,
        None,
        tuple(policies.catalogue.framework_ids),
        size,
        "2026-10-02T00:00:00Z",
        policies.digest,
        (result,),
        logs=logs,
    )


def _lookup(
    log: EvidenceLog, policies: Policies, campus: dict[str, tuple[int, str]] | None
) -> object:
    doc = latest_for_snapshot(
        log, START, END, None, policies.catalogue, policy_digest=policies.digest, campus=campus
    )
    return None if doc is None else doc["assessment"]["id"]


def test_campus_and_single_log_records_are_told_apart(tmp_path: Path) -> None:
    policies = load_policies(POLICIES)
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        log = store.log(CENTRAL, create=True)
        log.append([prepare({"time": "2026-08-01T00:00:00Z", "kind": "note", "n": 1})])
        pods = {QUAY: (7, "aa" * 32), DOCK: (0, "bb" * 32)}
        logs = ((CENTRAL, 1, "cc" * 32), (DOCK, 0, "bb" * 32), (QUAY, 7, "aa" * 32))
        record(_assessment(policies, 1, logs), log)
        # the campus assessment is the latest: a single-log lookup does not take it
        assert _lookup(log, policies, None) is None
        assert _lookup(log, policies, pods) == "a-3-1"
        doc = latest_for_snapshot(
            log, START, END, None, policies.catalogue, policy_digest=policies.digest, campus=pods
        )
        assert doc is not None
        assert doc["assessment"]["logs"][2] == {
            "origin": QUAY,
            "tree_size": 7,
            "root_hash": "aa" * 32,
        }
        assert doc["results"][0]["evidence"][0]["origin"] == CENTRAL
        # a pod moved on, was dropped, or another was added: not current
        assert _lookup(log, policies, {QUAY: (8, "dd" * 32), DOCK: (0, "bb" * 32)}) is None
        assert _lookup(log, policies, {QUAY: (7, "aa" * 32)}) is None
        assert _lookup(log, policies, {**pods, "edge.example.org/pier": (0, "ee" * 32)}) is None
        # a single-log assessment recorded after it: each lookup finds its own kind
        size = log.size
        record(_assessment(policies, size, ()), log)
        assert _lookup(log, policies, None) == f"a-0-{size}"
        # the campus one is no longer current (evidence, the single-log records, came after)
        assert _lookup(log, policies, pods) is None
