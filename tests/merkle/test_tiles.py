"""edgeaudit.merkle.tiles: layout, right edge, extension and the tile-backed NodeSource."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.canonical import leaf_hash
from edgeaudit.merkle import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileKey,
    TileNodeSource,
    bottom_row,
    extend_tiles,
    frontier_nodes,
    right_edge,
    root,
    tile_for,
    tile_width,
    tiles_for,
    width_of,
)
from tests.merkle.test_reference import RefTree

ENTRIES = [b"tile entry %d" % i for i in range(5000)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
REF = RefTree(ENTRIES)


def grow(batches: list[int]) -> tuple[dict[TileKey, bytes], int]:
    """Apply extend_tiles for consecutive batches of LEAVES; return all tiles and the size."""
    store: dict[TileKey, bytes] = {}
    size = 0
    for count in batches:
        edge = {k: store[k] for k in right_edge(size)}
        batch = LEAVES[size : size + count]
        assert len(batch) == count, "not enough test leaves"
        store.update(extend_tiles(size, edge, batch))
        size += count
    return store, size


def test_constants() -> None:
    assert (TILE_HEIGHT, TILE_WIDTH) == (4, 16)


@pytest.mark.parametrize(
    ("size", "edge"),
    [
        (0, []),
        (1, [(0, 0)]),
        (15, [(0, 0)]),
        (16, [(1, 0)]),
        (17, [(0, 1), (1, 0)]),
        (255, [(0, 15), (1, 0)]),
        (256, [(2, 0)]),
        (4113, [(0, 257), (1, 16), (3, 0)]),
    ],
)
def test_right_edge_examples(size: int, edge: list[TileKey]) -> None:
    assert right_edge(size) == edge


def test_right_edge_is_exactly_the_partial_tiles() -> None:
    store: dict[TileKey, bytes] = {}
    for size in range(1, 1200):
        store.update(
            extend_tiles(size - 1, {k: store[k] for k in right_edge(size - 1)}, [LEAVES[size - 1]])
        )
        partial = {k for k in store if width_of(store[k]) < TILE_WIDTH}
        # A tile that was partial at a smaller size and is now full is no longer on the edge.
        current = {k for k in partial if tile_width(size, k) == width_of(store[k])}
        assert set(right_edge(size)) == current
        for key in right_edge(size):
            assert 0 < tile_width(size, key) < TILE_WIDTH


def _rows(lo: int, width: int, unit: int) -> bytes:
    """The expected blob of a tile whose bottom row is the ``width`` nodes of ``unit`` leaves
    starting at leaf ``lo``: rows 0..3, row r holding the complete nodes of 2**r bottom nodes."""
    return b"".join(
        REF.mth(lo + unit * (i << r), lo + unit * ((i + 1) << r))
        for r in range(4)
        for i in range(width >> r)
    )


def test_tile_contents_follow_the_layout() -> None:
    store, size = grow([1000])
    for k in range(size // 16):
        assert bottom_row(store[(0, k)]) == b"".join(LEAVES[16 * k : 16 * k + 16])
        assert store[(0, k)] == _rows(16 * k, 16, 1)
    assert bottom_row(store[(0, 62)]) == b"".join(LEAVES[992:1000])
    assert store[(0, 62)] == _rows(992, 8, 1)
    assert width_of(store[(0, 62)]) == 8
    assert len(store[(0, 62)]) == (8 + 4 + 2 + 1) * 32
    # Level-1 tiles hold the roots of 16-leaf subtrees, level-2 tiles of 256-leaf subtrees.
    assert bottom_row(store[(1, 0)]) == b"".join(REF.mth(16 * i, 16 * i + 16) for i in range(16))
    assert store[(1, 0)] == _rows(0, 16, 16)
    assert store[(1, 3)] == _rows(48 * 16, 14, 16)
    assert store[(2, 0)] == _rows(0, 3, 256)
    assert set(store) == {(0, k) for k in range(63)} | {(1, k) for k in range(4)} | {(2, 0)}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 700), min_size=1, max_size=7))
def test_one_batch_equals_many_batches(batches: list[int]) -> None:
    many, size = grow(batches)
    one, _ = grow([size])
    assert many == one


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 600))
def test_extend_returns_exactly_the_changed_tiles(old: int, count: int) -> None:
    before, _ = grow([old])
    changed = extend_tiles(old, {k: before[k] for k in right_edge(old)}, LEAVES[old : old + count])
    after, _ = grow([old + count])
    assert {k for k in after if before.get(k) != after[k]} == set(changed)
    assert {k: after[k] for k in changed} == changed
    if count == 0:
        assert changed == {}


def test_extend_validates_the_edge() -> None:
    store, _ = grow([40])
    edge = {k: store[k] for k in right_edge(40)}  # (0, 2) with 8 hashes, (1, 0) with 2
    with pytest.raises(ValueError, match=r"missing \[\(1, 0\)\]"):
        extend_tiles(40, {(0, 2): edge[(0, 2)]}, LEAVES[40:41])
    with pytest.raises(ValueError, match=r"unexpected \[\(0, 1\)\]"):
        extend_tiles(40, {**edge, (0, 1): store[(0, 1)]}, LEAVES[40:41])
    with pytest.raises(ValueError, match=r"tile \(0, 2\) of a tree of size 40 must be 480 bytes"):
        extend_tiles(40, {**edge, (0, 2): edge[(0, 2)][:-32]}, LEAVES[40:41])
    with pytest.raises(ValueError, match="size 41 must be"):
        extend_tiles(41, edge, LEAVES[40:41])  # edge of size 40 passed as size 41
    with pytest.raises(ValueError, match="new leaf 1 must be 32 bytes"):
        extend_tiles(40, edge, [LEAVES[40], b"short"])
    with pytest.raises(ValueError, match="negative"):
        extend_tiles(-1, {}, [])
    assert extend_tiles(0, {}, []) == {}


def test_tile_for() -> None:
    assert tile_for((0, 37)) == ((0, 2), 5, 1)
    assert tile_for((3, 5)) == ((0, 2), 8, 8)
    assert tile_for((4, 0)) == ((1, 0), 0, 1)
    assert tile_for((6, 7)) == ((1, 1), 12, 4)
    assert tiles_for([(0, 0), (1, 3), (4, 17), (8, 0)]) == {(0, 0), (1, 1), (2, 0)}
    with pytest.raises(ValueError, match="invalid node"):
        tile_for((-1, 0))


class CountingFetch:
    def __init__(self, tiles: Mapping[TileKey, bytes]) -> None:
        self.tiles = tiles
        self.calls: list[set[TileKey]] = []

    def __call__(self, keys: Collection[TileKey]) -> Mapping[TileKey, bytes]:
        self.calls.append(set(keys))
        return {k: self.tiles[k] for k in keys if k in self.tiles}


def test_node_source_fetches_once_per_call() -> None:
    store, size = grow([3000])
    fetch = CountingFetch(store)
    src = TileNodeSource(size, fetch)
    wanted = [(0, 5), (1, 2), (3, 1), (4, 0), (5, 3), (7, 10), (11, 0)]
    got = src.nodes(wanted)
    assert len(fetch.calls) == 1
    assert fetch.calls[0] == tiles_for(wanted)
    for level, index in wanted:
        lo = index << level
        assert got[(level, index)] == REF.mth(lo, lo + (1 << level))
    assert src.nodes([]) == {}
    assert len(fetch.calls) == 1  # nothing wanted, nothing fetched


def test_node_source_errors_name_the_tile() -> None:
    store, size = grow([100])
    incomplete = TileNodeSource(size, CountingFetch(store))
    with pytest.raises(LookupError, match=r"node \(2, 25\) is not complete in a tree of size 100"):
        incomplete.nodes([(2, 25)])
    missing = TileNodeSource(size, CountingFetch({k: v for k, v in store.items() if k != (0, 3)}))
    with pytest.raises(LookupError, match=r"tile \(0, 3\) is missing"):
        missing.nodes([(1, 25)])
    two = extend_tiles(96, {k: grow([96])[0][k] for k in right_edge(96)}, LEAVES[96:98])
    short = TileNodeSource(size, CountingFetch({**store, (0, 6): two[(0, 6)]}))
    assert short.nodes([(0, 97)]) == {(0, 97): LEAVES[97]}  # within the 2 hashes it holds
    with pytest.raises(
        LookupError, match=r"tile \(0, 6\) holds 2 hashes per row, node \(0, 98\) needs 3"
    ):
        short.nodes([(0, 98)])
    broken = TileNodeSource(size, CountingFetch({**store, (0, 6): b"x" * 64}))
    with pytest.raises(ValueError, match="64 bytes fits no tile width"):
        broken.nodes([(0, 97)])
    with pytest.raises(ValueError, match="negative"):
        TileNodeSource(-1, CountingFetch(store))


def test_node_source_reads_an_older_size_from_grown_tiles() -> None:
    store, _ = grow([2000])
    for size in (1, 15, 16, 17, 255, 256, 257, 1000, 1999):
        assert root(size, TileNodeSource(size, CountingFetch(store))) == REF.root(size)


def test_root_needs_only_the_right_edge() -> None:
    for size in range(1, 2000):
        assert tiles_for(frontier_nodes(size)) <= set(right_edge(size))
    rng = random.Random(7)
    size, store = 0, {}
    while size < 3000:
        edge = {k: store[k] for k in right_edge(size)}
        new = LEAVES[size : size + rng.randint(1, 400)]
        changed = extend_tiles(size, edge, new)
        store.update(changed)
        size += len(new)
        fetch = CountingFetch({**edge, **changed})
        assert root(size, TileNodeSource(size, fetch)) == REF.root(size)
        assert fetch.calls[0] <= set(right_edge(size))
