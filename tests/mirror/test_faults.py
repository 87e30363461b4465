"""What goes wrong between a pod and the mirror: a cut at any point (resumed), tiles or entries
altered on the way (refused, nothing stored), a history rewritten with the pod's key (a fork:
proof kept, alert entry, exit 1, held entries untouched, the origin stopped)."""

from __future__ import annotations

import json
import os
import stat
import urllib.request
from pathlib import Path

import pytest

from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Campus, Pod, Proxy, central, mirrored
from tests.pack.helpers import run


def add(ws: Path, pod: Pod, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_TOKEN", pod.token())
    argv = ["mirror", "add", url, "--key", pod.config.verifier_key, "--token-env", "POD_TOKEN"]
    code, _, err = run("--workspace", str(ws), *argv)
    assert code == 0, err


def sync(ws: Path, *extra: str) -> tuple[int, dict[str, object]]:
    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "sync", *extra)
    return code, json.loads(out.strip().splitlines()[-1])["mirrors"][0]


@pytest.mark.usefixtures("clean_env")
def test_a_cut_at_any_point_resumes(
    campus: Campus, proxies: list[Proxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = campus.one
    proxy = Proxy(pod.port)
    proxies.append(proxy)
    ws = central(tmp_path)
    add(ws, pod, proxy.url, monkeypatch)
    size, entries = pod.signed()
    origin = pod.config.origin
    probe = central(tmp_path / "probe")  # how many bytes a whole sync takes
    add(probe, pod, proxy.url, monkeypatch)
    assert sync(probe)[0] == 0
    total = proxy.sent
    # cut in the checkpoint, then every quarter of the way: tiles, then entry bundles
    # (each pass fetches the checkpoint and the tiles it checks again: growing steps)
    stored_before, resumed = 0, []
    cuts = [100, *(total // 4 + i * total // 8 for i in range(12))]
    for delta in cuts:
        proxy.cut_after = proxy.sent + delta
        code, got = sync(ws, "--batch", "256")
        if code == 0:
            break
        assert code == 3, got["message"]
        assert got["status"] == "unreachable", got
        held, stored, copied = mirrored(ws, origin)
        assert held == 0  # the checkpoint is held only once all its entries are stored
        assert stored >= stored_before
        assert copied == entries[:stored]  # what is stored is the pod's log, nothing else
        resumed.append(stored)
        stored_before = stored
    assert code == 0
    assert resumed[0] == 0
    assert [s for s in resumed if 0 < s < size]  # cut after some batches were stored
    assert proxy.cuts >= len(resumed) >= 4  # (several connections fetch at once)
    assert got["stored"] == size - stored_before  # resumed from the store's size
    assert mirrored(ws, origin) == (size, size, entries)


@pytest.mark.usefixtures("clean_env")
def test_altered_tiles_or_entries_are_refused(
    campus: Campus, proxies: list[Proxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = campus.one
    proxy = Proxy(pod.port)
    proxies.append(proxy)
    ws = central(tmp_path)
    add(ws, pod, proxy.url, monkeypatch)
    origin = pod.config.origin
    size, entries = pod.signed()

    def altered(n: int) -> list[tuple[bytes, bytes]]:
        with urllib.request.urlopen(f"{pod.url}/tile/0/00{n}") as r:
            one = r.read()[32 * 7 : 32 * 8]
        return [(one, bytes([one[0] ^ 1]) + one[1:])]

    proxy.replace = altered(0)
    code, got = sync(ws)
    assert code == 1, got
    assert got["status"] == "refused"
    assert "tile/0/000" in str(got["message"])
    assert mirrored(ws, origin)[:2] == (0, 0)

    proxy.replace, proxy.plain = [(b'"n":5,', b'"n":6,')], True  # entry 5, same length
    code, got = sync(ws)
    assert code == 1, got
    assert "entry 5 does not hash" in str(got["message"])
    assert mirrored(ws, origin)[:2] == (0, 0)

    # the second tile altered: the first 256 entries, proven by the first, are stored
    proxy.replace, proxy.plain = altered(1), False
    code, got = sync(ws)
    assert code == 1, got
    assert "tile/0/001" in str(got["message"])
    assert mirrored(ws, origin) == (0, 256, entries[:256])

    proxy.replace, proxy.plain = [], False
    code, got = sync(ws)
    assert code == 0, got
    assert mirrored(ws, origin) == (size, size, entries)


@pytest.mark.usefixtures("clean_env")
def test_a_rewritten_history_is_a_fork(
    campus: Campus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = campus.two
    ws = central(tmp_path)
    add(ws, pod, pod.url, monkeypatch)
    assert sync(ws)[0] == 0
    origin = pod.config.origin
    before = mirrored(ws, origin)
    with urllib.request.urlopen(f"{pod.url}/checkpoint") as r:
        held_note = r.read().decode()
    # the same log, served from a store rewritten with the pod's key: other entries, larger
    other = pod.rewritten("pod-two-rewritten", before[0] + 150)
    try:
        _fork(ws, pod.url, other, before, held_note)
    finally:
        other.stop()


def _fork(
    ws: Path, old_url: str, pod: Pod, before: tuple[int, int, list[bytes]], held_note: str
) -> None:
    origin = pod.config.origin
    config_path = ws / cfg.CONFIG_NAME  # the mirror's URL now reaches the rewritten log
    config_path.write_text(config_path.read_text().replace(old_url, pod.url))
    new_size = pod.signed()[0]
    with urllib.request.urlopen(f"{pod.url}/checkpoint") as r:
        new_note = r.read().decode()
    code, got = sync(ws)
    assert code == 1, got
    assert got["status"] == "fork"
    proof = Path(str(got["fork_proof"]))
    assert proof.parent == ws / "mirror" / "forks"
    assert stat.S_IMODE(proof.stat().st_mode) == 0o600
    text = proof.read_text()
    assert held_note in text
    assert new_note in text
    assert mirrored(ws, origin) == before  # nothing stored over what is held

    config = cfg.load(ws)
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        size = reader.head()[0]
        alerts = [json.loads(b) for b in reader.entry_bodies(0, size)]
    alert = next(a for a in alerts if a["kind"] == "mirror.fork")
    assert (alert["origin"], alert["held_size"], alert["new_size"]) == (origin, before[0], new_size)
    assert (alert["held_note"], alert["new_note"]) == (held_note, new_note)

    code, got = sync(ws)  # stopped until an operator acts
    assert code == 1
    assert got["status"] == "stopped"
    assert "mirror/forks/resolved/" in str(got["message"])
    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "list")
    assert code == 1
    assert json.loads(out)["mirrors"][0]["fork"] is True

    # the operator moves the proof aside: the pod still serves the other history, so the
    # next sync finds the fork again and keeps a second proof
    (ws / "mirror" / "forks" / "resolved").mkdir()
    os.replace(proof, ws / "mirror" / "forks" / "resolved" / proof.name)
    code, got = sync(ws)
    assert code == 1
    assert got["status"] == "fork"
    assert mirrored(ws, origin) == before
