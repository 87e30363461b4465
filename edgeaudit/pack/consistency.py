"""A pack's consistency proofs: from the previous pack's checkpoint (``consistency.json``) and
from every earlier checkpoint the log signed (``consistency.jsonl``), so an auditor holding any
checkpoint of this log, kept from an earlier pack, can check that the log only grew since
(``verify PACK --trusted-checkpoint FILE``; docs/pack-format.md, "Kept checkpoints")."""

from __future__ import annotations

from typing import Any

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import InputError, NoteError, TamperError
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store.log import LogReader
from edgeaudit.verify import pack_format as pf


def previous_checkpoint(previous: bytes, verifier: Verifier, origin: str) -> Checkpoint:
    try:
        return verify_checkpoint(previous, [verifier], origin=origin)
    except NoteError as exc:
        raise InputError(f"the previous pack's checkpoint does not verify: {exc}") from None


def _line(note: str, old: Checkpoint, size: int, proof: list[bytes]) -> dict[str, Any]:
    return {
        "new_size": size,
        "old_checkpoint": note,
        "old_size": old.size,
        "proof": [pf.b64(h) for h in proof],
    }


def from_previous(
    reader: LogReader, previous: bytes, verifier: Verifier, origin: str, size: int, root: bytes
) -> dict[str, Any] | None:
    """``consistency.json``: the proof from the previous pack's checkpoint, or None when that
    checkpoint is empty or of this very size (RFC 9162 proves only 0 < old < new)."""
    old = previous_checkpoint(previous, verifier, origin)
    if old.size > size:
        raise TamperError(
            f"the previous pack's checkpoint has size {old.size}, larger than this one ({size})"
        )
    if old.size == size:
        if old.root != root:
            raise TamperError(
                f"the previous pack's checkpoint of size {size} has another root than the log"
            )
        return None
    if old.size == 0:
        return None
    proof = reader.consistency_proof(old.size, size)
    verify_consistency(old.size, size, old.root, root, proof)
    return _line(previous.decode("utf-8"), old, size, proof)


def from_earlier(
    reader: LogReader, verifier: Verifier, origin: str, size: int, root: bytes
) -> bytes:
    """``consistency.jsonl``: one canonical line per earlier tree size the log signed a
    checkpoint for (0 < old size < ``size``), ascending; the first note stored per size.
    Each note is verified with the log key first: one that does not verify is not carried."""
    out: list[bytes] = []
    seen: set[int] = set()
    for stored in reader.checkpoints():
        if not 0 < stored.tree_size < size or stored.tree_size in seen:
            continue
        note = stored.note.encode("utf-8")
        try:
            old = verify_checkpoint(note, [verifier], origin=origin)
        except NoteError:
            continue  # signed by another key: not this key's statement
        if old.size != stored.tree_size:
            continue
        proof = reader.consistency_proof(old.size, size)
        verify_consistency(old.size, size, old.root, root, proof)
        seen.add(old.size)
        out.append(canonical_json(_line(stored.note, old, size, proof)) + b"\n")
    return b"".join(out)
