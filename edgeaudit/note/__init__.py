"""C2SP signed notes and checkpoints: the verify side.

Signing lives in :mod:`edgeaudit.note.signer`, which this package deliberately does not import,
so that verification code never loads signing code.
"""

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import (
    MAX_SIGNATURES,
    CosignatureVerifier,
    NoteSignature,
    ParsedNote,
    VerifiedNote,
    Verifier,
    parse_note,
    verify_checkpoint,
    verify_note,
)

__all__ = [
    "MAX_SIGNATURES",
    "Checkpoint",
    "CosignatureVerifier",
    "NoteSignature",
    "ParsedNote",
    "VerifiedNote",
    "Verifier",
    "parse_note",
    "verify_checkpoint",
    "verify_note",
]
