"""C2SP tlog-tiles paths and tiles assembled from the store's 16-wide tiles, against the spec's
examples and an RFC 6962 computation written here."""

from __future__ import annotations

import hashlib
import random

import pytest

from edgeaudit.merkle.c2sp import (
    TileRef,
    assemble,
    encode_index,
    parse_path,
    partial_width,
    store_keys,
    tile_set,
)
from edgeaudit.merkle.tiles import extend_tiles, right_edge


def _mth(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def test_index_encoding_of_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(5) == "005"
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"
    assert parse_path("tile/0/x001/x234/067") == TileRef(0, 1234067, 256)
    assert parse_path("tile/entries/x001/x234/067.p/7") == TileRef(None, 1234067, 7)


def test_paths_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        level = rng.choice([None, 0, 1, 2, 63])
        ref = TileRef(level, rng.choice([0, rng.randrange(10**12)]), rng.randrange(1, 257))
        assert parse_path(ref.path()) == ref


@pytest.mark.parametrize(
    "path",
    [
        "tile/00/000",
        "tile/64/000",
        "tile/+1/000",
        "tile/0/0",
        "tile/0/x000/005",
        "tile/0/001/002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/05",
        "tile/0/000.p",
        "tile/0/000/",
        "tile/0/\u0660\u0660\u0660",
        "tile/entries",
        "tiles/0/000",
    ],
)
def test_non_canonical_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="tile"):
        parse_path(path)


def test_tile_sets_of_the_spec() -> None:
    tiles = tile_set(70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert sum(t.full for t in level0) == 273
    assert level0[-1] == TileRef(0, 273, 112)
    assert [t for t in tiles if t.level == 1] == [TileRef(1, 0, 256), TileRef(1, 1, 17)]
    assert [t for t in tiles if t.level == 2] == [TileRef(2, 0, 1)]
    assert len(tiles) == 273 + 1 + 2 + 1
    assert tile_set(256) == [TileRef(0, 0, 256), TileRef(1, 0, 1)]
    assert partial_width(70_000, 0) == 112
    assert TileRef(0, 273, 112).needed_size() == 70_000
    assert TileRef(1, 1, 17).needed_size() == 256 * (256 + 17)


@pytest.mark.parametrize("size", [1, 15, 16, 255, 256, 257, 4095, 4096, 65_536 + 4096 + 17])
def test_assembled_tiles_hold_the_subtree_roots(size: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest() for i in range(size)]
    stored = extend_tiles(0, {}, leaves)
    assert set(right_edge(size)) <= set(stored)
    for ref in tile_set(size):
        assert ref.level is not None
        tile = assemble(ref, stored)
        assert len(tile) == 32 * ref.width
        span = 256**ref.level
        for i in range(ref.width):
            first = (ref.start + i) * span
            want = _mth(leaves[first : first + span]) if ref.level else leaves[first]
            assert tile[32 * i : 32 * i + 32] == want, (ref, i)


def test_a_missing_or_short_store_tile_is_an_error() -> None:
    leaves = [bytes([i]) * 32 for i in range(40)]
    stored = extend_tiles(0, {}, leaves)
    ref = TileRef(0, 0, 40)
    assert store_keys(ref) == [(0, 0), (0, 1), (0, 2)]
    with pytest.raises(LookupError, match="missing"):
        assemble(ref, {k: v for k, v in stored.items() if k != (0, 1)})
    with pytest.raises(LookupError, match="needs 41"):
        assemble(TileRef(0, 0, 41), stored)
