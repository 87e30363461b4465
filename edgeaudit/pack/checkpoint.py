"""The checkpoint a pack carries and the key of the previous pack's: the log key that signed a
note, following the key transitions the store holds, and the store's transition checkpoint at
the pack's size when the log's key changed there."""

from __future__ import annotations

from dataclasses import replace

from edgeaudit.note.verifier import Verifier
from edgeaudit.pack.consistency import is_transition, transition_at
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.workspace.config import WorkspaceConfig


def key_that_signed(log: EvidenceLog, note: bytes, verifier: Verifier) -> Verifier:
    """The log key that signed ``note``, following the key transitions the store holds (the
    previous pack may predate a rotation); ``verifier`` when none did (the caller refuses)."""
    from edgeaudit.errors import NoteError
    from edgeaudit.verify.keychain import KeyChain

    with log.reader() as reader:
        notes = [c.note.encode("utf-8") for c in reader.checkpoints()]
    try:
        return KeyChain.from_notes([verifier], notes, log.origin).signer_of(note, log.origin)
    except NoteError:
        return verifier


def with_transition(
    config: WorkspaceConfig, log: EvidenceLog, cp: StoredCheckpoint, verifier: Verifier, own: bool
) -> StoredCheckpoint:
    """``cp``, or the store's transition checkpoint of its very size when the log's key changed
    there and ``cp`` is another note of that tree (e.g. ``--checkpoint`` signed by one of the
    two keys alone): the pack carries the hand-over as its checkpoint, so an auditor of either
    key can follow it. With the cosignatures the workspace keeps for it (own log only)."""
    if is_transition(cp.note):
        return cp
    with log.reader() as reader:
        note = transition_at(reader, verifier, log.origin, cp.tree_size, cp.root_hash)
    if note is None:
        return cp
    if own:
        from edgeaudit.verify.witnesses import witnessed_note

        note = witnessed_note(config.root, note, cp.tree_size)
    return replace(cp, note=note)
