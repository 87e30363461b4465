"""What the mirror keeps in the workspace besides the store, under ``mirror/``:

* ``state/<slug>.json``: per origin, how the last sync pass ended (``attempted_at``,
  ``status``, ``message``; ``error`` and ``failing_since`` while passes fail), the checkpoint
  size the pod served then (``fetched_size``, None when none was fetched) and the last pass that
  verified the pod's checkpoint and holds it (``verified_at``: when that checkpoint was asked
  for; ``verified_size``), for
  ``mirror list`` (:func:`MirrorFiles.record_pass`);
* ``state/<slug>.pending``: the pod's signed note a sync is storing entries for, written before
  the first entry it proves is stored and removed once the note is held; after a cut, the
  entries stored beyond the held checkpoint were proven against this note;
* ``witnessed/<slug>/<size>.note``: the pod's checkpoint of that size with the witnesses'
  cosignatures it was served with (the store holds it as the pod's log signed it); later
  copies of the same checkpoint add their cosignatures (:mod:`edgeaudit.mirror.cosigned`);
* ``forks/<slug>-<size>.txt`` (mode 600): the proof of a fork, two notes signed by the pod's
  key that contradict each other. While one is there, the origin is not synced; an operator
  moves it to ``forks/resolved/`` once the fork is dealt with.

Every file is written whole (a temporary file renamed over it) and fsynced.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIRROR_DIR = "mirror"
VERIFIED = frozenset({"synced", "up-to-date"})  # pass statuses that end holding the checkpoint


def slug(origin: str) -> str:
    """A file name for ``origin``: readable, and unique by a digest of the origin."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", origin).strip("-.")[:60] or "log"
    return f"{readable}-{hashlib.sha256(origin.encode()).hexdigest()[:8]}"


def last_verified(state: dict[str, Any]) -> tuple[str, int | None] | None:
    """(when, checkpoint size) of the last sync pass that verified the pod's checkpoint and
    holds it, from a state file's fields: ``verified_at``/``verified_size``, or in a state
    written before those, ``fetched_at``/``fetched_size`` when its last pass verified. None
    when none is recorded; the size None when it is not a whole number."""
    at, size = state.get("verified_at"), state.get("verified_size")
    if at is None and state.get("status") in VERIFIED:
        at, size = state.get("fetched_at"), state.get("fetched_size")
    if not isinstance(at, str):
        return None
    return at, size if type(size) is int else None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@dataclass(frozen=True)
class MirrorFiles:
    """The mirror's files of one origin in the workspace at ``root``."""

    root: Path
    origin: str

    @property
    def base(self) -> Path:
        return self.root / MIRROR_DIR

    @property
    def _slug(self) -> str:
        return slug(self.origin)

    @property
    def state_path(self) -> Path:
        return self.base / "state" / f"{self._slug}.json"

    @property
    def pending_path(self) -> Path:
        return self.base / "state" / f"{self._slug}.pending"

    def witnessed_path(self, size: int) -> Path:
        return self.base / "witnessed" / self._slug / f"{size}.note"

    def write_witnessed(self, size: int, note: bytes) -> None:
        _write(self.witnessed_path(size), note, 0o644)

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_state(self, **fields: Any) -> None:
        state = self.read_state()
        state.update(fields, origin=self.origin)
        _write(self.state_path, json.dumps(state, sort_keys=True).encode() + b"\n")

    def record_pass(
        self,
        status: str,
        message: str,
        checkpoint_size: int | None,
        asked_at: str | None = None,
    ) -> None:
        """Record how a sync pass ended (one atomic write of the state file): when, its status
        and message, the checkpoint size the pod served (None: none was fetched); when it
        verified and holds the pod's checkpoint, or else the error and since when passes
        fail. ``verified_at`` is ``asked_at``, the time just before the pod's checkpoint was
        asked for, not the pass's end: the checkpoint was the pod's newest at that time, while
        the pod may have signed more during a long pass (a campus assessment counts a pod as
        covered up to ``verified_at``)."""
        at = now()
        fields: dict[str, Any] = {"attempted_at": at, "status": status, "message": message}
        fields.update(fetched_size=checkpoint_size, fetched_at=asked_at or at)
        if status in VERIFIED:
            fields.update(verified_at=asked_at or at, verified_size=checkpoint_size)
            fields.update(error=None, failing_since=None)
        else:
            since = self.read_state().get("failing_since")
            fields.update(error=message or status, failing_since=since or at)
        self.write_state(**fields)

    def pending(self) -> bytes | None:
        try:
            return self.pending_path.read_bytes()
        except FileNotFoundError:
            return None

    def set_pending(self, note: bytes) -> None:
        _write(self.pending_path, note)

    def clear_pending(self) -> None:
        self.pending_path.unlink(missing_ok=True)

    def forks(self) -> list[Path]:
        """The fork proofs of this origin not yet moved to ``forks/resolved/``."""
        folder = self.base / "forks"
        if not folder.is_dir():
            return []
        return sorted(folder.glob(f"{self._slug}-*.txt"))

    def keep_fork(self, size: int, text: str) -> Path:
        """Write a new fork proof file (mode 600); never overwrite one, nor reuse the name of
        one archived in ``forks/resolved/`` (entries of the central log name them)."""
        folder = self.base / "forks"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        n = 0
        while True:
            name = f"{self._slug}-{size}{f'.{n}' if n else ''}.txt"
            path = folder / name
            if (folder / "resolved" / name).exists():  # names stay unique once archived
                n += 1
                continue
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                n += 1
                continue
            try:
                os.write(fd, text.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            return path
