"""``mirror add / sync / list`` against real ``serve`` processes: two pods, a central store on
SQLite and on PostgreSQL; idempotent passes, catching up, an offline pod coming back, a wrong
key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeaudit.note.signer import generate
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Campus, Pod, central, free_port, mirrored
from tests.pack.helpers import run


def sync(ws: Path, *extra: str) -> tuple[int, dict[str, dict[str, object]], str]:
    code, out, err = run("--workspace", str(ws), "--json", "mirror", "sync", *extra)
    data = json.loads(out.strip().splitlines()[-1])
    assert data["exit_code"] == code
    return code, {m["origin"]: m for m in data["mirrors"]}, err


def add(ws: Path, pod: Pod, monkeypatch: pytest.MonkeyPatch) -> None:
    var = f"TOKEN_{pod.name.upper().replace('-', '_')}"
    monkeypatch.setenv(var, pod.token())
    key = pod.config.verifier_key
    code, out, err = run("--workspace", str(ws), "mirror", "add", pod.url, "--key", key,
                         "--token-env", var)  # fmt: skip
    assert code == 0, err
    assert "verified" in out


def same(ws: Path, pod: Pod) -> int:
    size, entries = pod.signed()
    held, stored, copied = mirrored(ws, pod.config.origin)
    assert held == stored == size
    assert copied == entries
    return size


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sync_again_and_catch_up(
    db: str,
    campus: Campus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("pg_url") if db == "postgresql" else None
    one, two = campus.one, campus.two
    ws = central(tmp_path, url)
    add(ws, one, monkeypatch)
    add(ws, two, monkeypatch)

    code, got, err = sync(ws)
    assert code == 0, got
    assert {m["status"] for m in got.values()} == {"synced"}
    first = same(ws, one)
    same(ws, two)
    assert "entries" in err  # progress on stderr

    code, got, _ = sync(ws)  # idempotent: nothing new
    assert code == 0
    assert [(m["status"], m["stored"]) for m in got.values()] == [("up-to-date", 0)] * 2
    same(ws, one)

    one.append(400)  # more, plus the access.read entries of the bundles it served
    code, got, _ = sync(ws, one.config.origin)
    assert code == 0
    assert list(got) == [one.config.origin]
    assert got[one.config.origin]["stored"] == same(ws, one) - first


@pytest.mark.usefixtures("clean_env")
def test_an_offline_pod_is_caught_up_in_one_pass(
    campus: Campus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = campus.one, campus.two
    ws = central(tmp_path)
    add(ws, one, monkeypatch)
    add(ws, two, monkeypatch)
    assert sync(ws)[0] == 0
    before = same(ws, two)

    # pod two goes offline and keeps collecting and signing; pod one still syncs
    two.stop()
    try:
        far = two.append(3000)
        one.append(10)
        code, got, _ = sync(ws)
    finally:
        two.start()
    assert code == 3, got  # partial: one pod unreachable
    assert got[two.config.origin]["status"] == "unreachable"
    assert "resumes" in str(got[two.config.origin]["message"])
    assert got[one.config.origin]["status"] == "synced"
    same(ws, one)
    # back, far ahead: caught up in one pass, checked against the held checkpoint once
    code, got, _ = sync(ws, "--rate", "0")
    assert code == 0, got
    assert got[two.config.origin]["stored"] == far - before
    assert same(ws, two) == far

    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "list")
    assert code == 0
    listed = {m["origin"]: m for m in json.loads(out)["mirrors"]}
    assert listed[two.config.origin]["held_size"] == far
    assert listed[two.config.origin]["fetched_size"] == far
    assert listed[two.config.origin]["fork"] is False
    code, out, _ = run("--workspace", str(ws), "mirror", "list")
    assert f"held {far:,}" in out


@pytest.mark.usefixtures("clean_env")
def test_add_refuses_a_wrong_key(campus: Campus, tmp_path: Path) -> None:
    pod = campus.one
    ws = central(tmp_path)
    before = (ws / cfg.CONFIG_NAME).read_bytes()
    wrong = generate(pod.config.origin).verifier_key  # same name, another key
    code, _, err = run("--workspace", str(ws), "mirror", "add", pod.url, "--key", wrong)
    assert code == 1, err
    assert "no signature from a trusted key" in err
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(
        "--workspace", str(ws), "mirror", "add", dead, "--key", pod.config.verifier_key
    )
    assert code == 2, err
    assert "nothing was written" in err
    assert (ws / cfg.CONFIG_NAME).read_bytes() == before

    # a [[mirror]] with a wrong key written by hand: the sync refuses, stores nothing
    (ws / cfg.CONFIG_NAME).write_bytes(
        before + f'\n[[mirror]]\nurl = "{pod.url}"\nkey = "{wrong}"\n'.encode()
    )
    code, out, err = run("--workspace", str(ws), "mirror", "sync")
    assert code == 1, out + err
    assert "does not verify with the registered key" in out
    assert mirrored(ws, pod.config.origin)[:2] == (0, 0)


@pytest.mark.usefixtures("clean_env")
def test_follow_keeps_syncing_until_interrupted(
    campus: Campus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = campus.two
    ws = central(tmp_path)
    add(ws, pod, monkeypatch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    argv = ["--workspace", str(ws), "--json", "mirror", "sync", "--follow", "--interval", "0.2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeaudit.cli.main", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())["mirrors"][0]
        assert first["status"] == "synced"
        size = pod.append(5)
        while True:  # later passes: nothing new, then the five entries
            last = json.loads(proc.stdout.readline())["mirrors"][0]
            if last["stored"]:
                break
            assert last["status"] == "up-to-date"
        assert (last["status"], last["held_size"]) == ("synced", size)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        proc.kill()
        proc.wait()
    same(ws, pod)
