"""RFC 6962 / RFC 9162 §2.1 Merkle tree math and proof construction.

A proof is built in two steps. First, without any hash, the leaf ranges ``[start, end)`` whose
Merkle Tree Hash (MTH) the proof lists are computed; each range is a subtree of the RFC tree, so
it splits into perfect, aligned nodes (:data:`Node`). Then one :meth:`NodeSource.nodes` call
fetches every node at once, and each range hash is folded from its nodes, right to left. A proof
read from a database therefore costs one query.

Argument errors (an index outside the tree, sizes out of order) raise
:class:`~edgeaudit.errors.InputError`. A source that lacks a requested node raises
:class:`LookupError`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from edgeaudit.canonical import EMPTY_ROOT, HASH_SIZE, node_hash
from edgeaudit.errors import InputError

Node = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index << level, (index+1) << level)``."""

Range = tuple[int, int]
"""``(start, end)``: leaves ``start .. end-1``, a subtree of the RFC 6962 tree."""


class NodeSource(Protocol):
    """Anything that can return the hashes of complete nodes of one tree."""

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        """Return the hash of every wanted node; raise :class:`LookupError` if one is missing."""
        ...


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect aligned nodes covering ``[start, end)``, left to right (largest first).

    ``start`` must be a multiple of a power of two that is at least ``end - start`` (true of
    every range RFC 6962 hashes); then folding these node hashes right to left gives the MTH.
    """
    out: list[Node] = []
    size = end - start
    pos = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def frontier_nodes(size: int) -> list[Node]:
    """The perfect nodes whose hashes determine the root of a tree of ``size`` leaves."""
    return range_nodes(0, size)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs form RFC 9162 PATH(index, D[size]), in proof order."""
    if not 0 <= index < size:
        raise InputError(f"leaf index {index} is outside a tree of size {size}")
    out: list[Range] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            out.append((start + k, start + n))
            n = k
        else:
            out.append((start, start + k))
            start, n, m = start + k, n - k, m - k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose MTHs form RFC 9162 PROOF(old_size, D[new_size]), in proof order."""
    if not 0 < old_size <= new_size:
        raise InputError(
            f"consistency needs 0 < old size <= new size, got old {old_size}, new {new_size}"
        )
    out: list[Range] = []
    start, n, m, whole = 0, new_size, old_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            out.append((start + k, start + n))
            n = k
        else:
            out.append((start, start + k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        out.append((start, start + n))
    out.reverse()
    return out


def _fold(nodes: Sequence[Node], hashes: Mapping[Node, bytes]) -> bytes:
    result = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        result = node_hash(hashes[node], result)
    return result


def hash_ranges(ranges: Sequence[Range], source: NodeSource) -> list[bytes]:
    """The MTH of each range, from a single ``source.nodes`` call (none if ``ranges`` is empty)."""
    if not ranges:
        return []
    plans = [range_nodes(start, end) for start, end in ranges]
    wanted = {node for plan in plans for node in plan}
    hashes = source.nodes(wanted)
    return [_fold(plan, hashes) for plan in plans]


def root(size: int, source: NodeSource) -> bytes:
    """MTH(D[size]); :data:`EMPTY_ROOT` for an empty tree."""
    if size < 0:
        raise InputError(f"tree size must not be negative, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return hash_ranges([(0, size)], source)[0]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """RFC 9162 PATH(index, D[size]): the audit path of leaf ``index``."""
    return hash_ranges(inclusion_ranges(index, size), source)


def consistency_proof(old_size: int, new_size: int, source: NodeSource) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[new_size]); ``[]`` when the sizes are equal."""
    return hash_ranges(consistency_ranges(old_size, new_size), source)


class MemoryTree(NodeSource):
    """An in-memory tree keeping every complete node; a :class:`NodeSource`."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaves)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes, completing every node they finish."""
        new = list(leaves)
        for leaf in new:
            if len(leaf) != HASH_SIZE:
                raise InputError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        levels = self._levels
        levels[0].extend(new)
        depth = 0
        while len(levels[depth]) >= 2:
            if depth + 1 == len(levels):
                levels.append([])
            below, above = levels[depth], levels[depth + 1]
            first, last = len(above), len(below) // 2
            if first == last:
                break
            above.extend(
                map(node_hash, below[2 * first : 2 * last : 2], below[2 * first + 1 : 2 * last : 2])
            )
            depth += 1

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        """The hash of each wanted complete node; :class:`LookupError` for any other."""
        out: dict[Node, bytes] = {}
        for level, index in wanted:
            if level < 0 or index < 0 or level >= len(self._levels):
                raise LookupError(f"node {(level, index)} is not in a tree of size {self.size}")
            row = self._levels[level]
            if index >= len(row):
                raise LookupError(f"node {(level, index)} is not in a tree of size {self.size}")
            out[(level, index)] = row[index]
        return out

    def root(self) -> bytes:
        """The root of the whole tree."""
        return root(self.size, self)


class CompactRange:
    """The frontier of a growing tree: the perfect subtree roots along its right edge.

    Appending costs one node hash per leaf amortised; :meth:`root` costs O(log n).
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @classmethod
    def from_nodes(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Resume from the hashes of :func:`frontier_nodes` ``(size)``, in that order."""
        if size < 0:
            raise InputError(f"tree size must not be negative, got {size}")
        expected = size.bit_count()
        if len(hashes) != expected:
            raise InputError(
                f"a tree of size {size} has {expected} frontier hashes, got {len(hashes)}"
            )
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise InputError(f"a frontier hash must be {HASH_SIZE} bytes, got {len(h)}")
        rng = cls()
        rng._size = size
        rng._stack = list(hashes)
        return rng

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The frontier hashes, in :func:`frontier_nodes` order."""
        return list(self._stack)

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        if len(leaf) != HASH_SIZE:
            raise InputError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        stack = self._stack
        size = self._size
        h = leaf
        while size & 1:
            h = node_hash(stack.pop(), h)
            size >>= 1
        stack.append(h)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes (faster than repeated :meth:`append`)."""
        stack = self._stack
        pop, push, hash_ = stack.pop, stack.append, node_hash
        size = self._size
        try:
            for leaf in leaves:
                if len(leaf) != HASH_SIZE:
                    raise InputError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
                h = leaf
                bits = size
                while bits & 1:
                    h = hash_(pop(), h)
                    bits >>= 1
                push(h)
                size += 1
        finally:
            self._size = size

    def root(self) -> bytes:
        """MTH of the leaves appended so far; :data:`EMPTY_ROOT` when there are none."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        result = stack[-1]
        for h in reversed(stack[:-1]):
            result = node_hash(h, result)
        return result
