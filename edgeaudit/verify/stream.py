"""The hot loop of store verification: one pass over the entries in index order.

Per entry: recompute the leaf hash from the exact stored bytes and the chain hash, and push the
leaf onto the tree's frontier. Every interior node of the tree is computed exactly once by the
frontier's merges; those nodes are collected per tile and compared with the stored tiles, so
every hash a proof could be served from is checked without extra hashing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from edgeaudit.canonical import GENESIS_CHAIN, entry_hashes, node_hash
from edgeaudit.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey
from edgeaudit.merkle.tree import CompactRange
from edgeaudit.verify.report import Problem

_MASK = TILE_WIDTH - 1


@dataclass(frozen=True, slots=True)
class Target:
    """A tree size at which the recomputed root must equal a signed root."""

    size: int
    root: bytes
    label: str
    code: str


@dataclass(slots=True)
class StreamResult:
    size: int = 0
    chain: bytes = GENESIS_CHAIN
    frontier: list[bytes] = field(default_factory=list)

    def root(self) -> bytes:
        return CompactRange.from_nodes(self.size, self.frontier).root()


class StoredTiles:
    """Stored tiles to compare against: level 0 streamed in order, higher levels in memory."""

    def __init__(
        self, level0: Iterator[tuple[int, int, bytes]], upper: Mapping[TileKey, bytes]
    ) -> None:
        self._level0 = level0
        self._next: tuple[int, int, bytes] | None = None
        self._upper = upper

    def get(self, key: TileKey) -> bytes | None:
        level, tidx = key
        if level:
            return self._upper.get(key)
        while True:
            if self._next is None:
                self._next = next(self._level0, None)
                if self._next is None:
                    return None
            current = self._next
            if current[1] < tidx:
                self._next = None
                continue
            if current[1] == tidx:
                self._next = None
                return current[2]
            return None


def stream_entries(
    rows: Iterator[tuple[int, bytes, bytes, bytes]],
    stored_tiles: StoredTiles,
    targets: Sequence[Target],
    problems: list[Problem],
) -> StreamResult:
    by_size: dict[int, list[Target]] = {}
    for t in targets:
        by_size.setdefault(t.size, []).append(t)
    sizes = [*sorted(by_size), -1]
    next_size, next_pos = sizes[0], 1
    hashes_of, node_of = entry_hashes, node_hash
    stack: list[bytes] = []
    pop, push = stack.pop, stack.append
    bufs = [bytearray() for _ in range(66)]  # nodes per tree level, for the current tile
    bottom = bufs[0]
    mask = _MASK
    expected, n, prev = 0, 0, GENESIS_CHAIN
    for idx, body, stored_leaf, stored_chain in rows:
        if idx != expected:
            if idx < expected:
                problems.append(_unexpected(idx, expected))
                continue
            problems.append(_missing(idx, expected))
            expected = idx
        leaf, chain = hashes_of(prev, body)
        if leaf != stored_leaf or chain != stored_chain:
            problems += _entry_problems(idx, leaf, stored_leaf, chain, stored_chain)
        prev = stored_chain
        # frontier push: each merge completes one interior node of the tree
        bottom += leaf
        h, bits, level = leaf, n, 0
        while bits & 1:
            h = node_of(pop(), h)
            bits >>= 1
            level += 1
            bufs[level] += h
        push(h)
        expected += 1
        n += 1
        if not n & mask:
            _full_tiles(n, bufs, stored_tiles, problems)
        if n == next_size:
            _check_roots(StreamResult(n, prev, stack).root(), by_size[n], problems)
            next_size, next_pos = sizes[next_pos], next_pos + 1
    _partial_tiles(n, bufs, stored_tiles, problems)
    return StreamResult(n, prev, stack)


def _unexpected(idx: int, expected: int) -> Problem:
    return Problem(
        "entry.unexpected",
        f"a row with index {idx} is not part of the log (indices start at 0 and "
        f"increase by one; entry {expected} was expected next)",
        index=idx,
        expected=f"entry {expected}",
        found=f"entry {idx}",
    )


def _missing(idx: int, expected: int) -> Problem:
    return Problem(
        "entry.missing",
        f"entry {expected} is missing: the next stored entry is {idx}",
        index=expected,
        expected=f"entry {expected}",
        found=f"entry {idx}",
    )


def _entry_problems(
    idx: int, leaf: bytes, stored_leaf: bytes, chain: bytes, stored_chain: bytes
) -> list[Problem]:
    out = []
    if leaf != stored_leaf:
        out.append(
            Problem(
                "entry.modified",
                f"entry {idx}: its bytes do not hash to the leaf hash recorded at append",
                index=idx,
                expected=stored_leaf.hex(),
                found=leaf.hex(),
            )
        )
    if chain != stored_chain:
        out.append(
            Problem(
                "entry.chain_mismatch",
                f"entry {idx}: chain hash does not follow from entry {idx - 1} "
                "(entry inserted, removed, reordered or rewritten here)",
                index=idx,
                expected=chain.hex(),
                found=stored_chain.hex(),
            )
        )
    return out


def _tile_blob(bufs: list[bytearray], t: int) -> bytes:
    base = TILE_HEIGHT * t
    blob = b"".join(bufs[base : base + TILE_HEIGHT])
    for r in range(TILE_HEIGHT):
        bufs[base + r].clear()
    return blob


def _full_tiles(
    n: int, bufs: list[bytearray], stored: StoredTiles, problems: list[Problem]
) -> None:
    t, m = 0, n
    while m and not m & _MASK:
        _compare(t, (m >> TILE_HEIGHT) - 1, _tile_blob(bufs, t), stored, problems)
        t += 1
        m >>= TILE_HEIGHT


def _partial_tiles(
    n: int, bufs: list[bytearray], stored: StoredTiles, problems: list[Problem]
) -> None:
    t, m = 0, n
    while m:
        if bufs[TILE_HEIGHT * t]:
            _compare(t, m >> TILE_HEIGHT, _tile_blob(bufs, t), stored, problems)
        t += 1
        m >>= TILE_HEIGHT


def _compare(t: int, k: int, want: bytes, stored: StoredTiles, problems: list[Problem]) -> None:
    found = stored.get((t, k))
    if found == want:
        return
    span = TILE_WIDTH ** (t + 1)
    problems.append(
        Problem(
            "tiles.mismatch" if found is not None else "tiles.missing",
            f"stored tree tile {t}/{k} (covering entries {k * span}..{(k + 1) * span - 1}) "
            "does not match the tree recomputed from the entries",
            index=k * span,
            expected=f"{len(want) // 32} recomputed node hashes",
            found="no tile" if found is None else f"{len(found) // 32} hashes, not all equal",
        )
    )


def _check_roots(root: bytes, targets: Sequence[Target], problems: list[Problem]) -> None:
    for t in targets:
        if t.root != root:
            problems.append(
                Problem(
                    t.code,
                    f"{t.label}: the signed root differs from the root recomputed from the "
                    "stored entries (entries rewritten, or the store rolled back)",
                    expected=t.root.hex(),
                    found=root.hex(),
                )
            )
