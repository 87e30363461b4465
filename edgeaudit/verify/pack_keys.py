"""Which keys a pack is verified with: the log key chain and revoked keys (docs/pack-format.md,
"Keys: separation, rotation, revocation").

The log key chain starts at the keys the auditor trusts and follows the transition checkpoints
the pack carries (its checkpoint and the earlier checkpoints of its consistency files); the
manifest key chain starts at the trusted manifest key and follows rollover statements the
auditor is given. Verify side: no signing code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

import orjson

from edgeaudit.note.verifier import Verifier
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import KeyChain, Revocation, revoked_at
from edgeaudit.verify.pack_files import PackFileError, PackFiles, PackReport, lines


def _old_note(doc: object) -> bytes | None:
    note = doc.get("old_checkpoint") if isinstance(doc, dict) else None
    return note.encode("utf-8") if isinstance(note, str) else None


def log_chain(
    files: PackFiles, log_keys: Sequence[Verifier], origin: object, revoked: Sequence[Revocation]
) -> KeyChain:
    """The log key chain of this pack; malformed notes are skipped here (the checks of the
    files they are in report them)."""
    notes: list[bytes] = []
    try:
        if files.has(pf.CHECKPOINT):
            notes.append(files.read(pf.CHECKPOINT))
        if files.has(pf.CONSISTENCY):
            with contextlib.suppress(ValueError):
                notes.append(_old_note(json.loads(files.read(pf.CONSISTENCY))) or b"")
        if files.has(pf.CONSISTENCY_LOG):
            for _, raw in lines(files, pf.CONSISTENCY_LOG):
                try:
                    notes.append(_old_note(orjson.loads(raw)) or b"")
                except ValueError:
                    continue
    except PackFileError:
        pass  # reported by the file checks
    return KeyChain.from_notes(
        log_keys, [n for n in notes if n], origin if isinstance(origin, str) else None, revoked
    )


def check_manifest_revoked(
    kid: str, size: int | None, revoked: Sequence[Revocation], report: PackReport
) -> None:
    """A manifest signed by a key revoked as of size N is refused for a checkpoint beyond N
    (and when the pack's checkpoint is unproven, so its size is unknown)."""
    limit = revoked_at(kid, (), revoked)
    if limit is None:
        return
    if size is None:
        report.add(
            pf.MANIFEST_JWS,
            f"signed by manifest key {kid}, revoked as of tree size {limit}, and the pack's "
            "checkpoint is unproven",
        )
    elif size > limit:
        report.add(
            pf.MANIFEST_JWS,
            f"signed by manifest key {kid}, revoked as of tree size {limit}; this pack's "
            f"checkpoint has size {size}",
        )
