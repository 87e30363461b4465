"""Log key rotation: the transition checkpoint (verify side).

A transition checkpoint is an ordinary C2SP checkpoint with one extension line
``next-key <verifier key>`` naming the log's next key, signed by the current key *and* by the
next one (a signed note may carry several signatures). The current key's signature hands trust
over; the next key's proves its holder took it. A verifier that does not know this extension
still reads a valid checkpoint.

Signing lives in :func:`edgeaudit.note.signer.sign_transition`; this module signs nothing.
"""

from __future__ import annotations

from typing import Final

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier

NEXT_KEY: Final = "next-key "


def next_key_line(verifier_key: str) -> str:
    """The extension line naming ``verifier_key`` as the log's next key."""
    return NEXT_KEY + Verifier.parse(verifier_key).verifier_key


def next_key(checkpoint: Checkpoint) -> Verifier | None:
    """The next key a transition checkpoint names, or None for an ordinary checkpoint.

    Raises :class:`NoteError` for a malformed ``next-key`` line or more than one of them.
    """
    lines = [e for e in checkpoint.extensions if e.startswith(NEXT_KEY)]
    if not lines:
        return None
    if len(lines) > 1:
        raise NoteError(
            f"checkpoint of size {checkpoint.size} names {len(lines)} next keys; a transition "
            "names exactly one"
        )
    try:
        return Verifier.parse(lines[0][len(NEXT_KEY) :])
    except InputError as exc:
        raise NoteError(
            f"checkpoint of size {checkpoint.size}: its next-key line is not an Ed25519 "
            f"verifier key ({exc})"
        ) from None
