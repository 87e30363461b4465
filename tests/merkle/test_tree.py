"""edgeaudit.merkle.tree (and tiles as a NodeSource) against the RFC 6962 reference."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.canonical import EMPTY_ROOT, leaf_hash
from edgeaudit.errors import InputError
from edgeaudit.merkle import (
    CompactRange,
    MemoryTree,
    Node,
    TileKey,
    TileNodeSource,
    consistency_proof,
    extend_tiles,
    frontier_nodes,
    inclusion_proof,
    right_edge,
    root,
)
from tests.merkle.test_reference import RefTree

MAX = 3000
ENTRIES = [b"entry %d" % i for i in range(MAX)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
REF = RefTree(ENTRIES)


def build_tiles(leaves: list[bytes], rng: random.Random) -> dict[TileKey, bytes]:
    """Tiles for ``leaves``, appended by extend_tiles in random batch sizes."""
    store: dict[TileKey, bytes] = {}
    size = 0
    while size < len(leaves):
        batch = leaves[size : size + rng.choice((1, 2, 3, 7, 16, 17, 40, 300))]
        store.update(extend_tiles(size, {k: store[k] for k in right_edge(size)}, batch))
        size += len(batch)
    return store


class Counting:
    """Wraps a NodeSource and counts nodes() calls."""

    def __init__(self, inner: MemoryTree | TileNodeSource) -> None:
        self.inner = inner
        self.calls = 0

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        self.calls += 1
        return self.inner.nodes(wanted)


def tile_source(n: int, seed: int) -> TileNodeSource:
    tiles = build_tiles(LEAVES[:n], random.Random(seed))
    return TileNodeSource(n, lambda keys: {k: tiles[k] for k in keys if k in tiles})


def sources(n: int) -> list[MemoryTree | TileNodeSource]:
    return [MemoryTree(LEAVES[:n]), tile_source(n, n)]


@pytest.mark.parametrize("n", range(131))
def test_root_matches_reference(n: int) -> None:
    want = REF.root(n)
    for src in sources(n):
        assert root(n, src) == want
    rng = CompactRange()
    rng.extend(LEAVES[:n])
    assert rng.root() == want


@pytest.mark.parametrize("n", range(1, 131))
def test_inclusion_all_indices_match_reference(n: int) -> None:
    for src in sources(n):
        counting = Counting(src)
        for m in range(n):
            assert inclusion_proof(m, n, counting) == REF.path(m, n), (m, n)
        assert counting.calls == (n if n > 1 else 0)  # one query per proof, none when empty


@pytest.mark.parametrize("new", range(1, 71))
def test_consistency_all_pairs_match_reference(new: int) -> None:
    for src in sources(new):
        counting = Counting(src)
        for old in range(1, new + 1):
            assert consistency_proof(old, new, counting) == REF.proof(old, new), (old, new)
        assert counting.calls == new - 1  # one per proof; equal sizes need no query


@settings(max_examples=60, deadline=None)
@given(st.integers(1, MAX), st.data())
def test_random_large_trees_match_reference(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n - 1), label="index")
    old = data.draw(st.integers(1, n), label="old")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    for src in (MemoryTree(LEAVES[:n]), tile_source(n, seed)):
        assert root(n, src) == REF.root(n)
        assert inclusion_proof(m, n, src) == REF.path(m, n)
        assert consistency_proof(old, n, src) == REF.proof(old, n)


def test_memory_tree_incremental_equals_bulk() -> None:
    tree = MemoryTree()
    for i, leaf in enumerate(LEAVES[:100]):
        tree.append(leaf)
        assert tree.size == i + 1
        assert tree.root() == REF.root(i + 1)
    bulk = MemoryTree(LEAVES[:100])
    wanted = [(level, i) for level in range(7) for i in range(100 >> level)]
    assert tree.nodes(wanted) == bulk.nodes(wanted)


def test_memory_tree_refuses_incomplete_nodes() -> None:
    tree = MemoryTree(LEAVES[:5])
    assert tree.nodes([(2, 0)]) == {(2, 0): REF.mth(0, 4)}
    for node in [(0, 5), (1, 2), (3, 0), (-1, 0)]:
        with pytest.raises(LookupError, match="not in a tree of size 5"):
            tree.nodes([node])
    with pytest.raises(InputError, match="32 bytes"):
        tree.append(b"short")


def frontier_of(n: int) -> list[bytes]:
    rng = CompactRange()
    rng.extend(LEAVES[:n])
    return rng.hashes


def test_compact_range_append_extend_and_resume() -> None:
    one, many = CompactRange(), CompactRange()
    assert one.root() == EMPTY_ROOT
    for n in range(1, 300):
        one.append(LEAVES[n - 1])
        assert one.size == n
        assert one.root() == REF.root(n)
        hashes = MemoryTree(LEAVES[:n]).nodes(frontier_nodes(n))
        assert one.hashes == [hashes[node] for node in frontier_nodes(n)]
    many.extend(LEAVES[:299])
    assert many.hashes == one.hashes
    resumed = CompactRange.from_nodes(150, frontier_of(150))
    resumed.extend(LEAVES[150:299])
    assert resumed.root() == one.root()


def test_compact_range_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="3 frontier hashes, got 2"):
        CompactRange.from_nodes(7, [LEAVES[0], LEAVES[1]])
    with pytest.raises(InputError, match="32 bytes"):
        CompactRange.from_nodes(1, [b"x" * 31])
    with pytest.raises(InputError, match="negative"):
        CompactRange.from_nodes(-1, [])
    rng = CompactRange()
    with pytest.raises(InputError, match="32 bytes, got 33"):
        rng.append(b"x" * 33)
    rng.extend(LEAVES[:3])
    with pytest.raises(InputError):
        rng.extend([LEAVES[3], b"bad"])
    assert rng.size == 4  # the good leaf before the bad one was kept, consistently
    assert rng.root() == REF.root(4)


def test_frontier_nodes() -> None:
    assert frontier_nodes(0) == []
    assert frontier_nodes(1) == [(0, 0)]
    assert frontier_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    assert frontier_nodes(16) == [(4, 0)]


def test_bad_arguments_raise_input_error() -> None:
    tree = MemoryTree(LEAVES[:8])
    for index, size in [(8, 8), (-1, 8), (0, 0)]:
        with pytest.raises(InputError, match="outside a tree"):
            inclusion_proof(index, size, tree)
    for old, new in [(0, 8), (9, 8), (-1, 3)]:
        with pytest.raises(InputError, match="0 < old size <= new size"):
            consistency_proof(old, new, tree)
    with pytest.raises(InputError, match="negative"):
        root(-1, tree)
    assert root(0, tree) == EMPTY_ROOT
    assert consistency_proof(8, 8, tree) == []


def test_missing_node_surfaces_as_lookup_error() -> None:
    tree = MemoryTree(LEAVES[:4])
    with pytest.raises(LookupError):
        inclusion_proof(0, 8, tree)  # the source only knows 4 leaves
