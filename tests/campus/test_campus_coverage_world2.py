"""Campus coverage (ADR 0018, "Coverage of the period") in a second world: pods
``harbourmaster.example.net/lighthouse`` and ``…/breakwater`` served by ``edgeaudit serve``, a
central workspace on SQLite judging by the second operating model (Europe/Berlin), a period
whose end is given with a ``+05:30`` offset, then a ``…/jetty`` pod mirrored but never synced,
then late entries the mirror stores beyond lighthouse's held checkpoint (as a cut pass leaves
them) dated inside the period."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.policy.context import epoch, iso
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.campus.parts import Pod, Served, ok_json, run, run_json

SECOND = Path(__file__).resolve().parents[1] / "policy" / "second_model"
DOMAIN = "harbourmaster.example.net"
CENTRAL = f"{DOMAIN}/tower"
JETTY = f"{DOMAIN}/jetty"
PODS = ("lighthouse", "breakwater")
IST = timezone(timedelta(hours=5, minutes=30))
AHEAD = 10


@dataclass(frozen=True)
class World:
    start: str  # as given on the command line (+05:30)
    end: str
    end_utc: str
    pods: dict[str, Pod]
    runs: dict[str, dict[str, Any]]  # stage -> evaluate --campus --json
    held: int  # lighthouse's size held when late entries were stored beyond it


def _logon(when: str, principal: str, asset: str) -> dict[str, Any]:
    return {
        "time": when,
        "kind": "auth.logon",
        "source": "sshd",
        "outcome": "success",
        "actor": {"principal": principal, "user": principal.split(".")[0]},
        "target": {"asset": asset, "account": "ops"},
    }


def _append(pod: Pod, events: list[dict[str, Any]]) -> int:
    path = pod.path / "incoming.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert run(*pod.ws, "append", str(path))[0] == 0
    code, data = pod.checkpoint()
    assert code == 0, data
    return int(data["tree_size"])


def _ist(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).astimezone(IST).isoformat()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("coverage-world2")
    served: dict[str, Served] = {}
    runs: dict[str, dict[str, Any]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        try:
            t0 = time.time()
            pods: dict[str, Pod] = {}
            for name in PODS:
                pod = Pod(name, f"{DOMAIN}/{name}", root / name)
                ok_json(*pod.ws, "init", "--site", name, "--origin", pod.origin)
                shutil.copytree(SECOND, pod.path / "policies")
                _append(pod, [_logon(iso(t0 - 3 * 86400), "tobias.r", f"{name}-01")])
                pods[name] = pod
                served[name] = Served(pod)
                served[name].start()
            deadline = time.monotonic() + 60
            for s in served.values():
                s.wait_for(f"{s.url}/checkpoint", deadline)
            ws = root / "tower"
            ok_json("-w", str(ws), "init", "--site", "tower", "--origin", CENTRAL)
            shutil.copytree(SECOND, ws / "policies")
            note = root / "tower.jsonl"
            note.write_text(json.dumps({"time": iso(t0 - 86400), "kind": "note"}) + "\n")
            assert run("-w", str(ws), "append", str(note))[0] == 0
            for name, s in served.items():
                var = f"COVERAGE_W2_{name.upper()}"
                mp.setenv(var, s.token("auditor"))
                key = pods[name].vkey()
                ok_json("-w", str(ws), "mirror", "add", s.url, "--key", key, "--token-env", var)

            def sync() -> None:
                code, data = run_json("-w", str(ws), "mirror", "sync", "--rate", "0")
                assert code == 0, data

            def evaluate(stage: str) -> None:
                code, data = run_json(
                    "-w", str(ws), "evaluate", "--campus", "--from", start, "--to", end,
                    "--no-record",
                )  # fmt: skip
                assert code in (0, 1), data
                runs[stage] = data

            end_at = math.ceil(time.time()) + AHEAD  # the period ends after this sync
            start, end = _ist(end_at - 20 * 86400), _ist(end_at)
            sync()  # mid-period
            assert time.time() < end_at, "the sync ran past the period's end: a loaded machine?"
            time.sleep(max(0.0, end_at + 1 - time.time()))
            evaluate("synced-mid-period")
            sync()  # past the period's end
            evaluate("covered")
            jetty = root / "jetty"
            ok_json("-w", str(jetty), "init", "--site", "jetty", "--origin", JETTY)
            jetty_key = ok_json("-w", str(jetty), "key", "show")["verifier_key"]
            toml = (ws / "edgeaudit.toml").read_text()
            jetty_table = f'\n[[mirror]]\nurl = "http://127.0.0.1:9"\nkey = "{jetty_key}"\n'
            (ws / "edgeaudit.toml").write_text(toml + jetty_table)
            evaluate("jetty-never-synced")
            code, text = run(
                "-w", str(ws), "evaluate", "--campus", "--from", start, "--to", end, "--no-record"
            )  # fmt: skip
            assert code == 1, text  # the never-synced pod's coverage fails
            runs["text"] = {"out": text}
            (ws / "edgeaudit.toml").write_text(toml)
            # lighthouse adds a back-dated logon of a leaver; a cut pass stored it unheld
            lighthouse = pods["lighthouse"]
            held = lighthouse.signed_size()
            grown = _append(lighthouse, [_logon(iso(end_at - 2 * 86400), "mia.k", "lh-01")])
            pod_db = cfg.load(lighthouse.path).db_url
            with Store.open(pod_db) as store, store.log(lighthouse.origin).reader() as r:
                bodies = r.entry_bodies(held, grown)
            with Store.open(cfg.load(ws).db_url) as store:
                assert store.mirror(lighthouse.origin).extend(held, bodies) == grown
            evaluate("late-entries-stored")
            yield World(start, end, iso(end_at), pods, runs, held)
        finally:
            for s in served.values():
                s.stop()
                s.link.close()


def _events(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in data["results"] if "log" not in r["scope"]}


def _states(data: dict[str, Any]) -> dict[str, str]:
    return {p["origin"]: p["state"] for p in data["assessment"]["coverage"]["pods"]}


def _gaps(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["scope"]["log"]: r
        for r in data["results"]
        if r["scope"].get("subject") == "mirror-coverage"
    }


def _withheld(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in _events(data).values() if "-- not a pass:" in r["reason"]]


def test_the_boundary_with_an_offset_is_the_horizon(world: World) -> None:
    for stage, data in world.runs.items():
        if stage == "text":
            continue
        assert data["assessment"]["to"] == world.end_utc
        assert data["assessment"]["coverage"]["until"] == world.end_utc
    assert world.end.endswith("+05:30")


def test_synced_before_the_end_both_pods_are_behind(world: World) -> None:
    data = world.runs["synced-mid-period"]
    origins = {f"{DOMAIN}/{n}" for n in PODS}
    assert _states(data) == dict.fromkeys(origins, "behind")
    assert set(_gaps(data)) == origins
    assert {g["status"] for g in _gaps(data).values()} == {"fail"}
    assert not [r for r in _events(data).values() if r["status"] == "pass"]
    withheld = _withheld(data)
    assert withheld
    for r in withheld:
        for origin in origins:
            assert f"the mirror of {origin} holds" in r["reason"]
        assert f"before the period end {world.end_utc}" in r["reason"]


def test_covered_pods_leave_the_passes_alone(world: World) -> None:
    before, after = world.runs["synced-mid-period"], world.runs["covered"]
    assert set(_states(after).values()) == {"covered"}
    assert _gaps(after) == {}
    assert not _withheld(after)
    assert {r["id"] for r in _withheld(before)} == {
        rid for rid, r in _events(after).items() if r["status"] == "pass"
    }
    # failures stay failures, and nothing else moved
    for rid, r in _events(before).items():
        if r["status"] != "not-evaluated" or "-- not a pass:" not in r["reason"]:
            assert _events(after)[rid]["status"] == r["status"], (r, _events(after)[rid])


def test_a_pod_never_synced_withholds_every_pass(world: World) -> None:
    data = world.runs["jetty-never-synced"]
    states = _states(data)
    assert states[JETTY] == "never-synced"
    assert [s for o, s in states.items() if o != JETTY] == ["covered", "covered"]
    gap = _gaps(data)[JETTY]
    assert gap["status"] == "fail"
    assert "never synced" in gap["reason"]
    withheld = _withheld(data)
    assert withheld
    passes = {rid for rid, r in _events(world.runs["covered"]).items() if r["status"] == "pass"}
    assert {r["id"] for r in withheld} == passes
    for r in withheld:
        assert f"no checkpoint of {JETTY} is held by the mirror (never synced)" in r["reason"]
        assert f"{DOMAIN}/lighthouse" not in r["reason"]


def test_the_table_says_each_pods_coverage(world: World) -> None:
    text = world.runs["text"]["out"]
    assert f"coverage of the period (until {world.end_utc}):" in text
    assert f"  {JETTY}  never-synced  (held 0, last entry none, verified never)" in text
    assert f"  {DOMAIN}/lighthouse  covered  (held " in text


def test_late_entries_stored_beyond_the_held_checkpoint_make_a_pod_behind(world: World) -> None:
    data = world.runs["late-entries-stored"]
    lighthouse = f"{DOMAIN}/lighthouse"
    assert _states(data) == {lighthouse: "behind", f"{DOMAIN}/breakwater": "covered"}
    gap = _gaps(data)[lighthouse]
    assert gap["status"] == "fail"
    assert (
        "entries stored beyond the held checkpoint are dated before the period end"
        in (gap["reason"])
    )
    [leaver] = [
        r
        for r in data["results"]
        if r["rule"] == "no-leaver-activity" and r["scope"].get("principal") == "mia.k"
    ]
    # mia.k's logon is stored but not held: not judged, and not a pass
    assert leaver["status"] == "not-evaluated", leaver
    assert all(e["index"] < world.held for e in leaver["evidence"])
    judged = {x["origin"]: x["tree_size"] for x in data["assessment"]["logs"]}
    assert judged[lighthouse] == world.held
    assert epoch(data["assessment"]["coverage"]["until"]) == epoch(world.end_utc)
