"""Verify a whole log in one streaming pass.

Recomputes every leaf hash from the exact stored bytes, the hash chain, the tree (and so every
signed checkpoint's root), checks each checkpoint's signature, every stored tile proofs are
served from, the head row, and optionally that the log still extends a checkpoint the verifier
saw earlier (which catches a rollback of the whole database). A large SQLite log is verified by
two processes when a CPU is free (:mod:`edgeaudit.verify.split`), with the same report. Every
contradiction becomes a :class:`Problem` naming the entry index or checkpoint size, with
expected and found values.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeaudit.errors import NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.verify import split, stream
from edgeaudit.verify.keychain import KeyChain, Revocation
from edgeaudit.verify.report import Problem, VerifyReport
from edgeaudit.verify.stream import stream_entries
from edgeaudit.verify.stream_checks import StoredTiles, Target


def _hex(b: bytes) -> str:
    return b.hex()


def _sqlite_file(log: EvidenceLog) -> str | None:
    """The log's SQLite file, or None (PostgreSQL, or an engine this cannot see)."""
    engine = getattr(log, "_engine", None)
    url = getattr(engine, "url", None)
    if url is None or url.get_backend_name() != "sqlite":
        return None
    return str(url.database) if url.database else None


def _check_notes(
    stored: Sequence[StoredCheckpoint],
    chain: KeyChain,
    origin: str,
    problems: list[Problem],
) -> list[Target]:
    targets: list[Target] = []
    for cp in stored:
        label = f"checkpoint of size {cp.tree_size}"
        try:
            parsed = chain.verify_checkpoint(cp.note.encode("utf-8"), origin)
        except NoteError as exc:
            problems.append(Problem("checkpoint.signature", f"{label}: {exc}"))
            continue
        if parsed.size != cp.tree_size or parsed.root != cp.root_hash:
            problems.append(
                Problem(
                    "checkpoint.row_mismatch",
                    f"{label}: the stored columns disagree with the signed note",
                    expected=f"size {parsed.size} root {_hex(parsed.root)}",
                    found=f"size {cp.tree_size} root {_hex(cp.root_hash)}",
                )
            )
        targets.append(Target(parsed.size, parsed.root, label, "checkpoint.root_mismatch"))
    return targets


def verify_log(
    log: EvidenceLog,
    verifiers: Sequence[Verifier],
    trusted: bytes | None = None,
    *,
    revoked: Sequence[Revocation] = (),
) -> VerifyReport:
    """Verify ``log`` against the trusted ``verifiers`` (the log's public key).

    ``trusted`` is a signed checkpoint note obtained earlier, independently of this store.
    Checkpoints are trusted through the key chain from ``verifiers`` (transition checkpoints
    in the store rotate the key) minus the ``revoked`` keys (:mod:`edgeaudit.verify.keychain`).
    Raises :class:`NoteError` only if ``trusted`` itself does not verify; everything found in
    the store is reported in the returned :class:`VerifyReport`.
    """
    return _verify_log(log, verifiers, trusted, revoked)


def _verify_log(
    log: EvidenceLog,
    verifiers: Sequence[Verifier],
    trusted: bytes | None,
    revoked: Sequence[Revocation] = (),
) -> VerifyReport:
    problems: list[Problem] = []
    trusted_cp: Checkpoint | None = None
    with log.reader() as reader:  # one snapshot: concurrent appends are not tampering
        stored = reader.checkpoints()
        notes = [cp.note.encode("utf-8") for cp in stored]
        keychain = KeyChain.from_notes(verifiers, notes, log.origin, revoked)
        if trusted is not None:
            trusted_cp = keychain.verify_checkpoint(trusted, log.origin)
        head_size, head_chain = reader.head()
        targets = _check_notes(stored, keychain, log.origin, problems)
        if trusted_cp is not None:
            targets.append(
                Target(
                    trusted_cp.size,
                    trusted_cp.root,
                    f"trusted checkpoint of size {trusted_cp.size}",
                    "trusted.not_extended",
                )
            )
        # On a large SQLite store, a second process verifies half of the entries meanwhile.
        helper = split.start(
            _sqlite_file(log),
            log.log_id,
            head_size,
            [t.size for t in targets],
            stream.CHUNK_LEVELS,
        )
        try:
            upper = {(lv, k): blob for lv, k, blob in reader.tiles(min_level=1)}
            tiles = StoredTiles(reader.tiles(level=0), upper)
            result = stream_entries(
                reader.iter_entries(),
                tiles,
                targets,
                problems,
                handoff=helper,
                rows_from=reader.iter_entries,
            )
        finally:
            if helper is not None:
                helper.close()
    size, chain, root = result.size, result.chain, result.root()
    for t in targets:
        if t.size > size:
            problems.append(
                Problem(
                    t.code if t.code == "trusted.not_extended" else "checkpoint.beyond_log",
                    f"{t.label}: the log has only {size} entries (truncated or rolled back)",
                    expected=f"at least {t.size} entries",
                    found=f"{size} entries",
                )
            )
    if head_size != size:
        problems.append(
            Problem(
                "log.size_mismatch",
                "the log's head row disagrees with the entries stored",
                expected=f"{head_size} entries",
                found=f"{size} entries",
            )
        )
    elif head_chain != chain:
        problems.append(
            Problem(
                "log.chain_head_mismatch",
                "the log's head row records a different chain head",
                expected=_hex(head_chain),
                found=_hex(chain),
            )
        )
    return VerifyReport(
        origin=log.origin,
        tree_size=size,
        entries_checked=size,
        checkpoints_checked=len(targets) - (trusted_cp is not None),
        root_hash=_hex(root),
        trusted_checkpoint=trusted_cp.size if trusted_cp else None,
        problems=tuple(problems),
    )
