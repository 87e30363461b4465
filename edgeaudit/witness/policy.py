"""The witness policy a verifier applies: at least N of these witness keys cosigned."""

from __future__ import annotations

import time
from collections.abc import Sequence

from edgeaudit.errors import InputError, NoteError, VerificationError
from edgeaudit.note.verifier import CosignatureVerifier, parse_note


def check_witness_policy(
    note: bytes,
    witnesses: Sequence[CosignatureVerifier],
    at_least: int,
    now: float | None = None,
) -> tuple[str, ...]:
    """The labels of the trusted witnesses whose cosignature on ``note`` verifies.

    Raise :class:`VerificationError` when fewer than ``at_least`` distinct trusted witnesses
    cosigned, and :class:`NoteError` when a line of a trusted witness does not verify (a
    malformed note) or claims a time more than 5 minutes ahead. Lines of other keys are
    ignored. The log's own signature is not checked here: verify the checkpoint first.
    """
    if not 1 <= at_least <= len(witnesses):
        raise InputError(
            f"a witness policy needs 1 <= N <= {len(witnesses)} (the keys given), got {at_least}"
        )
    trusted = {(w.name, w.key_id): w for w in witnesses}
    parsed = parse_note(note)
    limit = (time.time() if now is None else now) + 300
    seen: list[str] = []
    for sig in parsed.signatures:
        key = trusted.get((sig.name, sig.key_id))
        if key is None:
            continue
        key.verify(parsed.body, sig.signature)
        stamp = key.timestamp(sig.signature)
        if stamp > limit:
            raise NoteError(f"cosignature of {key.label} is dated in the future")
        if stamp == 0:
            continue  # no statement about the latest tree: witnesses must date cosignatures
        if key.label not in seen:
            seen.append(key.label)
    if len(seen) < at_least:
        raise VerificationError(
            f"witness policy not met: {len(seen)} of the required {at_least} trusted witnesses "
            f"cosigned ({', '.join(seen) or 'none'})"
        )
    return tuple(seen)
