"""Collect cosignatures for a checkpoint from several witnesses (the log's side).

Each witness is asked in parallel, with a timeout. A witness that answers 409 with a size the
log has is asked once more, with a consistency proof from that size; one that is down, slow or
refuses is reported and skipped: the result says which answered.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from edgeaudit.canonical import signature_line, signed_note
from edgeaudit.errors import EdgeauditError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import CosignatureVerifier, parse_note
from edgeaudit.witness.client import WitnessClient, WitnessConflict

# proof(old_size, new_size) -> the RFC 6962 consistency proof between two sizes of the log
ProofSource = Callable[[int, int], Sequence[bytes]]


@dataclass(frozen=True)
class Witness:
    """A witness to ask: its submission URL and its verifier key (type 0x04)."""

    url: str
    key: CosignatureVerifier


@dataclass(frozen=True)
class Answer:
    """One witness's outcome: its cosignature lines, or why there are none."""

    witness: Witness
    lines: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Cosigned:
    """The checkpoint with every cosignature collected, and each witness's answer."""

    note: bytes
    answers: tuple[Answer, ...]

    @property
    def answered(self) -> tuple[Witness, ...]:
        return tuple(a.witness for a in self.answers if a.lines)


def collect_cosignatures(
    note: bytes,
    witnesses: Sequence[Witness],
    proof: ProofSource,
    old_sizes: Sequence[int] | None = None,
    timeout: float = 5.0,
) -> Cosigned:
    """Ask every witness to cosign ``note``; the note with the cosignatures that verify.

    ``old_sizes`` (one per witness) is the size each witness is believed to hold (default 0:
    a witness that holds another size says so with a 409, and is asked again from it).
    """
    size = Checkpoint.parse(parse_note(note).body).size
    olds = list(old_sizes) if old_sizes is not None else [0] * len(witnesses)

    def ask(i: int) -> Answer:
        w = witnesses[i]
        client = WitnessClient(w.url, timeout)
        try:
            old = olds[i]
            for _ in range(2):
                try:
                    steps = proof(old, size) if 0 < old < size else ()
                    return Answer(w, tuple(client.add_checkpoint(note, old, steps, w.key)))
                except WitnessConflict as conflict:
                    if conflict.latest_size > size or conflict.latest_size == old:
                        return Answer(w, error=str(conflict))
                    old = conflict.latest_size
            return Answer(w, error=f"witness {w.url} kept answering 409")
        except (EdgeauditError, OSError, http.client.HTTPException, ValueError) as exc:
            return Answer(w, error=f"witness {w.url}: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    with ThreadPoolExecutor(max(1, len(witnesses))) as pool:
        answers = tuple(pool.map(ask, range(len(witnesses))))
    parsed = parse_note(note)
    lines = [signature_line(s.name, s.key_id, s.signature) for s in parsed.signatures]
    for answer in answers:
        lines.extend(line for line in answer.lines if line not in lines)
    return Cosigned(signed_note(parsed.body, lines), answers)
