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
from edgeaudit.note.transition import transition_keys
from edgeaudit.note.verifier import Verifier, parse_note, verify_checkpoint
from edgeaudit.store.reader import LogReader
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import KeyChain


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
    checkpoint for (0 < old size < ``size``), ascending. Each note is verified through the key
    chain the store's transitions lead back from the log key ``verifier`` (an earlier key signs
    up to its transition), so checkpoints signed before a rotation are carried too; one that
    does not verify is not carried. Per size the transition note when there is one (the
    verifier follows the chain through it), else the first note stored."""
    stored = [c for c in reader.checkpoints() if 0 < c.tree_size < size]
    chain = KeyChain.from_notes([verifier], [c.note.encode("utf-8") for c in stored], origin)
    by_size: dict[int, list[str]] = {}
    for c in stored:
        by_size.setdefault(c.tree_size, []).append(c.note)
    out: list[bytes] = []
    for old_size in sorted(by_size):
        notes = sorted(by_size[old_size], key=lambda n: not is_transition(n))
        for note in notes:
            try:
                old = chain.verify_checkpoint(note.encode("utf-8"), origin)
            except NoteError:
                continue  # signed by no key of the chain valid at its size
            if old.size != old_size:
                continue
            proof = reader.consistency_proof(old.size, size)
            verify_consistency(old.size, size, old.root, root, proof)
            out.append(canonical_json(_line(note, old, size, proof)) + b"\n")
            break
    return b"".join(out)


def transition_at(
    reader: LogReader, verifier: Verifier, origin: str, size: int, root: bytes
) -> str | None:
    """The store's transition checkpoint of exactly ``size`` and ``root`` (a key rotation at
    the pack's own size), verified through the key chain the store's notes lead to from
    ``verifier``; None when the log's key did not change at that size.

    A pack carries a transition only as its ``checkpoint`` or as an earlier checkpoint
    (``consistency.jsonl``, sizes below the pack's): at the transition's own size, the pack's
    checkpoint must be the transition, or an auditor of the other key cannot follow it."""
    stored = [c for c in reader.checkpoints() if c.tree_size <= size]
    candidates = [c for c in stored if c.tree_size == size and is_transition(c.note)]
    if not candidates:
        return None
    chain = KeyChain.from_notes([verifier], [c.note.encode("utf-8") for c in stored], origin)
    for c in candidates:
        try:
            cp = chain.verify_checkpoint(c.note.encode("utf-8"), origin)
        except NoteError:
            continue  # not a hand-over of this chain: never carried
        if cp.size == size and cp.root == root:
            return c.note
    return None


def is_transition(note: str) -> bool:
    try:
        return transition_keys(Checkpoint.parse(parse_note(note.encode("utf-8")).body)) is not None
    except NoteError:
        return False
