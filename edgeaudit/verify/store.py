"""Verify a whole log in one streaming pass.

Recomputes every leaf hash from the exact stored bytes, the hash chain, the tree (and so every
signed checkpoint's root), checks each checkpoint's signature, the level-0 tiles proofs are
served from, the head row, and optionally that the log still extends a checkpoint the verifier
saw earlier (which catches a rollback of the whole database). Every contradiction becomes a
:class:`Problem` naming the entry index or checkpoint size, with expected and found values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, leaf_hash
from edgeaudit.errors import NoteError
from edgeaudit.merkle.tree import CompactRange
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.verify.report import Problem, VerifyReport

_TILE = 16


@dataclass(frozen=True, slots=True)
class _Target:
    """A tree size at which the recomputed root must equal a signed root."""

    size: int
    root: bytes
    label: str
    code: str


def _hex(b: bytes) -> str:
    return b.hex()


def _check_notes(
    stored: Sequence[StoredCheckpoint],
    verifiers: Sequence[Verifier],
    origin: str,
    problems: list[Problem],
) -> list[_Target]:
    targets: list[_Target] = []
    for cp in stored:
        label = f"checkpoint of size {cp.tree_size}"
        try:
            parsed = verify_checkpoint(cp.note.encode("utf-8"), verifiers, origin=origin)
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
        targets.append(_Target(parsed.size, parsed.root, label, "checkpoint.root_mismatch"))
    return targets


def verify_log(
    log: EvidenceLog,
    verifiers: Sequence[Verifier],
    trusted: bytes | None = None,
) -> VerifyReport:
    """Verify ``log`` against the trusted ``verifiers`` (the log's public key).

    ``trusted`` is a signed checkpoint note obtained earlier, independently of this store.
    Raises :class:`NoteError` only if ``trusted`` itself does not verify; everything found in
    the store is reported in the returned :class:`VerifyReport`.
    """
    problems: list[Problem] = []
    targets = _check_notes(log.checkpoints(), verifiers, log.origin, problems)
    trusted_cp: Checkpoint | None = None
    if trusted is not None:
        trusted_cp = verify_checkpoint(trusted, verifiers, origin=log.origin)
        targets.append(
            _Target(
                trusted_cp.size,
                trusted_cp.root,
                f"trusted checkpoint of size {trusted_cp.size}",
                "trusted.not_extended",
            )
        )
    head_size, head_chain = log.head()
    with log.reader() as reader:
        size, chain, rng = _stream(reader.iter_entries(), reader.tiles(level=0), targets, problems)
        tile_root = reader.root(size) if size and size <= head_size else None
    root = rng.root()
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
    if tile_root is not None and tile_root != root:
        problems.append(
            Problem(
                "tiles.root_mismatch",
                f"the stored tree tiles give another root for size {size}",
                expected=_hex(root),
                found=_hex(tile_root),
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


def _stream(
    rows: Iterator[tuple[int, bytes, bytes, bytes]],
    tiles: Iterator[tuple[int, int, bytes]],
    targets: Sequence[_Target],
    problems: list[Problem],
) -> tuple[int, bytes, CompactRange]:
    """The hot loop: one pass over the entries. Returns (entries seen, last chain, tree)."""
    by_size: dict[int, list[_Target]] = {}
    for t in targets:
        by_size.setdefault(t.size, []).append(t)
    rng = CompactRange()
    push = rng.append
    leaf_of, chain_of = leaf_hash, chain_hash
    expected, prev = 0, GENESIS_CHAIN
    group = bytearray()
    tile_iter = _Peek(tiles)
    for idx, body, stored_leaf, stored_chain in rows:
        if idx != expected:
            problems.append(
                Problem(
                    "entry.missing",
                    f"entry {expected} is missing: the next stored entry is {idx}",
                    index=expected,
                    expected=f"entry {expected}",
                    found=f"entry {idx}",
                )
            )
            expected = idx
        leaf = leaf_of(body)
        if leaf != stored_leaf:
            problems.append(
                Problem(
                    "entry.modified",
                    f"entry {idx}: its bytes do not hash to the leaf hash recorded at append",
                    index=idx,
                    expected=_hex(stored_leaf),
                    found=_hex(leaf),
                )
            )
        chain = chain_of(prev, leaf)
        if chain != stored_chain:
            problems.append(
                Problem(
                    "entry.chain_mismatch",
                    f"entry {idx}: chain hash does not follow from entry {idx - 1} "
                    "(entry inserted, removed, reordered or rewritten here)",
                    index=idx,
                    expected=_hex(chain),
                    found=_hex(stored_chain),
                )
            )
        prev = stored_chain
        push(leaf)
        group += leaf
        expected += 1
        if len(group) == _TILE * 32:
            _check_tile(tile_iter, (expected - 1) // _TILE, bytes(group), problems)
            group.clear()
        if expected in by_size:
            _check_roots(rng.root(), by_size[expected], problems)
    if group:
        _check_tile(tile_iter, (expected - 1) // _TILE, bytes(group), problems)
    return expected, prev, rng


def _check_roots(root: bytes, targets: Sequence[_Target], problems: list[Problem]) -> None:
    for t in targets:
        if t.root != root:
            problems.append(
                Problem(
                    t.code,
                    f"{t.label}: the signed root differs from the root recomputed from the "
                    "stored entries (entries rewritten, or the store rolled back)",
                    expected=_hex(t.root),
                    found=_hex(root),
                )
            )


class _Peek:
    """An iterator over stored level-0 tiles that can look at the next one without taking it."""

    def __init__(self, tiles: Iterator[tuple[int, int, bytes]]) -> None:
        self._it = tiles
        self._next: tuple[int, int, bytes] | None = None

    def take_until(self, tidx: int) -> tuple[int, int, bytes] | None:
        """Skip tiles before ``tidx``; return tile ``tidx`` (consumed) or None if absent."""
        while True:
            if self._next is None:
                self._next = next(self._it, None)
                if self._next is None:
                    return None
            current = self._next
            if current[1] < tidx:
                self._next = None
                continue
            if current[1] == tidx:
                self._next = None
                return current
            return None


def _check_tile(tiles: _Peek, tidx: int, want: bytes, problems: list[Problem]) -> None:
    found = tiles.take_until(tidx)
    if found is not None and found[2] == want:
        return
    first, count = tidx * _TILE, len(want) // 32
    problems.append(
        Problem(
            "tiles.mismatch" if found else "tiles.missing",
            f"stored tree tile 0/{tidx} does not match the leaf hashes of entries "
            f"{first}..{first + count - 1}",
            index=first,
            expected=f"{count} recomputed leaf hashes",
            found=f"{len(found[2]) // 32} hashes, not all equal" if found else "no tile",
        )
    )
