"""Batch append: gapless indices, the chain, tiles, dedupe and all-or-nothing batches."""

from __future__ import annotations

import pytest

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, leaf_hash
from edgeaudit.errors import StoreError
from edgeaudit.events import prepare
from edgeaudit.merkle.tree import MemoryTree
from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
from edgeaudit.store import Store
from tests.store.helpers import ORIGIN, ev, evs


def test_indices_chain_and_tree_match_a_reference(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    batches = [evs(0, 1), evs(1, 15), evs(16, 17), evs(33, 300), evs(333, 2)]
    for b in batches:
        log.append(b)
    prepared = [e for b in batches for e in b]
    prev = GENESIS_CHAIN
    with log.reader() as reader:
        rows = list(reader.iter_entries())
        assert [r[0] for r in rows] == list(range(len(prepared)))
        for (idx, body, leaf, chain), e in zip(rows, prepared, strict=True):
            assert body == e.body
            assert leaf == leaf_hash(body)
            prev = chain_hash(prev, leaf)
            assert chain == prev, idx
        for size in (1, 2, 15, 16, 17, 255, 256, 257, len(prepared)):
            assert reader.root(size) == MemoryTree(ref_leaves(prepared, size)).root()
        size = len(prepared)
        root = reader.root(size)
        for i in (0, 1, 16, 255, 333, size - 1):
            verify_inclusion(prepared[i].leaf_hash, i, size, reader.inclusion_proof(i, size), root)
        for old in (1, 16, 17, 200, size):
            proof = reader.consistency_proof(old, size)
            verify_consistency(old, size, reader.root(old), root, proof)
    assert log.head() == (len(prepared), prev)


def ref_leaves(prepared, size):
    return [e.leaf_hash for e in prepared[:size]]


def test_same_input_twice_adds_nothing(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    first = log.append(evs(0, 50))
    assert (first.appended, first.duplicates, first.first_index) == (50, 0, 0)
    again = log.append(evs(0, 50))
    assert (again.appended, again.duplicates, again.first_index) == (0, 50, None)
    mixed = log.append(evs(40, 20))
    assert (mixed.appended, mixed.duplicates, mixed.first_index) == (10, 10, 50)
    assert log.size == 60


def test_repeats_within_a_batch_are_stored_once(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    result = log.append([ev(1), ev(2), ev(1), ev(2), ev(3)])
    assert (result.appended, result.duplicates) == (3, 2)


def test_explicit_fingerprint_dedupes_on_time_and_fingerprint(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    base = {"time": "2026-11-20T08:00:00Z", "kind": "auth.logon"}
    a = prepare({**base, "x": 1}, fingerprint="syslog:h1:4711")
    b = prepare({**base, "x": 2}, fingerprint="syslog:h1:4711")  # same source record
    c = prepare({**base, "time": "2026-11-20T08:00:01Z"}, fingerprint="syslog:h1:4711")
    assert log.append([a]).appended == 1
    assert log.append([b]).appended == 0
    assert log.append([c]).appended == 1


def test_a_failing_batch_writes_nothing(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 10))
    before = log.head()
    bad = evs(10, 5)
    # A row the database refuses (NULL body) half-way through the batch.
    broken = [*bad[:3], bad[3]._replace(body=None), *bad[4:]]
    with pytest.raises(StoreError, match="nothing of it was stored"):
        log.append(broken)
    assert log.head() == before
    with log.reader() as reader:
        assert [r[0] for r in reader.iter_entries()] == list(range(10))
    assert log.append(bad).appended == 5


def test_logs_are_separate(store: Store) -> None:
    a = store.log("audit.example.net/a", create=True)
    b = store.log("audit.example.net/b", create=True)
    a.append(evs(0, 20))
    b.append(evs(0, 3))
    assert (a.size, b.size) == (20, 3)
    assert store.origins() == ["audit.example.net/a", "audit.example.net/b"]
    with a.reader() as ra, b.reader() as rb:
        assert ra.root(3) == rb.root(3)  # same first three entries
        assert ra.root(20) != rb.root(3)


def test_unknown_log_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no log named"):
        store.log("audit.example.net/missing")
