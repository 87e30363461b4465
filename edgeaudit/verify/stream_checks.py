"""What the store's verification walk (:mod:`edgeaudit.verify.stream`) compares against the
store, and the problems it reports: the stored tiles (level 0 streamed in order, higher levels
in memory) against the nodes the walk computed, the signed roots against the recomputed root,
and the entries' indices, leaf and chain hashes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from edgeaudit.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey
from edgeaudit.verify.report import Problem

_MASK = TILE_WIDTH - 1


@dataclass(frozen=True, slots=True)
class Target:
    """A tree size at which the recomputed root must equal a signed root."""

    size: int
    root: bytes
    label: str
    code: str


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


def unexpected(idx: int, expected: int) -> Problem:
    return Problem(
        "entry.unexpected",
        f"a row with index {idx} is not part of the log (indices start at 0 and "
        f"increase by one; entry {expected} was expected next)",
        index=idx,
        expected=f"entry {expected}",
        found=f"entry {idx}",
    )


def missing(idx: int, expected: int) -> Problem:
    return Problem(
        "entry.missing",
        f"entry {expected} is missing: the next stored entry is {idx}",
        index=expected,
        expected=f"entry {expected}",
        found=f"entry {idx}",
    )


def entry_problems(
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


def full_tiles(
    n: int, bufs: list[bytearray], stored: StoredTiles, problems: list[Problem], first: int = 0
) -> None:
    """Compare the tiles that ``n`` leaves complete, from tile level ``first`` up."""
    t, m = first, n >> (TILE_HEIGHT * first)
    while m and not m & _MASK:
        _compare(t, (m >> TILE_HEIGHT) - 1, _tile_blob(bufs, t), stored, problems)
        t += 1
        m >>= TILE_HEIGHT


def partial_tiles(
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


def check_roots(root: bytes, targets: Sequence[Target], problems: list[Problem]) -> None:
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
