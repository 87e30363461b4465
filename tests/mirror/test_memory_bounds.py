"""The mirror's memory is bounded by bytes, not only by counts: a pod whose entries are large
(up to 64 KiB each, so an entry bundle of 256 can be 16 MiB) is stored in batches of at most
about ``PENDING_BYTES`` and fetched fewer bundles ahead, and the copy is still the pod's."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.events import prepare
from edgeaudit.mirror import fetch as sync
from edgeaudit.note.signer import generate
from edgeaudit.store.mirror import MirroredLog
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import central, events, mirrored
from tests.mirror.hostile import HostileLog, HostilePod
from tests.pack.helpers import run

ORIGIN = "big.example/pod-large-entries"


def test_ahead_follows_the_bundle_size() -> None:
    assert sync.ahead(0, 0) == sync.CONNECTIONS  # nothing measured yet: a cautious start
    assert sync.ahead(10, 10 * 128 * 1024) == sync.AHEAD  # 500-byte entries: the full window
    assert sync.ahead(2, 2 * (16 << 20)) == sync.AHEAD_BYTES // (16 << 20)  # 64 KiB entries
    assert sync.ahead(1, 1 << 40) == sync.CONNECTIONS


def test_large_entries_are_stored_in_batches_bounded_by_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    monkeypatch.setenv("BIG_TOKEN", "t")
    entries = [prepare({**e, "blob": "x" * 10_000}).body for e in events("big", 0, 600)]
    log = HostileLog(generate(ORIGIN), entries)
    pod = HostilePod(log, 600)
    batches: list[int] = []
    original = MirroredLog.extend

    def extend(self: MirroredLog, start: int, got: list[bytes]) -> int:
        batches.append(sum(map(len, got)))
        return original(self, start, got)

    monkeypatch.setattr(MirroredLog, "extend", extend)
    monkeypatch.setattr(sync, "PENDING_BYTES", 1 << 20)  # a bundle here is about 2.6 MB
    try:
        ws = central(tmp_path)
        add = ["mirror", "add", pod.url, "--key", log.vkey, "--token-env", "BIG_TOKEN"]
        assert run("--workspace", str(ws), *add)[0] == 0
        code, out, err = run("--workspace", str(ws), "mirror", "sync")
        assert code == 0, out + err
    finally:
        pod.close()
    assert len(batches) == 3  # one per bundle (256, 256, 88 entries), not one of 600
    assert max(batches) <= 256 * max(map(len, entries))
    assert mirrored(ws, ORIGIN) == (600, 600, entries)
