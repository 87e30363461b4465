"""The campus flow of a central workspace that only mirrors pods (README, "Campus: mirrors and
witnesses"): ``init``, ``mirror add``, ``mirror sync``, ``evaluate --campus``, ``pack build
--campus``, ``verify PACK``. Such a workspace holds no entry of its own when it is first
evaluated, so the assessment judges the central log as the empty tree and is recorded in it
afterwards; the pack's central part then carries those records only, and must verify.

The tamper the verifier's rule exists for is still refused: a pod the pack has a part of judged
as the empty tree, and the central log judged so while its part carries an entry that is not a
record of the results (an insider re-signing the manifest with the central manifest key).

Real parts only: pod workspaces (SQLite) served by ``edgeaudit serve`` processes on loopback,
auditor tokens, central workspaces on SQLite; the CLI runs in this process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key
from tests.campus.parts import REPO, ServedPods, ok_json, served_pods
from tests.pack.helpers import run

PERIOD = ("--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z")
POLICIES = ("--policies", str(REPO / "policies"))
EMPTY = hashlib.sha256(b"").hexdigest()
CENTRAL = "edgeaudit.local/central"  # what `init` names a workspace's log by default


@dataclass(frozen=True)
class Central:
    ws: Path
    keys: Path  # the auditor's --keys file: the central log's key and each pod's
    mkey: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPods]:
    """pod-a and pod-b with events of November, signed; pod-z signed an empty checkpoint (it
    holds nothing yet). Each served by ``edgeaudit serve``; its auditor token in the env."""
    root = tmp_path_factory.mktemp("fresh-central")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        sizes = {"pod-a": 20, "pod-b": 20, "pod-z": 0}
        with served_pods(root, sizes, "FRESH_TOKEN", mp) as world:
            assert world.pods["pod-z"].signed_size() == 0
            yield world


def _central(world: ServedPods, name: str, *pods: str) -> Central:
    """A central workspace (SQLite) that mirrors ``pods``, added and synced once, with the
    auditor's --keys file and the manifest key."""
    ws = world.central(name, *pods)
    keys = ws.parent / f"{name}.keys"
    vkeys = [str(ok_json("-w", str(ws), "key", "show")["verifier_key"])]
    vkeys += [world.pods[pod].vkey() for pod in pods]
    keys.write_text("".join(f"{k}\n" for k in vkeys))
    mkey = ws.parent / f"{name}.manifest.pub"
    ok_json("-w", str(ws), "pack", "key", "--out", str(mkey))
    return Central(ws, keys, mkey)


def _evaluate(c: Central) -> dict[str, Any]:
    code, out, err = run("--json", "-w", str(c.ws), "evaluate", "--campus", *PERIOD, *POLICIES)
    assert code in (0, 1), (out, err)  # 1: a result fails
    return dict(json.loads(out))


def _build(c: Central, out: Path, *extra: str) -> dict[str, Any]:
    argv = ["pack", "build", "--campus", *PERIOD, *POLICIES, "--no-pdf", "--out", str(out)]
    return ok_json("-w", str(c.ws), *argv, *extra)


def _verify(c: Central, pack: Path) -> tuple[int, str]:
    code, out, err = run("verify", str(pack), "--keys", str(c.keys), "--manifest-key", str(c.mkey))
    return code, out + err


def _judged(doc: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {x["origin"]: (x["tree_size"], x["root_hash"]) for x in doc["assessment"]["logs"]}


def _findings(pack: Path) -> dict[str, Any]:
    return dict(json.loads((pack / pf.FINDINGS_JSON).read_text()))


def _edit(pack: Path, change: Any) -> None:
    doc = _findings(pack)
    change(doc)
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))


def _resign(c: Central, pack: Path) -> None:
    """The insider: every file listed again with its hash, the manifest re-signed with the
    central manifest key (no log key)."""
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    names = sorted(p.name for p in pack.iterdir() if p.name not in pf.SIGNATURE_FILES)
    with manifest_signing_key(cfg.load(c.ws)) as (private, public):
        payload = manifest_bytes(header, list_files(pack, names), public)
        (pack / pf.MANIFEST).write_bytes(payload)
        (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))


@dataclass(frozen=True)
class Fresh:
    central: Central
    evaluated: dict[str, Any]  # evaluate --campus --json
    pack: Path


@pytest.fixture(scope="module")
def fresh(world: ServedPods) -> Fresh:
    """The brief's flow: a central workspace mirroring pod-a and pod-b, evaluated and packed."""
    c = _central(world, "central", "pod-a", "pod-b")
    status = ok_json("-w", str(c.ws), "status")
    own = next(x for x in status["logs"] if x["role"] == "own")
    assert (own["entries"], own["latest_checkpoint"]) == (0, None), status
    evaluated = _evaluate(c)
    pack = world.root / "central-pack"
    built = _build(c, pack)
    assert built["tree_size"] > 0  # the central part: the assessment's records, recorded after
    return Fresh(c, evaluated, pack)


