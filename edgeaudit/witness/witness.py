"""The add-checkpoint decision: the checks of c2sp.org/tlog-witness, in the spec's order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edgeaudit.canonical import EMPTY_ROOT, signature_line, signed_note
from edgeaudit.errors import NoteError, ProofError
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.signer import Ed25519Cosigner
from edgeaudit.note.verifier import Verifier, verify_note
from edgeaudit.witness.protocol import AddCheckpoint, Refusal, parse_add_checkpoint
from edgeaudit.witness.state import Committer, ForkEvidence, LogState


@dataclass(frozen=True)
class KnownLog:
    """A log this witness cosigns: its origin and the keys it trusts for it."""

    origin: str
    verifiers: tuple[Verifier, ...]


class Witness:
    """Checks add-checkpoint requests and cosigns those that extend what it cosigned."""

    def __init__(
        self, cosigner: Ed25519Cosigner, logs: Sequence[KnownLog], committer: Committer
    ) -> None:
        self.cosigner = cosigner
        self.logs: Mapping[str, KnownLog] = {log.origin: log for log in logs}
        self.by_hash = {hashlib.sha256(o.encode()).hexdigest(): o for o in self.logs}
        self.committer = committer

    def add_checkpoint(self, body: bytes) -> bytes:
        """The 200 response body (cosignature lines); raise :class:`Refusal` otherwise."""
        request = parse_add_checkpoint(body)
        log = self.logs.get(request.checkpoint.origin)
        if log is None:
            raise Refusal(404, f"unknown log origin {request.checkpoint.origin!r}")
        try:
            verify_note(request.note, log.verifiers)
        except NoteError as exc:
            raise Refusal(403, str(exc)) from None
        if request.old_size > request.checkpoint.size:
            raise Refusal(
                400,
                f"old size {request.old_size} is larger than the checkpoint size "
                f"{request.checkpoint.size}",
            )
        return self.committer.submit(log.origin, lambda state: self._decide(request, state))

    def _decide(self, request: AddCheckpoint, state: LogState | None) -> tuple[LogState, bytes]:
        cp = request.checkpoint
        latest = state.size if state is not None else 0
        if request.old_size != latest:
            raise Refusal(
                409,
                f"old size {request.old_size}, but the latest cosigned size is {latest}",
                latest_size=latest,
            )
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise Refusal(422, "a checkpoint of size 0 must have the empty tree's root")
        if request.old_size == 0:
            if request.proof:
                raise Refusal(422, "old size 0 needs an empty consistency proof")
        else:
            assert state is not None
            if cp.size == state.size:
                if cp.root != state.root:
                    reason = f"size {cp.size} was cosigned with a different root hash"
                    fork = ForkEvidence(cp.origin, request.note, state.note, reason)
                    raise Refusal(422, reason, fork=fork)
                if request.proof:
                    raise Refusal(422, "equal sizes need an empty consistency proof")
            else:
                try:
                    verify_consistency(state.size, cp.size, state.root, cp.root, request.proof)
                except ProofError as exc:
                    # A bad proof is not by itself a fork (a client may err); keep the note
                    # anyway: signed by the log's key, it is a claim the log cannot take back.
                    reason = f"consistency proof from {state.size} does not verify: {exc}"
                    fork = ForkEvidence(cp.origin, request.note, state.note, reason)
                    raise Refusal(422, reason, fork=fork) from None
        line = self.cosigner.signature_line(request.parsed.body)
        trusted = {(v.name, v.key_id) for v in self.logs[cp.origin].verifiers}
        kept = [
            signature_line(s.name, s.key_id, s.signature)
            for s in request.parsed.signatures
            if (s.name, s.key_id) in trusted
        ]
        stored = signed_note(request.parsed.body, [*kept, line])
        return LogState(cp.size, cp.root, stored), line.encode("utf-8")

    def checkpoint(self, origin_hash: str) -> bytes | None:
        """The latest cosigned checkpoint of the log with this origin hash, if any."""
        origin = self.by_hash.get(origin_hash)
        state = self.committer.state(origin) if origin is not None else None
        return state.note if state is not None else None
