"""The add-checkpoint request body and the witness's refusals (c2sp.org/tlog-witness).

A request body is an ``old <N>`` line, 0 to 63 base64 consistency-proof lines, an empty line
and a signed checkpoint note, every line ending in a newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeaudit.canonical import HASH_SIZE
from edgeaudit.errors import NoteError
from edgeaudit.note.checkpoint import Checkpoint, b64decode_strict
from edgeaudit.note.verifier import ParsedNote, parse_note
from edgeaudit.witness.state import ForkEvidence

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 16 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]{0,19})")
_MAX_SIZE = 2**64 - 1


class Refusal(Exception):
    """The witness refuses a request: ``status`` is the HTTP status the spec prescribes."""

    def __init__(
        self,
        status: int,
        message: str,
        latest_size: int | None = None,
        fork: ForkEvidence | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.latest_size = latest_size
        self.fork = fork  # a validly signed checkpoint contradicting the cosigned one: kept


@dataclass(frozen=True)
class AddCheckpoint:
    """A syntactically valid add-checkpoint request; signatures NOT checked yet."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes
    parsed: ParsedNote
    checkpoint: Checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body; raise :class:`Refusal` (400) naming the line at fault."""
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(400, f"request body is over {MAX_BODY_BYTES} bytes")
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise Refusal(400, "request body has no empty line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise Refusal(400, "old size and proof lines must be ASCII") from None
    match = _OLD_RE.fullmatch(lines[0])
    if match is None or int(match.group(1)) > _MAX_SIZE:
        raise Refusal(
            400, f"line 1: expected 'old <size>' without leading zeros, found {lines[0][:40]!r}"
        )
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise Refusal(400, f"{len(proof_lines)} consistency proof lines; at most {MAX_PROOF_LINES}")
    proof = []
    for number, line in enumerate(proof_lines, start=2):
        raw = b64decode_strict(line)
        if raw is None or len(raw) != HASH_SIZE:
            raise Refusal(400, f"line {number}: expected the base64 of a {HASH_SIZE}-byte hash")
        proof.append(raw)
    try:
        parsed = parse_note(note)
        checkpoint = Checkpoint.parse(parsed.body)
    except NoteError as exc:
        raise Refusal(400, f"checkpoint: {exc}") from None
    return AddCheckpoint(int(match.group(1)), tuple(proof), note, parsed, checkpoint)


def format_add_checkpoint(
    old_size: int, proof: list[bytes] | tuple[bytes, ...], note: bytes
) -> bytes:
    """The request body for ``note`` with a proof from ``old_size`` (the client side)."""
    import base64

    lines = [f"old {old_size}"] + [base64.b64encode(h).decode("ascii") for h in proof]
    return ("\n".join(lines) + "\n\n").encode("ascii") + note
