"""Tile authentication without network or store: every hash the mirror relies on is tied to the
signed root, at sizes around tile boundaries and over three tile levels."""

from __future__ import annotations

import hashlib

import pytest

from edgeaudit.canonical import leaf_hash
from edgeaudit.merkle.tree import MemoryTree, root
from edgeaudit.mirror.tiles import (
    TileMismatch,
    VerifiedTiles,
    check_bundle,
    needed_tiles,
    tile_ref,
)


def build(size: int) -> tuple[MemoryTree, dict[tuple[int, int], bytes]]:
    """A tree of ``size`` leaves and every C2SP hash tile of it (from the tree's nodes)."""
    tree = MemoryTree(hashlib.sha256(b"%d" % i).digest() for i in range(size))
    tiles: dict[tuple[int, int], bytes] = {}
    level = 0
    while size >> (8 * level):
        count = size >> (8 * level)
        nodes = tree.nodes([(8 * level, i) for i in range(count)])
        for n in range(-(-count // 256)):
            last = min(count, 256 * (n + 1))
            tiles[(level, n)] = b"".join(nodes[(8 * level, i)] for i in range(256 * n, last))
        level += 1
    return tree, tiles


BIG_SIZE = 70_000
BIG = build(BIG_SIZE)


def test_size_over_three_tile_levels() -> None:
    tree, all_tiles = BIG
    n, h = BIG_SIZE, 65_536 + 300
    want = needed_tiles(n, [h], range(h // 256, -(-n // 256)))
    assert {k for k, _ in want} == {0, 1, 2}
    fetched = {t: all_tiles[t] for t in want}
    assert all(len(fetched[t]) == tile_ref(n, t).width * 32 for t in want)
    verified = VerifiedTiles.check(n, root(n, tree), fetched)
    assert verified.root_at(h) == root(h, tree)
    # every level-0 tile streamed later is authenticated by its parent
    for t in range(h // 256, n // 256):
        verified.check_full((0, t), all_tiles[(0, t)])


@pytest.mark.parametrize(
    ("old", "new"), [(0, 1), (1, 256), (255, 257), (256, 512), (300, 65_536), (65_536, 65_537)]
)
def test_boundaries(old: int, new: int) -> None:
    tree, all_tiles = BIG
    want = needed_tiles(new, [old] if old else [], range(old // 256, -(-new // 256)))
    fetched = {}
    for t in want:
        ref = tile_ref(new, t)
        fetched[t] = all_tiles[t][: ref.width * 32]
    verified = VerifiedTiles.check(new, root(new, tree), fetched)
    assert verified.root_at(old) == root(old, tree)


def test_any_altered_hash_is_refused() -> None:
    tree, all_tiles = BIG
    n = 66_000
    want = needed_tiles(n, [1000], range(1000 // 256, -(-n // 256)))
    good = {t: all_tiles[t][: tile_ref(n, t).width * 32] for t in want}
    signed = root(n, tree)
    for t in want:
        data = bytearray(good[t])
        data[-1] ^= 1
        with pytest.raises(TileMismatch):
            VerifiedTiles.check(n, signed, {**good, t: bytes(data)})
    verified = VerifiedTiles.check(n, signed, good)
    data = bytearray(all_tiles[(0, 10)])
    data[100] ^= 1
    with pytest.raises(TileMismatch, match="tile/0/010"):
        verified.check_full((0, 10), bytes(data))
    with pytest.raises(TileMismatch, match="is not the signed root"):
        VerifiedTiles.check(n, bytes(32), good)


def test_bundles() -> None:
    entries = [b"a", b"", b"x" * 300]
    ref = tile_ref(3, (0, 0))
    bundle = b"".join(len(e).to_bytes(2, "big") + e for e in entries)
    hashes = b"".join(leaf_hash(e) for e in entries)
    assert check_bundle(ref, bundle, hashes) == entries
    with pytest.raises(TileMismatch, match="entry 2 does not hash"):
        check_bundle(ref, bundle[:-1] + b"y", hashes)
    with pytest.raises(TileMismatch, match="ends inside"):
        check_bundle(ref, bundle[:-1], hashes)
    with pytest.raises(TileMismatch, match="2 entries"):
        check_bundle(ref, bundle[: 2 + 1 + 2], hashes)
