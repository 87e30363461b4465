"""``mirror add / sync / list`` against real ``serve`` processes: two pods, a central store on
SQLite and on PostgreSQL; idempotent passes, catching up, an offline pod coming back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.note.signer import generate
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Pod, central, make_pod, mirrored
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


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sync_catch_up_and_offline_pod(
    db: str,
    pods: list[Pod],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("pg_url") if db == "postgresql" else None
    pod1 = make_pod(pods, tmp_path, "pod-one", 700)
    pod2 = make_pod(pods, tmp_path, "pod-two", 300)
    ws = central(tmp_path, url)
    add(ws, pod1, monkeypatch)
    add(ws, pod2, monkeypatch)

    code, got, err = sync(ws)
    assert code == 0, got
    assert {m["status"] for m in got.values()} == {"synced"}
    assert same(ws, pod1) == 700
    assert same(ws, pod2) == 300
    assert "entries" in err  # progress on stderr

    code, got, _ = sync(ws)  # idempotent: nothing new
    assert code == 0
    assert [(m["status"], m["stored"]) for m in got.values()] == [("up-to-date", 0)] * 2
    same(ws, pod1)

    pod1.append(900)  # more, plus the access.read entries of the bundles it served
    code, got, _ = sync(ws, pod1.config.origin)
    assert code == 0
    assert list(got) == [pod1.config.origin]
    assert got[pod1.config.origin]["stored"] == same(ws, pod1) - 700, got

    # pod two goes offline and keeps collecting and signing; pod one still syncs
    pod2.stop()
    far = pod2.append(3000)
    pod1.append(10)
    code, got, err = sync(ws)
    assert code == 3, got  # partial: one pod unreachable
    assert got[pod2.config.origin]["status"] == "unreachable"
    assert got[pod1.config.origin]["status"] == "synced"
    same(ws, pod1)
    # back, far ahead: caught up in one pass, checked against the held checkpoint once
    pod2.start()
    code, got, _ = sync(ws, "--rate", "0")
    assert code == 0, got
    assert got[pod2.config.origin]["stored"] == far - 300
    assert same(ws, pod2) == far

    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "list")
    assert code == 0
    listed = {m["origin"]: m for m in json.loads(out)["mirrors"]}
    assert listed[pod2.config.origin]["held_size"] == far
    assert listed[pod2.config.origin]["fetched_size"] == far
    assert listed[pod2.config.origin]["fork"] is False
    code, out, _ = run("--workspace", str(ws), "mirror", "list")
    assert f"held {far:,}" in out


def test_add_refuses_a_wrong_key(pods: list[Pod], tmp_path: Path) -> None:
    pod = make_pod(pods, tmp_path, "pod-k", 20)
    ws = central(tmp_path)
    before = (ws / cfg.CONFIG_NAME).read_bytes()
    wrong = generate(pod.config.origin).verifier_key  # same name, another key
    code, _, err = run("--workspace", str(ws), "mirror", "add", pod.url, "--key", wrong)
    assert code == 1, err
    assert "no signature from a trusted key" in err
    dead = f"http://127.0.0.1:{pod.port + 1 if pod.port < 65535 else 1}"
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
