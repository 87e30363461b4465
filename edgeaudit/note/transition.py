"""Log key rotation: the transition checkpoint (verify side).

A transition checkpoint is an ordinary C2SP checkpoint with two extension lines,
``prev-key <verifier key>`` and ``next-key <verifier key>``, naming the log's key up to its
size and the one from its size on, signed by both keys (a signed note may carry several
signatures). The previous key's signature hands trust over; the next key's proves its holder
took it. An auditor who trusts the previous key follows ``next-key``; the log's operator, who
holds the next key, follows ``prev-key`` back to the earlier history. A verifier that does not
know these extensions still reads a valid checkpoint.

Signing lives in :func:`edgeaudit.note.signer.sign_transition`; this module signs nothing.
"""

from __future__ import annotations

from typing import Final

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier

PREV_KEY: Final = "prev-key "
NEXT_KEY: Final = "next-key "


def transition_lines(previous: str, following: str) -> tuple[str, str]:
    """The two extension lines of a transition from key ``previous`` to ``following``."""
    return (
        PREV_KEY + Verifier.parse(previous).verifier_key,
        NEXT_KEY + Verifier.parse(following).verifier_key,
    )


def transition_keys(checkpoint: Checkpoint) -> tuple[Verifier, Verifier] | None:
    """The (previous, next) keys a transition checkpoint names, or None for an ordinary one.

    Raises :class:`NoteError` unless there is exactly one well-formed line of each, naming two
    different keys.
    """
    found: dict[str, Verifier] = {}
    for prefix in (PREV_KEY, NEXT_KEY):
        lines = [e for e in checkpoint.extensions if e.startswith(prefix)]
        if not lines:
            continue
        if len(lines) > 1:
            raise NoteError(
                f"checkpoint of size {checkpoint.size} has {len(lines)} {prefix.strip()} lines; "
                "a transition has exactly one"
            )
        try:
            found[prefix] = Verifier.parse(lines[0][len(prefix) :])
        except InputError as exc:
            raise NoteError(
                f"checkpoint of size {checkpoint.size}: its {prefix.strip()} line is not an "
                f"Ed25519 verifier key ({exc})"
            ) from None
    if not found:
        return None
    if len(found) != 2 or found[PREV_KEY].label == found[NEXT_KEY].label:
        raise NoteError(
            f"checkpoint of size {checkpoint.size}: a transition names a previous and a "
            "different next key"
        )
    return found[PREV_KEY], found[NEXT_KEY]
