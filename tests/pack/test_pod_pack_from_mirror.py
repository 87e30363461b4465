"""``pack build --log POD``: a pack of one pod's log, built from the central store that mirrors it.

The pod (a real workspace on its own SQLite store, with the repository's policies) records its
own assessment of the quarter; its log is copied into the central store (SQLite or PostgreSQL)
through the store's mirror API and named in a ``[[mirror]]`` table. The central workspace
builds the pack without writing into the pod's log: proven against the pod's checkpoint, the
pod's key as the pack's log key, the pod's recorded results as findings, the manifest signed by
the central manifest key. ``verify PACK --key POD --manifest-key CENTRAL`` checks it offline.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.workspace import config as cfg
from tests.cli import GOOD, GOOD_MORE, clean_env
from tests.cli.test_log_option import log_state, mirror_into
from tests.conftest import PG_URL, _admin_connect
from tests.pack.helpers import run
from tests.pack.tampering import edit_line, resign

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "evidence" / "sample-events.jsonl"  # November 2026
QUARTER = "2026Q4"
CENTRAL = "campus.example.net/central"
NORTH = "pods.example.net/north"
SOUTH = "pods.example.net/south"


def ok(*argv: str) -> str:
    code, out, err = run(*argv)
    assert code == 0, f"edgeaudit {' '.join(argv)} -> {code}\n{out}\n{err}"
    return out


@dataclass(frozen=True)
class Pods:
    north: Path  # evaluated the quarter (recorded), checkpoints before and after
    south: Path  # no assessment recorded
    findings: Path  # north's `evaluate --json` (a recorded assessment)
    results: int


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    root = tmp_path_factory.mktemp("pods")
    north, south = root / "north", root / "south"
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp)
        ok("-w", str(north), "init", "--site", "north", "--origin", NORTH)
        shutil.copytree(REPO / "policies", north / "policies")
        ok("-w", str(north), "append", str(GOOD))
        ok("-w", str(north), "checkpoint")
        ok("-w", str(north), "append", str(SAMPLE))
        code, out, err = run("-w", str(north), "evaluate", "--quarter", QUARTER, "--json")
        assert code in (0, 1), err  # the sample has planted violations
        findings = root / "north-findings.json"
        findings.write_text(out)
        ok("-w", str(north), "checkpoint")
        ok("-w", str(south), "init", "--site", "south", "--origin", SOUTH)
        ok("-w", str(south), "append", str(GOOD_MORE))
        ok("-w", str(south), "checkpoint")
        yield Pods(north, south, findings, len(json.loads(out)["results"]))


@dataclass(frozen=True)
class Central:
    ws: Path
    db_url: str
    mkey: Path  # the central manifest key (PEM)
    out: Path  # where the tests write packs

    def state(self) -> dict[str, Any]:
        return {o: log_state(cfg.load(self.ws).db_url, o) for o in (CENTRAL, NORTH, SOUTH)}


def _central(root: Path, db_url: str, pods: Pods) -> Central:
    ws = root / "central"
    ok(
        "-w",
        str(ws),
        "init",
        "--site",
        "campus",
        "--origin",
        CENTRAL,
        *(["--db", db_url] if db_url.startswith("postgresql") else []),
    )
    ok("-w", str(ws), "append", str(GOOD_MORE))
    ok("-w", str(ws), "checkpoint")
    for pod in (pods.north, pods.south):
        mirror_into(cfg.load(ws), cfg.load(pod))
    mkey = root / "central-manifest.pub"
    ok("-w", str(ws), "pack", "key", "--out", str(mkey))
    (root / "out").mkdir()
    return Central(ws, db_url, mkey, root / "out")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def central(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pods: Pods
) -> Iterator[Central]:
    root = tmp_path_factory.mktemp("central")
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp)
        if request.param == "sqlite":
            yield _central(root, "sqlite", pods)
            return
        request.getfixturevalue("pg_server")
        name = f"edgeaudit_t_{uuid.uuid4().hex[:12]}"
        admin: Any = _admin_connect()
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
            yield _central(root, url, pods)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def key(pod: Path) -> str:
    return cfg.load(pod).verifier_key


def verify(central: Central, pack: Path, vkey: str, *extra: str) -> tuple[int, str]:
    code, out, err = run(
        "verify", str(pack), "--key", vkey, "--manifest-key", str(central.mkey), *extra
    )
    return code, out + err


@pytest.fixture(scope="module")
def pod_pack(central: Central, pods: Pods) -> Path:
    before = central.state()
    out = central.out / "north"
    text = ok(
        "-w", str(central.ws), "pack", "build", "--log", NORTH, "--quarter", QUARTER,
        "--no-pdf", "--out", str(out),
    )  # fmt: skip
    assert f"wrote pack for the pod {NORTH}, {QUARTER}" in text
    assert central.state() == before  # nothing written into any log, the pod's least of all
    return out


def test_a_pod_pack_verifies_offline_with_the_pods_key(
    central: Central, pods: Pods, pod_pack: Path
) -> None:
    manifest = json.loads((pod_pack / "manifest.json").read_text())
    held = log_state(cfg.load(central.ws).db_url, NORTH)
    assert manifest["origin"] == NORTH
    assert manifest["site"] == "north"
    assert manifest["verifier_key"] == key(pods.north)
    assert manifest["checkpoint"]["tree_size"] == held[0]
    assert (pod_pack / "checkpoint").read_text() == held[1][-1]  # the pod's own note
    assert manifest["findings"] == pods.results
    assert (pod_pack / "consistency.jsonl").is_file()  # from the pod's earlier checkpoints
    code, out = verify(central, pod_pack, key(pods.north))
    assert code == 0, out
    assert f"{pods.results} results cite only proven entries and equal their proven" in out
    # the pack's log key is the pod's: the central key, another pod's key fail
    assert verify(central, pod_pack, cfg.load(central.ws).verifier_key)[0] == 1
    assert verify(central, pod_pack, key(pods.south))[0] == 1
    # the next pod pack proves it extends this one (kept checkpoint, per origin)
    code, out = verify(
        central, pod_pack, key(pods.north), "--trusted-checkpoint", str(pod_pack / "checkpoint")
    )
    assert code == 0, out


def test_tampering_a_pod_packs_evidence_fails(central: Central, pod_pack: Path) -> None:
    pack = central.out / f"tampered-{uuid.uuid4().hex[:6]}"
    shutil.copytree(pod_pack, pack)
    north_key = json.loads((pack / "manifest.json").read_text())["verifier_key"]

    def change(rec: dict[str, Any]) -> None:
        import base64

        body = json.loads(base64.b64decode(rec["entry"]))
        body["outcome"] = "granted" if body.get("outcome") != "granted" else "denied"
        from edgeaudit.canonical import canonical_json

        rec["entry"] = base64.b64encode(canonical_json(body)).decode()

    edit_line(pack / "evidence.jsonl", 2, change)
    code, out = verify(central, pack, north_key)
    assert code == 1, out
    assert "evidence.jsonl" in out
    # the insider holding the central manifest key re-signs: the entry no longer hashes to
    # its leaf, nor is the leaf in the pod's signed tree
    resign(SimpleNamespace(ws=central.ws), pack)  # type: ignore[arg-type]
    code, out = verify(central, pack, north_key)
    assert code == 1, out
    # ... nor can the insider turn the pod's failing result into a pass
    pack2 = central.out / f"tampered-{uuid.uuid4().hex[:6]}"
    shutil.copytree(pod_pack, pack2)
    doc = json.loads((pack2 / "findings.json").read_text())
    r = next(r for r in doc["results"] if r["status"] == "fail")
    r["status"] = "pass"
    from edgeaudit.canonical import canonical_json

    (pack2 / "findings.json").write_bytes(canonical_json(doc))
    resign(SimpleNamespace(ws=central.ws), pack2)  # type: ignore[arg-type]
    code, out = verify(central, pack2, north_key)
    assert code == 1, out
    assert "status is 'pass', the log recorded 'fail'" in out


def test_findings_file_checkpoint_file_and_tenant(central: Central, pods: Pods) -> None:
    note = central.out / "north.note"
    ok("-w", str(pods.north), "checkpoint", "show", "--out", str(note))
    out = central.out / f"given-{uuid.uuid4().hex[:6]}.zip"
    ok(
        "-w", str(central.ws), "pack", "build", "--log", NORTH, "--quarter", QUARTER,
        "--findings", str(pods.findings), "--checkpoint", str(note), "--no-pdf",
        "--out", str(out),
    )  # fmt: skip
    code, text = verify(central, out, key(pods.north))
    assert code == 0, text
    # a tenant's pack of the pod, with the pod's inventory
    tenant = central.out / f"tenant-{uuid.uuid4().hex[:6]}"
    ok(
        "-w", str(central.ws), "pack", "build", "--log", NORTH, "--quarter", QUARTER,
        "--tenant", "fintech-a", "--inventory", str(pods.north / "policies" / "inventory.yaml"),
        "--no-pdf", "--out", str(tenant),
    )  # fmt: skip
    code, text = verify(central, tenant, key(pods.north))
    assert code == 0, text
    assert "tenant fintech-a pack" in text


def test_what_a_pod_pack_refuses(central: Central, pods: Pods) -> None:
    before = central.state()
    ws = str(central.ws)
    # a checkpoint the pod's key did not sign (south's note for north's log)
    note = central.out / "south.note"
    ok("-w", str(pods.south), "checkpoint", "show", "--out", str(note))
    never = central.out / "never"
    code, _, err = run(
        "-w", ws, "pack", "build", "--log", NORTH, "--quarter", QUARTER, "--checkpoint",
        str(note), "--no-pdf", "--out", str(never),
    )  # fmt: skip
    assert code == 2, err
    assert "--checkpoint: the checkpoint does not verify with the log's public key" in err
    # a pod that recorded no assessment of the period
    code, _, err = run(
        "-w", ws, "pack", "build", "--log", SOUTH, "--quarter", QUARTER, "--no-pdf",
        "--out", str(never),
    )  # fmt: skip
    assert code == 2, err
    assert f"log {SOUTH} holds no recorded site assessment of {QUARTER}" in err
    # --findings naming an assessment the pod did not record in its log
    doc = json.loads(pods.findings.read_text())
    doc["assessment"]["id"] = "A-not-recorded"
    other = central.out / "other-findings.json"
    other.write_text(json.dumps(doc))
    code, _, err = run(
        "-w", ws, "pack", "build", "--log", NORTH, "--quarter", QUARTER, "--findings",
        str(other), "--no-pdf", "--out", str(never),
    )  # fmt: skip
    assert code == 2, err
    assert "is not recorded in the log" in err
    assert not never.exists()
    assert central.state() == before


def test_evaluate_judges_a_pods_log_only_without_recording(central: Central, pods: Pods) -> None:
    before = central.state()
    ws, policies = str(central.ws), str(REPO / "policies")
    argv = ["-w", ws, "evaluate", "--log", NORTH, "--quarter", QUARTER, "--policies", policies]
    code, _, err = run(*argv)
    assert code == 2, err
    assert "so `evaluate` without `--no-record` refuses it" in err
    code, out, err = run(*argv, "--no-record", "--json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["assessment"]["tree_size"] == before[NORTH][0]  # at the pod's held checkpoint
    assert "recorded" not in doc
    assert central.state() == before
