"""Authenticate C2SP hash tiles against a signed root, and compute roots from them.

A tree of ``size`` leaves has, at each tile level ``k`` (tree level ``8 k``), ``size >> 8k``
complete nodes: full tiles of 256 and, unless the count is a multiple of 256, one partial
tile of the rest. Every hash of a tile is authenticated by one of two rules:

* a **full** tile hashes (as a perfect subtree of 256) to one node of tree level ``8 (k + 1)``,
  which must equal the hash at that position of its parent tile ``(k + 1, n // 256)``, itself
  authenticated (the parent tile is fetched at the width the signed size gives it);
* a **partial** tile's hashes are exactly the nodes the root of ``size`` is folded from at tree
  levels ``8 k .. 8 k + 7``; so once the root folded from the partial tiles of every level
  equals the signed root, every partial tile is authenticated.

Then any node of the tree (and the root of any smaller size, for the consistency check) is
computed from authenticated hashes only. No network, no store: the caller fetches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from edgeaudit.canonical import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from edgeaudit.errors import VerificationError
from edgeaudit.merkle.c2sp import C2SP_HEIGHT, C2SP_WIDTH, TileRef
from edgeaudit.merkle.tree import frontier_nodes

TileId = tuple[int, int]  # (tile level k, tile index n)
_HEIGHT: Final = C2SP_HEIGHT
_WIDTH: Final = C2SP_WIDTH


class TileMismatch(VerificationError):
    """Tiles or entries the pod served do not match its signed checkpoint (exit 1)."""


def tile_ref(size: int, tile: TileId) -> TileRef:
    """The resource of ``tile`` as a tree of ``size`` has it (full, or its partial width)."""
    level, index = tile
    count = size >> (_HEIGHT * level)
    width = min(_WIDTH, count - index * _WIDTH)
    if width <= 0:
        raise ValueError(f"tile {tile} is beyond a tree of size {size}")
    return TileRef(level, index, width)


def node_tile(level: int, index: int) -> TileId:
    """The tile holding the tree-level-``8 k`` hashes that node ``(level, index)`` covers."""
    k, r = divmod(level, _HEIGHT)
    return k, (index << r) // _WIDTH


def subtree_hash(hashes: bytes) -> bytes:
    """The root of the perfect subtree over ``hashes`` (a power of two of 32-byte hashes)."""
    row = [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def needed_tiles(size: int, check_sizes: Iterable[int], leaf_tiles: range) -> list[TileId]:
    """The tiles to fetch first: those the roots of ``size`` and of each of ``check_sizes``
    are computed from, the parents of the level-0 tiles ``leaf_tiles`` (streamed later), and
    the parent of every full tile among them, up to the top. Bottom level first."""
    wanted: set[TileId] = set()
    for s in (size, *check_sizes):
        wanted.update(node_tile(level, index) for level, index in frontier_nodes(s))
    full0 = size >> _HEIGHT  # full level-0 tiles
    wanted.update((1, n // _WIDTH) for n in leaf_tiles if n < full0)
    todo = sorted(wanted)
    while todo:
        k, n = todo.pop()
        if tile_ref(size, (k, n)).full:
            parent = (k + 1, n // _WIDTH)
            if parent not in wanted:
                wanted.add(parent)
                todo.append(parent)
    return sorted(wanted)


@dataclass(frozen=True)
class VerifiedTiles:
    """Hash tiles of a tree of ``size`` whose every hash is authenticated by its ``root``."""

    size: int
    root: bytes
    tiles: Mapping[TileId, bytes]

    @classmethod
    def check(cls, size: int, root: bytes, tiles: Mapping[TileId, bytes]) -> VerifiedTiles:
        """Authenticate ``tiles`` (as :func:`needed_tiles` lists them) against the signed
        ``root`` of ``size``; :class:`TileMismatch` naming the first tile that fails."""
        for tile, data in tiles.items():
            ref = tile_ref(size, tile)
            if len(data) != ref.width * HASH_SIZE:
                raise TileMismatch(
                    f"{ref.path()}: {len(data)} bytes, a tree of size {size} needs "
                    f"{ref.width * HASH_SIZE}"
                )
        verified = cls(size, root, dict(tiles))
        computed = verified.root_at(size)
        if computed != root:
            raise TileMismatch(
                f"the root computed from the pod's tiles, {computed.hex()}, is not the signed "
                f"root {root.hex()} of size {size}"
            )
        for tile, data in tiles.items():
            if len(data) == _WIDTH * HASH_SIZE:
                verified.check_full(tile, data)
        return verified

    def check_full(self, tile: TileId, data: bytes) -> None:
        """A full tile must hash to its position in its (authenticated) parent tile."""
        k, n = tile
        parent = self.tiles.get((k + 1, n // _WIDTH))
        if parent is None:
            raise KeyError(f"parent of tile {tile} not fetched")
        at = (n % _WIDTH) * HASH_SIZE
        if len(data) != _WIDTH * HASH_SIZE or subtree_hash(data) != parent[at : at + HASH_SIZE]:
            ref = tile_ref(self.size, tile)
            raise TileMismatch(
                f"{ref.path()}: its hashes do not hash to the node its parent tile "
                f"{tile_ref(self.size, (k + 1, n // _WIDTH)).path()} holds for it"
            )

    def node(self, level: int, index: int) -> bytes:
        """The hash of complete node ``(level, index)`` from the authenticated tiles."""
        k, r = divmod(level, _HEIGHT)
        first = index << r
        data = self.tiles[(k, first // _WIDTH)]
        at = (first % _WIDTH) * HASH_SIZE
        return subtree_hash(data[at : at + (HASH_SIZE << r)])

    def root_at(self, size: int) -> bytes:
        """The root of the tree's first ``size`` leaves (``size`` at most :attr:`size`)."""
        if size == 0:
            return EMPTY_ROOT
        nodes = [self.node(level, index) for level, index in frontier_nodes(size)]
        acc = nodes[-1]
        for h in reversed(nodes[:-1]):
            acc = node_hash(h, acc)
        return acc


def split_bundle(data: bytes, where: str) -> list[bytes]:
    """The entries of an entry bundle (each after a big-endian uint16 length)."""
    out: list[bytes] = []
    i, end = 0, len(data)
    while i < end:
        if i + 2 > end:
            raise TileMismatch(f"{where}: the bundle ends inside a length prefix")
        n = int.from_bytes(data[i : i + 2], "big")
        if i + 2 + n > end:
            raise TileMismatch(f"{where}: the bundle ends inside entry {len(out)}")
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def check_bundle(
    ref: TileRef, data: bytes, hashes: bytes, hash_leaf: Callable[[bytes], bytes] = leaf_hash
) -> list[bytes]:
    """The entries of bundle ``ref``, each of whose leaf hash equals the authenticated level-0
    tile hash at its index; :class:`TileMismatch` naming the first that does not."""
    entries = split_bundle(data, ref.path())
    if len(entries) != ref.width:
        raise TileMismatch(f"{ref.path()}: {len(entries)} entries, the tile has {ref.width}")
    for i, entry in enumerate(entries):
        if hash_leaf(entry) != hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]:
            raise TileMismatch(
                f"{ref.path()}: entry {ref.start + i} does not hash to the leaf hash the "
                "authenticated tile holds for it: the entry was altered"
            )
    return entries
