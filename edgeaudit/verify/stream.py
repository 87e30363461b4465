"""The hot loop of store verification: one pass over the entries in index order.

Per entry: recompute the leaf hash from the exact stored bytes and the chain hash, and push the
leaf onto the tree's frontier. Every interior node of the tree is computed exactly once by the
frontier's merges; those nodes are collected per tile and compared with the stored tiles
(:mod:`edgeaudit.verify.stream_checks`: the comparisons and the problems they report), so every
hash a proof could be served from is checked without extra hashing.

A helper process (:mod:`edgeaudit.verify.split`) may verify aligned chunks of
``1 << (TILE_HEIGHT * CHUNK_LEVELS)`` entries meanwhile:
:mod:`edgeaudit.verify.stream_chunks` holds its whole-chunk versions of the same checks (a
level of the tree at a time; no faster than this loop in one process, measured, which is why
this loop stays the one path here), and :func:`_adopt` joins a clean answer into the walk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Protocol

from edgeaudit.canonical import (
    CHAIN_TAG,
    GENESIS_CHAIN,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    node_hash,
)
from edgeaudit.merkle.tiles import TILE_HEIGHT, TILE_WIDTH
from edgeaudit.merkle.tree import CompactRange
from edgeaudit.verify.report import Problem
from edgeaudit.verify.stream_checks import (
    StoredTiles,
    Target,
    check_roots,
    entry_problems,
    full_tiles,
    missing,
    partial_tiles,
    unexpected,
)

_MASK = TILE_WIDTH - 1
CHUNK_LEVELS = 3
"""Tile levels inside one chunk handed to a helper process: 3 = 4096 entries, whose level-0 to
level-2 tiles are complete within the chunk (and never change once written)."""


@dataclass(slots=True)
class StreamResult:
    size: int = 0
    chain: bytes = GENESIS_CHAIN
    frontier: list[bytes] = field(default_factory=list)

    def root(self) -> bytes:
        return CompactRange.from_nodes(self.size, self.frontier).root()


class Handoff(Protocol):
    """A range ``[lo, hi)`` of whole chunks verified elsewhere (:mod:`edgeaudit.verify.split`)."""

    lo: int
    hi: int

    def answer(self) -> HandoffAnswer | None: ...


class HandoffAnswer(Protocol):
    @property
    def roots(self) -> list[bytes]:
        """Each chunk's root, in order."""

    @property
    def inner(self) -> dict[int, list[bytes]]:
        """For each signed size inside a chunk, the frontier nodes past the chunk's start."""

    @property
    def chain(self) -> bytes:
        """The stored chain hash of entry ``hi - 1``."""


def stream_entries(
    rows: Iterable[tuple[int, bytes, bytes, bytes]],
    stored_tiles: StoredTiles,
    targets: Sequence[Target],
    problems: list[Problem],
    *,
    handoff: Handoff | None = None,
    rows_from: Callable[[int], Iterable[tuple[int, bytes, bytes, bytes]]] | None = None,
) -> StreamResult:
    """Verify ``rows`` (index, entry bytes, stored leaf hash, stored chain hash) in index order.

    With ``handoff`` (and ``rows_from(start)``, the rows from index ``start`` on), only the rows
    below ``handoff.lo`` are verified here while another process verifies the whole chunks
    ``[lo, hi)`` (:mod:`edgeaudit.verify.split`). If its answer says that range is clean and the
    rows here ended exactly at ``lo``, its chunk roots join the frontier (:func:`_adopt`: the
    signed roots inside the range and the tiles above its chunks are checked here, in the order
    the row loop checks them) and the walk goes on from ``hi``; otherwise the walk goes on from
    ``lo`` here. Either way the problems are those of one pass, in the same order.
    """
    st = _State(stored_tiles, targets, problems)
    if handoff is None or rows_from is None:
        _rows(st, rows)
    else:
        lo = handoff.lo
        _rows(st, takewhile(lambda row: row[0] < lo, rows))
        answer = handoff.answer()
        if answer is not None and st.n == st.expected == lo and _adopt(st, answer, handoff.hi):
            _rows(st, rows_from(handoff.hi))
        else:
            _rows(st, rows_from(lo))
    partial_tiles(st.n, st.bufs, stored_tiles, problems)
    return StreamResult(st.n, st.prev, st.stack)


