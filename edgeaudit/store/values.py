"""The plain values an evidence log takes and gives (:mod:`edgeaudit.store.log`): what an append
reports, a quarantined record, a source's resume point, a stored checkpoint, and what the store
needs from a signer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edgeaudit.note.checkpoint import Checkpoint


class CheckpointSigner(Protocol):
    """What the store needs from a signer; the store never sees a private key."""

    @property
    def verifier_key(self) -> str: ...

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: int
    duplicates: int
    first_index: int | None
    tree_size: int
    quarantined: int = 0  # newly quarantined records (repeats of stored ones not counted)


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A source record that could not be parsed, with the reason."""

    source_kind: str
    source: str
    location: str
    reason: str
    raw: bytes
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """How far a source file has been read: committed together with what it produced."""

    source_kind: str
    path: str
    offset: int
    head_sha256: str  # SHA-256 of the file's first bytes: a different head means a new file


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    signed_at: str
