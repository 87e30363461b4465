"""``verified_at`` in the mirror's state is when the pass asked the pod for its checkpoint,
not when the pass ended: a campus assessment counts a pod covered up to that time, and the pod
may sign more while a long pass transfers tiles and entries."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import generate
from tests.mirror.conftest import central
from tests.mirror.hostile import Answer, HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

SLOW = 2.5  # seconds the pod stalls on its first tile, after serving its checkpoint


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_long_pass_records_the_time_it_asked_for_the_checkpoint(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = HostileLog(generate("campus.example/pod-slow"), event_entries("s", 40))
    pod = HostilePod(log, 40)
    asked: list[float] = []
    armed, stalled = threading.Event(), threading.Event()

    def hook(path: str, _headers: dict[str, str]) -> Answer | None:
        if path == "checkpoint":
            asked.append(time.time())
        elif path.startswith("tile/") and armed.is_set() and not stalled.is_set():
            stalled.set()
            time.sleep(SLOW)
        return None  # then the pod's own answer

    pod.hook = hook
    monkeypatch.setenv("VA_TOKEN", "t0ken")
    try:
        ws = central(tmp_path)
        argv = ["mirror", "add", pod.url, "--key", log.vkey, "--token-env", "VA_TOKEN"]
        code, _, err = run("--workspace", str(ws), *argv)
        assert code == 0, err
        asked.clear()  # `mirror add` asked too
        armed.set()
        code, out, err = run("--workspace", str(ws), "mirror", "sync", "--rate", "0")
        assert code == 0, out + err
    finally:
        pod.close()
    assert stalled.is_set()
    assert len(asked) == 1
    state = MirrorFiles(ws, log.origin).read_state()
    assert state["status"] == "synced"
    assert state["verified_size"] == 40
    # whole seconds, rounded down: at or before the request, and well before the pass ended
    assert _epoch(state["verified_at"]) <= asked[0]
    assert _epoch(state["attempted_at"]) >= asked[0] + SLOW - 1
    assert _epoch(state["verified_at"]) < _epoch(state["attempted_at"])