def test_the_campus_pack_of_a_fresh_central_workspace_verifies(
    world: ServedPods, fresh: Fresh
) -> None:
    header = fresh.evaluated["assessment"]
    assert header["tree_size"] == 0
    assert _judged(fresh.evaluated)[CENTRAL] == (0, EMPTY)
    assert [p["state"] for p in header["coverage"]["pods"]] == ["covered", "covered"]
    carried = _findings(fresh.pack)
    assert carried["assessment"]["id"] == header["id"]  # the recorded assessment, reused
    code, out = _verify(fresh.central, fresh.pack)
    assert code == 0, out
    assert out.startswith("OK"), out
    origins = [world.pods[p].origin for p in ("pod-a", "pod-b")]
    manifest = json.loads((fresh.pack / pf.MANIFEST).read_text())
    assert [x["origin"] for x in manifest["logs"]] == origins


def test_a_pod_with_a_part_judged_as_the_empty_tree_is_still_refused(
    world: ServedPods, fresh: Fresh, tmp_path: Path
) -> None:
    origin = world.pods["pod-a"].origin
    pack = Path(shutil.copytree(fresh.pack, tmp_path / "pack"))

    def emptied(doc: dict[str, Any]) -> None:
        item = next(x for x in doc["assessment"]["logs"] if x["origin"] == origin)
        item.update(tree_size=0, root_hash=EMPTY)

    _edit(pack, emptied)
    _resign(fresh.central, pack)
    code, out = _verify(fresh.central, pack)
    assert code == 1, out
    assert f"judged {origin} as the empty tree, but the pack has its part p1.checkpoint" in out


def test_the_central_log_judged_empty_beside_an_entry_no_record_binds_is_refused(
    world: ServedPods, tmp_path: Path
) -> None:
    """A central log with an event of the period of its own (media-b's) is judged at its size;
    an insider who says the assessment judged it as the empty tree is refused: the part carries
    the event, which the assessment would then neither have judged nor bind. A tenant pack
    (media-b sees the event and 30 results): its records also refuse the edited header, in
    fewer problems than the report keeps, so this rule's own problem is asserted."""
    c = _central(world, "central-own", "pod-a", "pod-b")
    event = tmp_path / "central.jsonl"
    line = {"time": "2026-11-05T09:00:00Z", "kind": "auth.logon", "user": "c0", "tenant": "media-b"}
    event.write_text(json.dumps(line) + "\n")
    assert run("-w", str(c.ws), "append", str(event))[0] == 0
    evaluated = _evaluate(c)
    assert _judged(evaluated)[CENTRAL][0] >= 1
    pack = tmp_path / "pack"
    _build(c, pack, "--tenant", "media-b", "--inventory", str(REPO / "policies" / "inventory.yaml"))
    code, out = _verify(c, pack)
    assert code == 0, out

    def emptied(doc: dict[str, Any]) -> None:
        item = next(x for x in doc["assessment"]["logs"] if x["origin"] == CENTRAL)
        item.update(tree_size=0, root_hash=EMPTY)
        doc["assessment"].update(tree_size=0, checkpoint={"tree_size": 0, "root_hash": EMPTY})

    _edit(pack, emptied)
    _resign(c, pack)
    code, out = _verify(c, pack)
    assert code == 1, out
    assert f"judged the central log {CENTRAL} as the empty tree, but its part checkpoint" in out, (
        out
    )
    assert "carries entries that are not records of the results (1 of " in out, out


def test_a_pod_that_signed_an_empty_checkpoint(world: ServedPods, tmp_path: Path) -> None:
    """pod-z signed a checkpoint of size 0: the mirror is up to date with it and holds none of
    its log; the assessment judges it as held at size 0, the empty tree, covered (the mirror
    verified it after the period's end; before, it was judged never synced and its store
    integrity failed), the pack has no part of it (nothing can be proven of an empty tree) and
    verifies, with the assessment of ``evaluate`` (the central log judged as the empty tree
    too) and with the one ``pack build`` makes."""
    c = _central(world, "central-z", "pod-a", "pod-z")
    pod_z = world.pods["pod-z"].origin
    evaluated = _evaluate(c)
    assert _judged(evaluated)[pod_z] == (0, EMPTY)
    assert _judged(evaluated)[CENTRAL] == (0, EMPTY)
    states = {p["origin"]: p["state"] for p in evaluated["assessment"]["coverage"]["pods"]}
    assert states == {world.pods["pod-a"].origin: "covered", pod_z: "covered"}
    store = [r for r in evaluated["results"] if r["rule"] == "store-integrity"]
    assert [r["status"] for r in store if r["scope"]["log"] == pod_z] == ["pass"], store
    findings = tmp_path / "campus-findings.json"
    findings.write_text(json.dumps(evaluated))
    for name, extra in (("given", ("--findings", str(findings))), ("built", ())):
        pack = tmp_path / name
        _build(c, pack, *extra)
        manifest = json.loads((pack / pf.MANIFEST).read_text())
        assert [x["origin"] for x in manifest["logs"]] == [world.pods["pod-a"].origin], name
        assert _judged(_findings(pack))[pod_z] == (0, EMPTY), name
        code, out = _verify(c, pack)
        assert code == 0, (name, out)
        assert out.startswith("OK"), (name, out)
