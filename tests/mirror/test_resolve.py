"""``mirror resolve ORIGIN --keep-held``: an operator settles a fork for the history the mirror
holds. The proof is archived in ``mirror/forks/resolved/`` and the decision recorded as a
``mirror.fork_resolved`` entry of the central log, then the origin is synced once: a pod still
serving the contradicting history forks again (a new proof, exit 1), one back on the held
history is synced. ``--accept-new`` is refused (the store never drops what it holds), and so is
a resolve without a reason or an open proof; nothing in the store changes either way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import generate
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import central, mirrored
from tests.mirror.hostile import HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

ORIGIN = "hostile.example/pod-f"


def _entries(ws: Path, kind: str) -> list[dict[str, object]]:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        size, _ = reader.head()
        rows = reader.select([kind], None, None, size)
        return [json.loads(body) for _i, body, _leaf in rows]


@pytest.fixture
def forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, HostilePod, HostileLog, HostileLog]]:
    """The mirror held 300 entries of ``honest``; the pod now serves ``rewritten`` (same key,
    other entries) at 400: a fork, proof kept."""
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    monkeypatch.setenv("F_TOKEN", "tok")
    signer = generate(ORIGIN)
    honest = HostileLog(signer, event_entries("f", 600))
    rewritten = HostileLog(signer, event_entries("f-rewritten", 600))
    pod = HostilePod(honest, 300)
    ws = central(tmp_path)
    argv = ["mirror", "add", pod.url, "--key", honest.vkey, "--token-env", "F_TOKEN"]
    assert run("--workspace", str(ws), *argv)[0] == 0
    assert run("--workspace", str(ws), "mirror", "sync", "--rate", "0")[0] == 0
    pod.serve(rewritten, 400)
    code, out, err = run("--workspace", str(ws), "mirror", "sync", "--rate", "0")
    assert code == 1, out + err
    assert "fork" in out
    try:
        yield ws, pod, honest, rewritten
    finally:
        pod.close()


def test_resolve_keep_held(forked: tuple[Path, HostilePod, HostileLog, HostileLog]) -> None:
    ws, pod, honest, _ = forked
    files = MirrorFiles(ws, ORIGIN)
    first = files.forks()
    assert len(first) == 1
    resolve = ["--workspace", str(ws), "mirror", "resolve", ORIGIN]

    for extra, says in (
        (["--accept-new"], "append-only"),
        (["--keep-held"], "--reason"),
        ([], "one of --keep-held or --accept-new"),
        (["--keep-held", "--accept-new", "--reason", "x"], "one of"),
    ):
        code, out, err = run(*resolve, *extra)
        assert code == 2, (extra, out, err)
        assert says in err, (extra, err)
    assert files.forks() == first  # nothing changed
    assert _entries(ws, "mirror.fork_resolved") == []

    # settled by hand while the pod still serves the rewritten history: the sync that
    # follows finds the fork again (a second proof, exit 1), nothing stored over the held
    code, out, err = run(*resolve, "--keep-held", "--reason", "pod-f restored from backup")
    assert code == 1, out + err
    assert "fork" in out
    assert (ws / "mirror" / "forks" / "resolved" / first[0].name).is_file()
    second = files.forks()
    assert len(second) == 1
    assert second != first
    assert mirrored(ws, ORIGIN)[:2] == (300, 300)

    # the pod is back on the held history, grown: settled, synced
    pod.serve(honest, 500)
    code, out, err = run(*resolve, "--keep-held", "--reason", "impostor removed")
    assert code == 0, out + err
    assert "synced" in out
    assert files.forks() == []
    assert mirrored(ws, ORIGIN)[:2] == (500, 500)
    resolved = _entries(ws, "mirror.fork_resolved")
    assert [r["reason"] for r in resolved] == ["pod-f restored from backup", "impostor removed"]
    assert [r["proof_files"] for r in resolved] == [
        [str(first[0].relative_to(ws))],
        [str(second[0].relative_to(ws))],
    ]
    assert all(r["decision"] == "keep-held" and r["held_size"] == 300 for r in resolved)
    assert len(_entries(ws, "mirror.fork")) == 2
    code, out, err = run(*resolve, "--keep-held", "--reason", "again")
    assert code == 2, out + err
    assert "no open fork" in err
    code, out, err = run("--workspace", str(ws), "verify")  # the central log with its entries
    assert code == 0, out + err
