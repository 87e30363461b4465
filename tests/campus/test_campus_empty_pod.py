"""A pod that signed an empty checkpoint (ADR 0018, "Coverage of the period"): ``mirror sync``
verifies it ("up-to-date, holds 0") but the store holds no checkpoint of size 0. The campus
assessment judges such a pod as held at size 0, the empty tree, covered or behind by the rule
of every pod, its ``integrity.store`` judged as an empty log's; never synced only without the
mirror's record of that pass, or when anything contradicts it (a pod with entries must never
look covered on a state file's word alone).

Real parts only: pod workspaces (SQLite) served by ``edgeaudit serve`` processes on loopback,
auditor tokens, central workspaces on SQLite; the CLI runs in this process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.mirror.state import MirrorFiles, now
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from tests.campus.parts import REPO, ServedPods, ok_json, run, run_json, served_pods

PERIOD = ("--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z")
RUNNING = ("--from", "2026-11-01T00:00:00Z", "--to", "2099-01-01T00:00:00Z")  # not ended
POLICIES = ("--policies", str(REPO / "policies"))
EMPTY = hashlib.sha256(b"").hexdigest()
STORE_RULE = "store-integrity"  # policies/rules.yaml: check integrity.store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPods]:
    """pod-e signed an empty checkpoint (it holds nothing yet); pod-f signed 20 events of
    November. Each served by ``edgeaudit serve``, its auditor token in the env."""
    root = tmp_path_factory.mktemp("empty-pod")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        with served_pods(root, {"pod-e": 0, "pod-f": 20}, "EMPTY_POD_TOKEN", mp) as world:
            assert (world.pods["pod-e"].signed_size(), world.pods["pod-f"].signed_size()) == (0, 20)
            yield world


def _evaluate(ws: Path, period: tuple[str, ...] = PERIOD) -> dict[str, Any]:
    code, doc = run_json("-w", str(ws), "evaluate", "--campus", *period, *POLICIES)
    assert code in (0, 1), doc  # 1: a result fails
    return doc


def _state(doc: dict[str, Any], origin: str) -> str:
    pods = doc["assessment"]["coverage"]["pods"]
    return str(next(p["state"] for p in pods if p["origin"] == origin))


def _store_results(doc: dict[str, Any], origin: str) -> list[dict[str, Any]]:
    return [
        r for r in doc["results"] if r["rule"] == STORE_RULE and r["scope"].get("log") == origin
    ]


def _judged(doc: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {x["origin"]: (x["tree_size"], x["root_hash"]) for x in doc["assessment"]["logs"]}


def test_an_empty_pod_verified_after_the_period_end_is_covered(world: ServedPods) -> None:
    ws = world.central("central-covered", "pod-e", "pod-f")
    pod_e, pod_f = world.pods["pod-e"].origin, world.pods["pod-f"].origin
    state = MirrorFiles(ws, pod_e).read_state()
    assert (state["status"], state["verified_size"]) == ("up-to-date", 0), state
    doc = _evaluate(ws)
    assert _judged(doc)[pod_e] == (0, EMPTY)
    assert (_state(doc, pod_e), _state(doc, pod_f)) == ("covered", "covered")
    store = _store_results(doc, pod_e)
    assert [r["status"] for r in store] == ["pass"], store
    assert "the pod signed an empty checkpoint (size 0)" in store[0]["reason"], store
    assert state["verified_at"] in store[0]["reason"], store
    # no mirror-coverage gap of either pod, and the campus pack (no part of pod-e) verifies
    assert not [r for r in doc["results"] if r["scope"].get("subject") == "mirror-coverage"]
    pack = world.root / "central-covered-pack"
    argv = ["pack", "build", "--campus", *PERIOD, *POLICIES, "--no-pdf", "--out", str(pack)]
    ok_json("-w", str(ws), *argv)
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    assert [x["origin"] for x in manifest["logs"]] == [pod_f]
    keys = world.root / "central-covered.keys"
    vkeys = [str(ok_json("-w", str(ws), "key", "show")["verifier_key"])]
    keys.write_text("".join(f"{k}\n" for k in [*vkeys, world.pods["pod-f"].vkey()]))
    mkey = world.root / "central-covered.manifest.pub"
    ok_json("-w", str(ws), "pack", "key", "--out", str(mkey))
    code, out = run("verify", str(pack), "--keys", str(keys), "--manifest-key", str(mkey))
    assert code == 0, out
    assert out.startswith("OK"), out


def test_an_empty_pod_judged_by_the_same_rule_while_the_period_runs(world: ServedPods) -> None:
    """The horizon is the evaluation time while the period runs: verified before it, the
    empty pod is behind (its collection result not evaluated, never failing early)."""
    ws = world.central("central-running", "pod-e")
    pod_e = world.pods["pod-e"].origin
    doc = _evaluate(ws, RUNNING)
    assert _state(doc, pod_e) == "behind"
    gaps = [r for r in doc["results"] if r["scope"].get("subject") == "mirror-coverage"]
    assert [(r["scope"]["log"], r["status"]) for r in gaps] == [(pod_e, "not-evaluated")], gaps
    assert [r["status"] for r in _store_results(doc, pod_e)] == ["pass"]


def test_an_empty_pod_without_its_state_is_never_synced(world: ServedPods) -> None:
    ws = world.central("central-stateless", "pod-e")
    pod_e = world.pods["pod-e"].origin
    MirrorFiles(ws, pod_e).state_path.unlink()
    doc = _evaluate(ws)
    assert _state(doc, pod_e) == "never-synced"
    store = _store_results(doc, pod_e)
    assert [r["status"] for r in store] == ["fail"], store
    assert "never synced" in store[0]["reason"]


def _claim_empty(ws: Path, origin: str, **fields: Any) -> None:
    """The tamper: the state file says the mirror verified the pod's checkpoint at size 0,
    after the period's end."""
    MirrorFiles(ws, origin).write_state(verified_size=0, verified_at=now(), **fields)