def _adopt(st: _State, answer: HandoffAnswer, hi: int) -> bool:
    """Join the chunks of ``[st.n, hi)`` verified elsewhere (False, changing nothing, if the
    answer does not fit)."""
    height = TILE_HEIGHT * CHUNK_LEVELS
    chunk = 1 << height
    lo = st.n
    if lo % chunk or hi % chunk or len(answer.roots) != (hi - lo) // chunk:
        return False
    if any(len(h) != HASH_SIZE for h in [*answer.roots, answer.chain]):
        return False
    sizes = [s for s in st.sizes if lo < s < hi and s % chunk]
    if any(s not in answer.inner for s in sizes):
        return False
    for start, root in zip(range(lo, hi, chunk), answer.roots, strict=True):
        while start < st.next_size < start + chunk:
            size = st.next_size
            frontier = [*st.stack, *answer.inner[size]]
            check_roots(CompactRange.from_nodes(size, frontier).root(), st.by_size[size],
                         st.problems)  # fmt: skip
            st.next_size, st.next_pos = st.sizes[st.next_pos], st.next_pos + 1
        _join(st, root, height, answer.chain)
    return True


class _State:
    """Where the walk over the log stands: the next position and index, the chain so far, the
    frontier, the nodes of the tiles not yet complete (one row of bytes per tree level), and
    the signed roots still to check."""

    __slots__ = (
        "bufs",
        "by_size",
        "expected",
        "n",
        "next_pos",
        "next_size",
        "prev",
        "problems",
        "sizes",
        "stack",
        "stored",
    )  # fmt: skip

    def __init__(
        self, stored: StoredTiles, targets: Sequence[Target], problems: list[Problem]
    ) -> None:
        self.by_size: dict[int, list[Target]] = {}
        for t in targets:
            self.by_size.setdefault(t.size, []).append(t)
        self.sizes = [*sorted(self.by_size), -1]
        self.next_size, self.next_pos = self.sizes[0], 1
        self.stored = stored
        self.problems = problems
        self.stack: list[bytes] = []
        self.bufs = [bytearray() for _ in range(66)]  # nodes per tree level, current tiles
        self.expected, self.n, self.prev = 0, 0, GENESIS_CHAIN

    def reached(self, root: bytes) -> None:
        """The tree has ``next_size`` leaves: check the signed roots of that size."""
        check_roots(root, self.by_size[self.n], self.problems)
        self.next_size, self.next_pos = self.sizes[self.next_pos], self.next_pos + 1


def _rows(st: _State, rows: Iterable[tuple[int, bytes, bytes, bytes]]) -> None:
    """One row at a time: every check, every problem. The three SHA-256 of an entry (leaf,
    chain, the frontier merge) are spelled out here as :mod:`edgeaudit.canonical` defines them
    (``leaf_hash``, ``chain_hash``, ``node_hash``): a function call per hash is ~8 % of the
    loop, measured."""
    sha, leaf_prefix, node_prefix, tag = hashlib.sha256, LEAF_PREFIX, NODE_PREFIX, CHAIN_TAG
    stack, bufs, stored, problems = st.stack, st.bufs, st.stored, st.problems
    pop, push = stack.pop, stack.append
    bottom = bufs[0]
    mask = _MASK
    expected, n, prev, next_size = st.expected, st.n, st.prev, st.next_size
    for idx, body, stored_leaf, stored_chain in rows:
        if idx != expected:
            if idx < expected:
                problems.append(unexpected(idx, expected))
                continue
            problems.append(missing(idx, expected))
            expected = idx
        leaf = sha(leaf_prefix + body).digest()
        chain = sha(tag + prev + leaf).digest()
        if leaf != stored_leaf or chain != stored_chain:
            problems += entry_problems(idx, leaf, stored_leaf, chain, stored_chain)
        prev = stored_chain
        # frontier push: each merge completes one interior node of the tree
        bottom += leaf
        h, bits, level = leaf, n, 0
        while bits & 1:
            h = sha(node_prefix + pop() + h).digest()
            bits >>= 1
            level += 1
            bufs[level] += h
        push(h)
        expected += 1
        n += 1
        if not n & mask:
            full_tiles(n, bufs, stored, problems)
        if n == next_size:
            st.n = n
            st.reached(StreamResult(n, prev, stack).root())
            next_size = st.next_size
    st.expected, st.n, st.prev = expected, n, prev


def _join(st: _State, root: bytes, height: int, last_chain: bytes) -> None:
    """The chunk of ``1 << height`` entries from ``st.n`` is verified and its tiles compared:
    its root joins the frontier as one node of level ``height``, then the tiles above it that
    it completes are compared and the signed roots of its end size checked."""
    bufs, stack = st.bufs, st.stack
    h, bits, level = root, st.n >> height, height
    bufs[level] += h
    while bits & 1:
        h = node_hash(stack.pop(), h)
        bits >>= 1
        level += 1
        bufs[level] += h
    stack.append(h)
    end = st.n + (1 << height)
    st.n = st.expected = end
    st.prev = last_chain
    full_tiles(end, bufs, st.stored, st.problems, first=height // TILE_HEIGHT)
    if end == st.next_size:
        st.reached(StreamResult(end, st.prev, stack).root())
