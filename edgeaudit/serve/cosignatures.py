"""The witnesses' cosignatures served with a log's newest checkpoint, as ``GET
/api/v1/checkpoint`` lists them.

The lines listed are those of the cosigned copy the workspace keeps for the checkpoint (what
``GET /checkpoint`` serves: ``witnessed/<size>.note``, or for a mirrored pod's log the copy
``mirror sync`` keeps) that the log's own note does not carry. Each is read as C2SP
cosignature/v1 lays out its signature: a 4-byte key id, an 8-byte big-endian timestamp, then
64 Ed25519 signature bytes. A line is ``verified`` only when its key name and key id are those
of a ``[[witness]]`` key of ``edgeaudit.toml`` and its cosignature verifies over this
checkpoint, dated (not 0) and at most 5 minutes ahead of the server's clock, as ``verify
--witness-policy`` accepts one; every other line is listed with ``verified: false`` and the
reason (``problem``), never dropped and never vouched for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from edgeaudit.errors import NoteError
from edgeaudit.note.verifier import (
    ED25519_SIGNATURE_SIZE,
    MAX_COSIGNATURE_TIMESTAMP,
    CosignatureVerifier,
    NoteSignature,
    parse_note,
)
from edgeaudit.workspace.config import WitnessEntry

COSIGNATURE_SIZE: Final = 8 + ED25519_SIGNATURE_SIZE
FUTURE_SLACK: Final = 300  # seconds a cosignature may be dated ahead of the server's clock
FUTURE: Final = "dated more than 5 minutes ahead of the server's clock"
UNKNOWN: Final = "not checked: no [[witness]] key of this name and key id is configured"

WitnessKeys = Mapping[tuple[str, bytes], CosignatureVerifier]


@dataclass(frozen=True)
class Cosignature:
    """One witness line served with a checkpoint, and whether the server verified it."""

    name: str
    key_id: str  # 8 hex digits
    timestamp: int | None  # POSIX seconds; None when the line is no cosignature/v1 signature
    line: str  # as in the note, with its newline
    verified: bool
    problem: str | None  # why it is not verified; None when it is

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key_id": self.key_id,
            "timestamp": self.timestamp,
            "line": self.line,
            "verified": self.verified,
            "problem": self.problem,
        }


def witness_keys(entries: Sequence[WitnessEntry]) -> dict[tuple[str, bytes], CosignatureVerifier]:
    """The ``[[witness]]`` keys by (key name, key id) (``edgeaudit.toml`` was checked on load)."""
    keys = (CosignatureVerifier.parse(w.key) for w in entries)
    return {(k.name, k.key_id): k for k in keys}


def cosignatures(
    log_note: str, served: str, keys: WitnessKeys, now: float
) -> tuple[Cosignature, ...]:
    """The lines of ``served`` (the cosigned copy of ``log_note``) that ``log_note`` does not
    carry, each judged against ``keys`` at time ``now``. A copy that does not parse, or whose
    signed body is not the log's, lists nothing (it is not the checkpoint's)."""
    try:
        own = parse_note(log_note.encode())
        parsed = parse_note(served.encode())
    except NoteError:
        return ()
    if parsed.body != own.body:
        return ()
    mine = {(s.name, s.key_id) for s in own.signatures}
    block = served[served.rfind("\n\n") + 2 :]  # split as parse_note splits it
    lines = [line + "\n" for line in block[:-1].split("\n")]
    return tuple(
        _judge(parsed.body, sig, line, keys.get((sig.name, sig.key_id)), now)
        for sig, line in zip(parsed.signatures, lines, strict=True)
        if (sig.name, sig.key_id) not in mine
    )


def _timestamp(sig: NoteSignature) -> int | None:
    if len(sig.signature) != COSIGNATURE_SIZE:
        return None
    value = int.from_bytes(sig.signature[:8], "big")
    return value if value <= MAX_COSIGNATURE_TIMESTAMP else None


def _judge(
    body: bytes, sig: NoteSignature, line: str, key: CosignatureVerifier | None, now: float
) -> Cosignature:
    stamp = _timestamp(sig)
    problem = _problem(body, sig, stamp, key, now)
    return Cosignature(sig.name, sig.key_id.hex(), stamp, line, problem is None, problem)


def _problem(
    body: bytes, sig: NoteSignature, stamp: int | None, key: CosignatureVerifier | None, now: float
) -> str | None:
    if stamp is None:
        return (
            f"not a cosignature/v1 line: {len(sig.signature)} signature bytes, expected "
            f"{COSIGNATURE_SIZE} (timestamp and Ed25519 signature)"
        )
    if key is None:
        return UNKNOWN
    try:
        key.verify(body, sig.signature)
    except NoteError:
        return "the cosignature does not verify over this checkpoint with the [[witness]] key"
    if stamp == 0:
        return "undated (timestamp 0): no statement about the latest tree"
    if stamp > now + FUTURE_SLACK:
        return FUTURE
    return None
