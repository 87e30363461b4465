"""Sign a checkpoint of the workspace log, never contradicting one signed before.

Besides the checkpoints in the database, the signer keeps its own record of the last note it
signed next to its key (``keys/last-checkpoint``). A database rolled back or rewritten behind
the signer's back therefore cannot make it sign a split view.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.keys import log_signer


def _read_state(path: Path) -> list[bytes]:
    try:
        return [path.read_bytes()]
    except FileNotFoundError:
        return []


def _write_state(path: Path, note: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(note)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def sign_checkpoint(config: WorkspaceConfig, log: EvidenceLog) -> StoredCheckpoint:
    with log_signer(config) as signer:
        stored = log.sign_checkpoint(signer, trusted=_read_state(config.state_file))
    _write_state(config.state_file, stored.note.encode("utf-8"))
    return stored
