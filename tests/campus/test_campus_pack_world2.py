"""A second, independent campus for the campus pack (ADR 0018, "Tests"): other pod names
(``edge.example.org/harbour``, ``quay``, ``dock``), a central log of its own origin and key on
SQLite, the pods' logs copied into it through the store API a mirror sync uses (no service:
this world checks the pack, not the transfer), and a pod never synced. A mirrored entry whose
bytes were altered in the central store is refused by ``pack build --campus``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import append_mirror, make_source
from tests.campus.parts import ok_json, run
from tests.verify.tamper import attacker, set_body

PODS = ("harbour", "quay", "dock")
CENTRAL = "edge.example.org/office"
PERIOD = ("--from", "2026-10-20T00:00:00Z", "--to", "2026-11-01T00:00:00Z")


@dataclass(frozen=True)
class World:
    central: Path
    keys: Path
    mkey: Path


def _workspace(root: Path, origin: str, events: int) -> Path:
    ws = root / origin.rsplit("/", 1)[1]
    ok_json("-w", str(ws), "init", "--site", ws.name, "--origin", origin)
    lines = root / f"{ws.name}.jsonl"
    with lines.open("w") as f:
        for i in range(events):
            day = 24 + i % 7
            f.write(
                json.dumps(
                    {
                        "time": f"2026-10-{day:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                        "kind": "session.start",
                        "user": f"{ws.name}-u{i % 5}",
                        "n": i,
                    }
                )
                + "\n"
            )
    code, out = run("-w", str(ws), "append", str(lines))
    assert code == 0, out
    ok_json("-w", str(ws), "checkpoint")
    return ws


def _mirror(central: Path, pod: Path) -> str:
    """Copy the pod's log into the central store with its signed checkpoint held, and list it
    as a [[mirror]] (as `mirror add` + `mirror sync` leave it); the pod's verifier key."""
    pc, cc = cfg.load(pod), cfg.load(central)
    with Store.open(pc.db_url) as ps, Store.open(cc.db_url) as cs:
        log = ps.log(pc.origin)
        cp = log.latest_checkpoint()
        assert cp is not None
        mirror = cs.mirror(pc.origin, create=True)
        with log.reader() as reader:
            mirror.extend(0, reader.entry_bodies(0, cp.tree_size))
        mirror.hold_checkpoint(cp.tree_size, cp.root_hash, cp.note)
    append_mirror(cc, make_source(f"http://127.0.0.1:9/{pod.name}", pc.verifier_key, None, "t"))
    return pc.verifier_key


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("campus-world2")
    central = _workspace(root, CENTRAL, 12)
    keys = [str(ok_json("-w", str(central), "key", "show")["verifier_key"])]
    for k, name in enumerate(PODS):
        keys.append(_mirror(central, _workspace(root, f"edge.example.org/{name}", 30 + 7 * k)))
    # a pod added but never synced: listed, no part
    never = "edge.example.org/pier"
    vkey = ok_json("-w", str(_workspace(root, never, 3)), "key", "show")["verifier_key"]
    append_mirror(cfg.load(central), make_source("http://127.0.0.1:9/pier", vkey, None, "t"))
    path = root / "campus.keys"
    path.write_text("".join(f"{k}\n" for k in keys))
    mkey = root / "manifest.pub"
    ok_json("-w", str(central), "pack", "key", "--out", str(mkey))
    return World(central, path, mkey)


def test_the_second_world_packs_and_verifies(world: World, tmp_path: Path) -> None:
    out = tmp_path / "campus.zip"
    data = ok_json(
        "-w", str(world.central), "pack", "build", "--campus", *PERIOD, "--no-pdf",
        "--out", str(out),
    )  # fmt: skip
    assert [p["origin"] for p in data["parts"]] == sorted(f"edge.example.org/{n}" for n in PODS)
    assert [p["entries"] for p in data["parts"]] == [44, 30, 37]  # dock, harbour, quay
    assert data["unsynced"] == ["edge.example.org/pier"]
    code, text = run(
        "verify", str(out), "--keys", str(world.keys), "--manifest-key", str(world.mkey)
    )
    assert code == 0, text
    assert "p3 edge.example.org/quay: checkpoint of size 37 signed by its key" in text


def test_an_altered_mirrored_entry_is_refused(world: World, tmp_path: Path) -> None:
    config = cfg.load(world.central)
    with Store.open(config.db_url) as store:
        log = store.log("edge.example.org/harbour")
        with log.reader() as reader:
            index, body, _leaf, _chain = next(reader.iter_entries(5))
        with attacker(store) as conn:
            set_body(conn, log.log_id, index, bytes(body).replace(b'"n":5', b'"n":6'))
    try:
        code, text = run(
            "-w", str(world.central), "pack", "build", "--campus", *PERIOD, "--no-pdf",
            "--out", str(tmp_path / "refused"),
        )  # fmt: skip
        assert code == 1, text
        assert f"entry {index}: its bytes hash to" in text
        assert not (tmp_path / "refused" / pf.MANIFEST).exists()
    finally:
        with Store.open(config.db_url) as store, attacker(store) as conn:
            set_body(conn, store.log("edge.example.org/harbour").log_id, index, bytes(body))