def test_a_pod_with_entries_is_not_covered_on_a_state_claiming_size_0(world: ServedPods) -> None:
    """pod-f serves a checkpoint of 20 entries. Its mirror holds nothing of it: never synced
    (no log of it in the store), or a pass refused the entries (a wrong token: it fetched the
    checkpoint, verified its tiles and stored no entry). A state claiming a verified pass at
    size 0 makes neither covered, also with the pass's own fields rewritten to match."""
    pod_f = world.pods["pod-f"].origin
    ws = world.central("central-claim", "pod-f", sync=False)
    _claim_empty(ws, pod_f, status="up-to-date", fetched_size=0)
    doc = _evaluate(ws)
    assert _state(doc, pod_f) == "never-synced"  # no log of pod-f in the store
    assert [r["status"] for r in _store_results(doc, pod_f)] == ["fail"]

    ws = world.central("central-refused", "pod-f", sync=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(world.var("pod-f"), "not-a-token")
        code, out = run("-w", str(ws), "mirror", "sync", "--rate", "0")
    assert code != 0, out
    files = MirrorFiles(ws, pod_f)
    state = files.read_state()
    assert state["fetched_size"] == 20, state
    assert "verified_size" not in state, state
    assert files.pending() is not None  # the pod's note of 20 the pass proved tiles against
    logs = {x["origin"]: x for x in ok_json("-w", str(ws), "status")["logs"]}
    assert logs[pod_f]["entries"] == 0  # the pass made its log in the store, and stored none
    # the pass's fields as it wrote them; then rewritten to match (the pending note remains);
    # then the note removed (the fetched size remains)
    for fields in ({}, {"status": "up-to-date", "fetched_size": 0}, {"fetched_size": 20}):
        if len(fields) == 1:
            files.clear_pending()
        _claim_empty(ws, pod_f, **fields)
        doc = _evaluate(ws)
        assert _state(doc, pod_f) == "never-synced", fields
        assert [r["status"] for r in _store_results(doc, pod_f)] == ["fail"], fields
