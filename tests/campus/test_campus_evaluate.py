"""``edgeaudit evaluate --campus`` (ADR 0018) over a second campus, all real parts on loopback.

Names unlike the demo's and the other campus tests': pods ``edge.example.org/harbour``, ``quay``
and ``dock`` (SQLite workspaces, each served by ``edgeaudit serve``), a ``pier`` mirrored but
never synced, and a central office judging by the second operating model
(``tests/policy/second_model``: Europe/Berlin, 2026Q4 across the October DST change). Two
central workspaces mirror the same pods, one on SQLite and one on PostgreSQL; each is judged.

The world: harbour holds a forged-identity record in its quarantine and recorded its own
assessment; the leaver ``mia.k`` logs on at harbour and at quay; dock's history is rewritten
with its own key after the mirror saw it (the mirror keeps the fork proof); quay grows after
the sync, and the new entries (the leaver ``noor.e`` logging on) are stored in the mirror
without their checkpoint being held, as by a pass cut between the two.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.store import Store
from edgeaudit.store.values import QuarantineRecord
from edgeaudit.workspace import config as cfg
from tests.campus.parts import Pod, Served, ok_json, rewrite_history, run, run_json
from tests.conftest import _admin_connect

SECOND = Path(__file__).resolve().parents[1] / "policy" / "second_model"
CENTRAL = "edge.example.org/campus-office"
POD_NAMES = ("harbour", "quay", "dock")
PIER = "edge.example.org/pier"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def origin(name: str) -> str:
    return f"edge.example.org/{name}"


def _policies(dest: Path) -> None:
    shutil.copytree(SECOND, dest)
    inv = dest / "inventory.yaml"
    text = inv.read_text()
    old = "  - {id: mia.k, end_date: 2026-11-15T17:00:00Z, reason: contract ended}\n"
    assert old in text
    inv.write_text(
        text.replace(
            old, old + "  - {id: noor.e, end_date: 2026-11-10T00:00:00Z, reason: moved away}\n"
        )
    )


def _events(pod: Pod, events: list[dict[str, Any]]) -> int:
    path = pod.path / "incoming.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    code, out = run(*pod.ws, "append", str(path))
    assert code == 0, out
    code, data = pod.checkpoint()
    assert code == 0, data
    return int(data["tree_size"])


def _logon(when: str, principal: str, asset: str, n: int) -> dict[str, Any]:
    return {
        "time": when,
        "kind": "auth.logon",
        "source": "sshd",
        "outcome": "success",
        "actor": {"principal": principal, "user": principal.split(".")[0]},
        "target": {"asset": asset, "account": "ops"},
        "n": n,
    }


def _pod(root: Path, name: str) -> Pod:
    pod = Pod(name, origin(name), root / name)
    ok_json(*pod.ws, "init", "--site", name, "--origin", pod.origin)
    _policies(pod.path / "policies")
    return pod


@dataclass
class World:
    root: Path
    pods: dict[str, Pod]
    served: dict[str, Served]
    centrals: dict[str, Path]  # backend -> central workspace
    held: dict[str, int]  # pod name -> size the mirror holds
    stored: dict[str, dict[str, int]]  # backend -> pod name -> entries stored
    runs: dict[str, tuple[int, dict[str, Any]]]  # backend -> evaluate --campus --json


def _central(root: Path, backend: str, db: str | None) -> Path:
    ws = root / f"central-{backend}"
    argv = ["-w", str(ws), "init", "--site", "campus-office", "--origin", CENTRAL]
    ok_json(*argv, *(["--db", db] if db else []))
    _policies(ws / "policies")
    return ws


def _sync(ws: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    code, data = run_json("-w", str(ws), "mirror", "sync", *argv, "--rate", "0")
    return code, {r["origin"]: r for r in data.get("mirrors", [])}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[World]:
    root = tmp_path_factory.mktemp("campus-eval")
    served: dict[str, Served] = {}
    extra: list[Served] = []
    dbname = f"edgeaudit_ceval_{uuid.uuid4().hex[:10]}"
    admin = _admin_connect()
    admin.execute(f'CREATE DATABASE "{dbname}"')  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        try:
            pods = {name: _pod(root, name) for name in POD_NAMES}
            harbour, quay, dock = pods["harbour"], pods["quay"], pods["dock"]
            _events(harbour, [_logon("2026-11-03T08:00:00Z", "tobias.r", "hp-api-01", 1)])
            _events(harbour, [_logon("2026-11-20T09:30:00Z", "mia.k", "hp-api-01", 2)])
            _events(quay, [_logon("2026-11-21T14:00:00Z", "mia.k", "lh-pacs-01", 3)])
            _events(dock, [_logon("2026-11-04T10:00:00Z", "karl.b", "om-encode-01", 4)])
            # harbour's collector quarantined a forged record; harbour judged itself
            config = cfg.load(harbour.path)
            with Store.open(config.db_url) as store:
                raw = b"<38>Nov 19 10:00:00 hp-api-01 sshd[1]: spoofed"
                q = QuarantineRecord(
                    "syslog",
                    "hp-api-01",
                    "auth.log:7",
                    "forged identifier: sshd from a non-sshd process",
                    raw,
                    hashlib.sha256(raw).hexdigest(),
                )
                store.log(config.origin).append([], quarantine=[q])
            code, out = run(*harbour.ws, "evaluate", "--quarter", "2026Q4", "--json")
            assert code == 1, out
            assert harbour.checkpoint()[0] == 0
            for name, pod in pods.items():
                served[name] = Served(pod)
                served[name].start()
            deadline = time.monotonic() + 60
            for s in served.values():
                s.wait_for(f"{s.url}/checkpoint", deadline)
            pg = make_url(pg_server).set(database=dbname).render_as_string(hide_password=False)
            centrals = {
                "sqlite": _central(root, "sqlite", None),
                "postgresql": _central(root, "pg", pg),
            }
            for name, s in served.items():
                var = f"CEVAL_TOKEN_{name.upper()}"
                mp.setenv(var, s.token("auditor"))
                for ws in centrals.values():
                    argv = ["mirror", "add", s.url, "--key", pods[name].vkey(), "--token-env", var]
                    ok_json("-w", str(ws), *argv)
            pier = root / "pier"
            ok_json("-w", str(pier), "init", "--site", "pier", "--origin", PIER)
            pier_key = ok_json("-w", str(pier), "key", "show")["verifier_key"]
            for ws in centrals.values():  # a pod added by hand, never synced
                with (ws / "edgeaudit.toml").open("a") as f:
                    f.write(f'\n[[mirror]]\nurl = "http://127.0.0.1:9"\nkey = "{pier_key}"\n')
                for n in POD_NAMES:
                    code, res = _sync(ws, origin(n))
                    assert code == 0, res
            held = {name: pod.signed_size() for name, pod in pods.items()}
            # dock's operator rewrites its history with dock's key; the mirror sees the fork
            forged = rewrite_history(dock, root / "dock-rewritten", ask_witnesses=False)
            assert forged.append(held["dock"] + 2, "rewritten") == held["dock"] + 2
            assert forged.checkpoint()[0] == 0
            extra.append(served["dock"].impostor(forged))
            for ws in centrals.values():
                code, res = _sync(ws, origin("dock"))
                assert code == 1, res
                assert res[origin("dock")]["status"] == "fork", res
            # quay grows; the mirror stores the new entries but never holds their checkpoint
            grown = _events(quay, [_logon("2026-11-22T11:00:00Z", "noor.e", "lh-pacs-01", 5)])
            config = cfg.load(quay.path)
            with Store.open(config.db_url) as store, store.log(quay.origin).reader() as r:
                bodies = r.entry_bodies(held["quay"], grown)
            stored: dict[str, dict[str, int]] = {}
            for backend, ws in centrals.items():
                wc = cfg.load(ws)
                with Store.open(wc.db_url) as store:
                    assert store.mirror(quay.origin).extend(held["quay"], bodies) == grown
                    stored[backend] = {n: store.log(origin(n)).size for n in POD_NAMES}
            runs = {
                backend: run_json("-w", str(ws), "evaluate", "--campus", "--quarter", "2026Q4")
                for backend, ws in centrals.items()
            }
            yield World(root, pods, served, centrals, held, stored, runs)
        finally:
            for s in [*served.values(), *extra]:
                s.stop()
                s.link.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')  # type: ignore[attr-defined]
            admin.close()  # type: ignore[attr-defined]


BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def _results(data: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in data["results"] if r["rule"] == rule]


def _one(data: dict[str, Any], rule: str, **scope: str) -> dict[str, Any]:
    [r] = [r for r in _results(data, rule) if all(r["scope"].get(k) == v for k, v in scope.items())]
    return r


@BACKENDS
def test_logs_judged_at_held_checkpoints(world: World, backend: str) -> None:
    code, data = world.runs[backend]
    assert code == 1, data
    logs = data["assessment"]["logs"]
    assert [x["origin"] for x in logs] == sorted([CENTRAL, PIER, *(origin(n) for n in POD_NAMES)])
    by = {x["origin"]: x for x in logs}
    for name in POD_NAMES:  # dock at its checkpoint held before the fork
        assert by[origin(name)]["tree_size"] == world.held[name]
    assert world.stored[backend]["quay"] > world.held["quay"]  # stored, not judged
    assert by[PIER] == {"origin": PIER, "tree_size": 0, "root_hash": EMPTY_ROOT}
    central = by[CENTRAL]
    assert central["tree_size"] == data["assessment"]["tree_size"]
    assert central["root_hash"] == data["assessment"]["checkpoint"]["root_hash"]
    # every citation names its log, and none lies at or beyond the size judged
    for r in data["results"]:
        for e in r["evidence"]:
            assert e["origin"] in by, r
            assert e["index"] < by[e["origin"]]["tree_size"], r


@BACKENDS
def test_a_leaver_on_two_pods_is_one_result_citing_both(world: World, backend: str) -> None:
    _, data = world.runs[backend]
    r = _one(data, "no-leaver-activity", principal="mia.k")
    assert r["status"] == "fail", r
    assert {e["origin"] for e in r["evidence"]} == {origin("harbour"), origin("quay")}
    assert "log" not in r["scope"]
    # noor.e's logon is among quay's entries stored beyond the held checkpoint: not judged,
    # and no pass either: the mirror of quay is behind (edgeaudit.policy.coverage)
    other = _one(data, "no-leaver-activity", principal="noor.e")
    assert other["status"] == "not-evaluated", other
    assert f"the mirror of {origin('quay')} holds {world.held['quay']} entries" in other["reason"]


@BACKENDS
def test_per_log_results(world: World, backend: str) -> None:
    _, data = world.runs[backend]
    store = {r["scope"]["log"]: r for r in _results(data, "evidence-sealed")}
    assert set(store) == {CENTRAL, PIER, *(origin(n) for n in POD_NAMES)}
    for name in ("harbour", "quay"):
        assert store[origin(name)]["status"] == "pass", store[origin(name)]
        assert "held by the mirror" in store[origin(name)]["reason"]
    assert store[CENTRAL]["status"] == "pass", store[CENTRAL]
    # the forked pod fails, citing the central log's mirror.fork entry
    fork = store[origin("dock")]
    assert fork["status"] == "fail"
    assert "fork" in fork["reason"]
    [cited] = fork["evidence"]
    assert cited["origin"] == CENTRAL
    config = cfg.load(world.centrals[backend])
    with Store.open(config.db_url) as s, s.log(CENTRAL).reader() as reader:
        body, leaf = reader.entry(cited["index"])
    assert leaf.hex() == cited["leaf_hash"]
    entry = json.loads(body)
    assert (entry["kind"], entry["origin"]) == ("mirror.fork", origin("dock"))
    assert store[PIER]["status"] == "fail"
    assert "never synced" in store[PIER]["reason"]
    # quarantine: harbour's own recorded result adopted (the mirror has no quarantine, so a
    # fresh judgement would pass); quay recorded none: not evaluated, never a pass
    forged = [
        r for r in _results(data, "no-forged-sources") if r["scope"]["log"] == origin("harbour")
    ]
    assert [r["status"] for r in forged] == ["fail"], forged
    assert forged[0]["reason"].startswith("as the pod judged it")
    [ref] = forged[0]["evidence"]
    assert ref["origin"] == origin("harbour")
    assert ref["index"] < world.held["harbour"]
    for rule in ("no-forged-sources", "collection-gapless"):
        quay = [
            r
            for r in _results(data, rule)
            if r["scope"]["log"] == origin("quay")
            and r["scope"].get("subject") != "mirror-coverage"
        ]
        assert [r["status"] for r in quay] == ["not-evaluated"], quay
        assert "recorded no result" in quay[0]["reason"]


@BACKENDS
def test_recorded_in_the_central_log_only(world: World, backend: str) -> None:
    _, data = world.runs[backend]
    config = cfg.load(world.centrals[backend])
    with Store.open(config.db_url) as s:
        for name in POD_NAMES:
            assert s.log(origin(name)).size == world.stored[backend][name]
        with s.log(CENTRAL).reader() as reader:
            size, _ = reader.head()
            recs = [
                json.loads(b) for _i, b, _l in reader.select(["policy.result"], None, None, size)
            ]
    mine = [r for r in recs if r["assessment"]["id"] == data["assessment"]["id"]]
    assert len(mine) == len(data["results"]) == data["recorded"]["appended"]
    assert all(r["assessment"]["logs"] == data["assessment"]["logs"] for r in mine)
    leaver = next(
        r
        for r in mine
        if r["result"]["rule"] == "no-leaver-activity"
        and r["result"]["scope"].get("principal") == "mia.k"
    )
    assert {e["origin"] for e in leaver["result"]["evidence"]} == {
        origin("harbour"),
        origin("quay"),
    }


def test_campus_refuses_log_and_says_origins_in_text(world: World) -> None:
    ws = str(world.centrals["sqlite"])
    code, out = run(
        "-w", ws, "--log", origin("quay"), "evaluate", "--campus", "--quarter", "2026Q4"
    )
    assert code == 2, out
    assert "takes no --log" in out
    code, out = run("-w", ws, "evaluate", "--campus", "--quarter", "2026Q4", "--no-record")
    assert code == 1, out
    assert "campus of 5 logs" in out
    assert f"{origin('harbour')}#" in out
    assert f"{origin('quay')}#" in out


def test_an_altered_mirrored_entry_fails_that_pods_integrity(world: World, tmp_path: Path) -> None:
    """A copy of the SQLite central workspace whose copy of a harbour entry is altered: the
    harbour log's integrity result fails (verified with harbour's [[mirror]] key), the other
    logs' do not."""
    from sqlalchemy import text

    from edgeaudit.store.triggers import create_append_only_triggers, drop_append_only_triggers

    ws = tmp_path / "central"
    shutil.copytree(world.centrals["sqlite"], ws)
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log_id = store.log(origin("harbour")).log_id
        with store.engine.begin() as conn:
            drop_append_only_triggers(conn)
            body = conn.execute(
                text("SELECT body FROM entries WHERE log_id = :l AND idx = 0"), {"l": log_id}
            ).scalar_one()
            altered = bytes(body).replace(b"tobias.r", b"tobias.x")
            assert altered != bytes(body)
            conn.execute(
                text("UPDATE entries SET body = :b WHERE log_id = :l AND idx = 0"),
                {"b": altered, "l": log_id},
            )
            create_append_only_triggers(conn)
    code, data = run_json(
        "-w", str(ws), "evaluate", "--campus", "--quarter", "2026Q4", "--no-record"
    )
    assert code == 1, data
    store_results = {r["scope"]["log"]: r for r in _results(data, "evidence-sealed")}
    assert store_results[origin("harbour")]["status"] == "fail"
    assert "store verification found" in store_results[origin("harbour")]["reason"]
    assert store_results[origin("quay")]["status"] == "pass"
    assert store_results[CENTRAL]["status"] == "pass"
