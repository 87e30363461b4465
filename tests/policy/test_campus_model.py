"""The data model of campus assessments (ADR 0018) leaves single-log assessments as they were:
evidence references without an origin, result ids of scopes without ``log``, documents and
records without ``logs``, byte for byte (a digest of a demo evaluation taken before the change).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

from edgeaudit.cli.main import main
from edgeaudit.demo import generate_campus
from edgeaudit.policy.context import Ev
from edgeaudit.policy.engine import evaluate
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import (
    PASS,
    SCOPE_KEYS,
    Assessment,
    EvidenceRef,
    Outcome,
    Result,
    Scope,
    result_id,
)
from edgeaudit.policy.record import records
from edgeaudit.policy.registry import registry
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg

REPO = Path(__file__).resolve().parents[2]

# result ids computed by the engine before ``Scope.log`` existed (commit d7c5817)
IDS_BEFORE = (
    ("leavers.no_activity", Scope(principal="p-x"), "R-6b0be971af326b09"),
    ("integrity.store", Scope(subject="evidence-store"), "R-2f81fcec175301f6"),
    (
        "access.x",
        Scope(
            tenant="t1",
            asset="a1",
            principal="p1",
            segment="s",
            key="k",
            activity="act",
            subject="sub",
        ),
        "R-fdc3cdb87e5fee9a",
    ),
    ("r", Scope(), "R-96229c0a1dcb79d7"),
)

# sha256 of the normalised document and records of the demo evaluation below, as the engine
# of commit d7c5817 (before campus assessments) made them. A change here means single-log
# output changed: if the demo generator, policies/ or a check changed on purpose, recompute it
# with this test's _digest at that commit and at the new one and compare.
DEMO_DIGEST = "a910103df96870e506cd04068b68cadd522b1102990993690950ee7aa54f61b4"


def test_result_ids_of_scopes_without_log_are_unchanged() -> None:
    for rule, scope, rid in IDS_BEFORE:
        assert result_id(rule, scope) == rid
    assert SCOPE_KEYS[-1] == "log"
    with_log = Scope(subject="evidence-store", log="edge.example.org/harbour")
    assert result_id("integrity.store", with_log) != "R-2f81fcec175301f6"
    assert list(with_log.to_dict()) == ["subject", "log"]
    assert with_log.text() == "subject=evidence-store, log=edge.example.org/harbour"


def test_evidence_ref_json_has_origin_only_when_set() -> None:
    plain = EvidenceRef(7, "ab")
    assert plain.to_dict() == {"index": 7, "leaf_hash": "ab"}
    assert plain.text() == "7"
    campus = EvidenceRef(7, "ab", "edge.example.org/quay")
    assert campus.to_dict() == {"index": 7, "leaf_hash": "ab", "origin": "edge.example.org/quay"}
    assert campus.text() == "edge.example.org/quay#7"
    assert plain != campus
    ev = Ev(3, "cd", 0.0, {"kind": "auth.logon"})
    assert ev.origin is None
    assert ev.ref == EvidenceRef(3, "cd")
    assert ev.key == ("", 3)
    ev2 = Ev(3, "cd", 0.0, {"kind": "auth.logon"}, "edge.example.org/dock")
    assert ev2.ref.origin == "edge.example.org/dock"
    assert ev2.key == ("edge.example.org/dock", 3)


def test_citations_sort_by_log_then_index() -> None:
    a, b = "edge.example.org/dock", "edge.example.org/harbour"
    o = Outcome(
        Scope(principal="p"),
        PASS,
        "x",
        (
            EvidenceRef(5, "e", b),
            EvidenceRef(9, "f", a),
            EvidenceRef(1, "g", b),
            EvidenceRef(9, "f", a),
        ),
    )
    assert [(e.origin, e.index) for e in o.evidence] == [(a, 9), (b, 1), (b, 5)]
    single = Outcome(Scope(), PASS, "x", (EvidenceRef(5, "e"), EvidenceRef(1, "g")))
    assert [e.index for e in single.evidence] == [1, 5]


def _assessment(logs: tuple[tuple[str, int, str], ...]) -> Assessment:
    r = Result("R-1", "x.rule", "t", PASS, "low", (), Scope(), "ok", (EvidenceRef(1, "aa", "o/c"),))
    return Assessment(
        "A",
        "2026-07-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
        None,
        (),
        4,
        "now",
        "d",
        (r,),
        logs=logs,
    )


def test_logs_header_member_only_in_a_campus_assessment() -> None:
    single = _assessment(())
    assert "logs" not in single.to_dict()["assessment"]
    assert "logs" not in records(single)[0]["assessment"]
    logs = (("o/a", 3, "11" * 32), ("o/c", 4, "22" * 32))
    campus = _assessment(logs)
    want = [
        {"origin": "o/a", "tree_size": 3, "root_hash": "11" * 32},
        {"origin": "o/c", "tree_size": 4, "root_hash": "22" * 32},
    ]
    assert campus.to_dict()["assessment"]["logs"] == want
    rec = records(campus)[0]
    assert rec["assessment"]["logs"] == want
    assert rec["result"]["evidence"] == [{"index": 1, "leaf_hash": "aa", "origin": "o/c"}]


def test_per_log_checks_are_the_store_reading_ones() -> None:
    per_log = {name for name, spec in registry().items() if spec.per_log}
    assert per_log == {
        "integrity.store",
        "integrity.completeness",
        "integrity.forged_identity",
        "retention.horizon",
    }


def _digest(root: Path) -> str:
    """Digest of a demo evaluation (fixed period and time; assessment id normalised)."""
    ws = root / "ws"

    def run(*argv: str) -> int:
        with contextlib.redirect_stdout(io.StringIO()):
            return main(list(argv))

    assert (
        run(
            "--workspace", str(ws), "init", "--site", "golden-pod", "--origin", "golden.example/pod"
        )
        == 0
    )
    manifest = generate_campus(ws / "campus", 1500, seed=5, clean=False)
    assert run("--workspace", str(ws), "demo", "collect", "--out", str(ws / "campus")) == 0
    for a in manifest["appends"]:
        assert run("--workspace", str(ws), "append", str(ws / "campus" / a["path"])) == 0
    config = cfg.load(ws)
    policies = load_policies(REPO / "policies")
    with Store.open(config.db_url) as store:
        a = evaluate(
            policies,
            store.log(config.origin),
            start="2026-07-01T00:00:00Z",
            end="2026-10-01T00:00:00Z",
            now="2026-10-02T00:00:00Z",
        )
    doc, recs = a.to_dict(), records(a)
    doc["assessment"]["id"] = "X"
    for r in recs:
        r["assessment"]["id"] = "X"
    blob = json.dumps({"doc": doc, "records": recs}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def test_single_log_evaluation_bytes_unchanged(tmp_path: Path) -> None:
    assert _digest(tmp_path) == DEMO_DIGEST
