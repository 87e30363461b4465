"""Whole-chunk versions of the store walk's checks, for the helper process
(:mod:`edgeaudit.verify.split`): every node of an aligned chunk a level of the tree at a time,
the tiles complete within it, and the frontier nodes inside it at a signed size. The caller's
walk (:mod:`edgeaudit.verify.stream`) adopts what they give only when the whole range is
clean."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from edgeaudit.canonical import HASH_SIZE, chain_hash, leaf_hash, node_hash
from edgeaudit.merkle.tiles import TILE_HEIGHT, TILE_WIDTH

_MASK = TILE_WIDTH - 1


def chunk_levels(
    rows: Sequence[tuple[int, bytes, bytes, bytes]], start: int, previous: bytes
) -> list[list[bytes]] | None:
    """Every node of an aligned chunk's subtree, a level at a time (``levels[h]`` holds
    ``len(rows) >> h`` hashes, leaves first, the chunk's root last), when the rows are entries
    ``start ..`` in order and every stored leaf and chain hash is what their bytes give
    (``previous``: the stored chain hash before ``start``); else None."""
    size = len(rows)
    idxs, bodies, stored_leaves, stored_chains = zip(*rows, strict=True)
    if idxs != tuple(range(start, start + size)):
        return None
    leaves = list(map(leaf_hash, bodies))
    if tuple(leaves) != stored_leaves:
        return None
    if tuple(map(chain_hash, (previous, *stored_chains[:-1]), leaves)) != stored_chains:
        return None
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(list(map(node_hash, below[0::2], below[1::2])))
    return levels


def chunk_tiles(levels: list[list[bytes]], start: int) -> Iterator[tuple[int, int, int, bytes]]:
    """The tiles complete within a chunk as ``(leaves from the chunk's start, tile level, tile
    index, recomputed blob)``, in the order the row loop compares them."""
    height = len(levels) - 1
    joined = [b"".join(nodes) for nodes in levels[:height]]
    for at in range(TILE_WIDTH, len(levels[0]) + 1, TILE_WIDTH):
        t, m = 0, at
        while t < height // TILE_HEIGHT and not m & _MASK:
            k = (m >> TILE_HEIGHT) - 1
            rows = joined[TILE_HEIGHT * t : TILE_HEIGHT * (t + 1)]
            blob = b"".join(
                row[k * (TILE_WIDTH >> r) * HASH_SIZE : (k + 1) * (TILE_WIDTH >> r) * HASH_SIZE]
                for r, row in enumerate(rows)
            )
            yield at, t, (start >> (TILE_HEIGHT * (t + 1))) + k, blob
            t += 1
            m >>= TILE_HEIGHT


def prefix_nodes(levels: list[list[bytes]], offset: int) -> list[bytes]:
    """The perfect subtrees of a chunk's first ``offset`` leaves, largest first (what the
    frontier holds beyond the chunk's start when the tree has grown ``offset`` into it)."""
    nodes, done = [], 0
    for h in range(len(levels) - 1, -1, -1):
        if offset >> h & 1:
            nodes.append(levels[h][done >> h])
            done += 1 << h
    return nodes
