"""Tile math: how the store persists the tree.

Tile ``(t, k)`` covers the nodes at tree levels ``4*t .. 4*t + 3`` above bottom-row indices
``16*k .. 16*k + w - 1``; ``w`` (its width) is 16 except for the rightmost tile of a level,
which may be partial. Its blob is the concatenation of four rows: row ``r`` holds the ``w >> r``
complete nodes at tree level ``4*t + r`` (row 0, the bottom row, of a level-0 tile holds leaf
hashes). So every complete node of the tree is a slice of exactly one tile, and a proof needs
one read and no hashing. The width follows from the blob length (:func:`width_of`).

The root (and the frontier) of a tree of size n depends only on the tiles of
:func:`right_edge` ``(n)``, so after :func:`extend_tiles` the new root can be computed from
``{**edge, **changed}`` without reading anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Final

from edgeaudit.canonical import HASH_SIZE, node_hash
from edgeaudit.merkle.tree import Node, NodeSource

TILE_HEIGHT: Final = 4
TILE_WIDTH: Final = 1 << TILE_HEIGHT

TileKey = tuple[int, int]
"""``(tile_level, tile_index)``."""

Fetch = Callable[[Collection[TileKey]], Mapping[TileKey, bytes]]


_ROWS: Final = range(TILE_HEIGHT)
_WIDTH_BY_COUNT: Final = {sum(w >> r for r in _ROWS): w for w in range(TILE_WIDTH + 1)}


def tile_hash_count(width: int) -> int:
    """How many hashes a tile of ``width`` bottom-row hashes stores (all its rows)."""
    return sum(width >> r for r in _ROWS)


def width_of(blob: bytes) -> int:
    """The bottom-row width of a tile blob; ValueError if the length fits no width."""
    count, rest = divmod(len(blob), HASH_SIZE)
    width = _WIDTH_BY_COUNT.get(count)
    if rest or width is None:
        raise ValueError(f"a tile blob of {len(blob)} bytes fits no tile width")
    return width


def bottom_row(blob: bytes) -> bytes:
    """The bottom-row hashes of a tile blob (leaf hashes for a level-0 tile)."""
    return blob[: width_of(blob) * HASH_SIZE]


def tile_width(size: int, key: TileKey) -> int:
    """How many hashes tile ``key`` holds in a tree of ``size`` leaves (0 if none)."""
    level, index = key
    count = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, count - TILE_WIDTH * index))


def right_edge(size: int) -> list[TileKey]:
    """The partial (0 < width < 16) rightmost tile of every tile level, bottom level first."""
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    out: list[TileKey] = []
    level, count = 0, size
    while count:
        if count % TILE_WIDTH:
            out.append((level, count // TILE_WIDTH))
        level += 1
        count >>= TILE_HEIGHT
    return out


def tile_for(node: Node) -> tuple[TileKey, int, int]:
    """``(tile key, first offset, count)``: where the bottom-row hashes of ``node`` lie."""
    level, index = node
    if level < 0 or index < 0:
        raise ValueError(f"invalid node {node}")
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    return (tile_level, first // TILE_WIDTH), first % TILE_WIDTH, 1 << height


def tiles_for(nodes: Iterable[Node]) -> set[TileKey]:
    """The tiles needed to compute ``nodes``."""
    return {tile_for(node)[0] for node in nodes}


def _split_hashes(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def extend_tiles(
    old_size: int, edge: Mapping[TileKey, bytes], new_leaves: Sequence[bytes]
) -> dict[TileKey, bytes]:
    """Append ``new_leaves`` to a tree of ``old_size`` leaves; return every changed tile.

    ``edge`` must hold exactly the tiles of :func:`right_edge` ``(old_size)``, with the widths
    that size implies. Each returned tile is the full new blob. A tile that fills up hands its
    subtree root to the level above.
    """
    if old_size < 0:
        raise ValueError(f"tree size must not be negative, got {old_size}")
    expected = right_edge(old_size)
    if set(edge) != set(expected):
        missing = sorted(set(expected) - set(edge))
        extra = sorted(set(edge) - set(expected))
        raise ValueError(
            f"right-edge tiles for size {old_size} must be {expected}; "
            f"missing {missing}, unexpected {extra}"
        )
    for key in expected:
        want = tile_hash_count(tile_width(old_size, key)) * HASH_SIZE
        if len(edge[key]) != want:
            raise ValueError(
                f"tile {key} of a tree of size {old_size} must be {want} bytes, "
                f"got {len(edge[key])}"
            )
    if any(n != HASH_SIZE for n in set(map(len, new_leaves))):
        i, leaf = next((i, x) for i, x in enumerate(new_leaves) if len(x) != HASH_SIZE)
        raise ValueError(f"new leaf {i} must be {HASH_SIZE} bytes, got {len(leaf)}")

    changed: dict[TileKey, bytes] = {}
    incoming = list(new_leaves)
    level, count = 0, old_size
    while incoming:
        first_tile = count // TILE_WIDTH
        partial = edge.get((level, first_tile), b"")
        row = _split_hashes(bottom_row(partial)) + incoming if partial else incoming
        # Rows 1..3 of every tile touched, and the roots of the full tiles, computed once for
        # the whole level (the row starts at a tile boundary, so pairs never straddle tiles).
        rows = [row]
        for _ in range(TILE_HEIGHT):
            below = rows[-1]
            rows.append(list(map(node_hash, below[0::2], below[1::2])))
        for offset in range(0, len(row), TILE_WIDTH):
            changed[(level, first_tile + offset // TILE_WIDTH)] = b"".join(
                h for r in _ROWS for h in rows[r][offset >> r : (offset + TILE_WIDTH) >> r]
            )
        incoming = rows[TILE_HEIGHT]
        level += 1
        count >>= TILE_HEIGHT
    return changed


class TileNodeSource(NodeSource):
    """A :class:`~edgeaudit.merkle.tree.NodeSource` over tiles, one ``fetch`` per call.

    ``fetch`` gets the set of tile keys needed and returns the blobs it has; a tile may be
    longer than ``size`` requires (the tree has grown), never shorter.
    """

    def __init__(self, size: int, fetch: Fetch) -> None:
        if size < 0:
            raise ValueError(f"tree size must not be negative, got {size}")
        self.size = size
        self._fetch = fetch

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        """The hash of each wanted complete node; :class:`LookupError` if a tile lacks it."""
        plans: list[tuple[Node, TileKey, int, int]] = []
        for node in wanted:
            level, index = node
            if level < 0 or index < 0 or (index + 1) << level > self.size:
                raise LookupError(f"node {node} is not complete in a tree of size {self.size}")
            key, first, count = tile_for(node)
            plans.append((node, key, first, count))
        if not plans:
            return {}
        tiles = self._fetch({key for _, key, _, _ in plans})
        out: dict[Node, bytes] = {}
        for node, key, first, count in plans:
            blob = tiles.get(key)
            if blob is None:
                raise LookupError(f"tile {key} is missing (needed for node {node})")
            width = width_of(blob)
            height = count.bit_length() - 1
            if first + count > width:
                raise LookupError(
                    f"tile {key} holds {width} hashes per row, node {node} needs "
                    f"{first + count} (tree size {self.size})"
                )
            start = (_row_start(width, height) + (first >> height)) * HASH_SIZE
            out[node] = blob[start : start + HASH_SIZE]
        return out


def _row_start(width: int, row: int) -> int:
    """Index of the first hash of ``row`` within a tile blob of ``width``."""
    return sum(width >> r for r in range(row))
