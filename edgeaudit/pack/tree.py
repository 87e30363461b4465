"""The whole RFC 6962 tree of one log size in memory, built in one pass over the leaf hashes.

Level ``k`` holds the hashes of the perfect subtrees of ``2**k`` leaves, plus, when the level
has an odd count, its last node carried up unchanged; this bottom-up pairing gives exactly the
RFC 6962 tree (its left subtrees are the largest powers of two). Each level is one
``bytearray`` (32 bytes per node): a million leaves take about 64 MB, and every inclusion proof
is a few slices, so proving every entry of a pack costs one pass instead of one query each.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable

from edgeaudit.canonical import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX
from edgeaudit.merkle.multiproof import build_multiproof

_H = HASH_SIZE


class LevelTree:
    def __init__(self) -> None:
        self._leaves = bytearray()
        self._levels: list[bytearray] = []

    def add(self, leaf: bytes) -> None:
        self._leaves += leaf

    def extend_bytes(self, leaves: bytes | bytearray) -> None:
        """Leaf hashes given as one run of 32-byte hashes."""
        if len(leaves) % _H:
            raise ValueError("leaf hashes must be 32 bytes each")
        if not self._leaves and isinstance(leaves, bytearray):
            self._leaves = leaves  # adopt: a million leaves need not be copied
        else:
            self._leaves += leaves

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self._leaves += leaf

    @property
    def size(self) -> int:
        return len(self._leaves) // _H

    def freeze(self) -> bytes:
        """Hash the upper levels; return the root. No more leaves may be added afterwards."""
        sha = hashlib.sha256
        prefix = NODE_PREFIX
        levels = [self._leaves]
        cur = self._leaves
        while len(cur) > _H:
            n = len(cur) // _H
            nxt = bytearray()
            for i in range(0, (n - n % 2) * _H, 2 * _H):
                nxt += sha(prefix + cur[i : i + 2 * _H]).digest()
            if n % 2:
                nxt += cur[(n - 1) * _H :]
            levels.append(nxt)
            cur = nxt
        self._levels = levels
        return bytes(cur) if cur else EMPTY_ROOT

    def proofs(self, indices: Iterable[int]) -> Iterable[tuple[int, bytes]]:
        """``(index, inclusion proof)`` for ascending indices. Levels above the highest bit in
        which an index differs from the previous one keep their sibling, so consecutive
        entries cost about two slices each instead of one per level."""
        if not self._levels:
            raise RuntimeError("freeze() the tree first")
        levels = self._levels[:-1]
        parts: list[bytes] = [b""] * len(levels)
        previous = -1
        for index in indices:
            changed = len(levels) if previous < 0 else (index ^ previous).bit_length()
            for k in range(min(changed, len(levels))):
                sibling = (index >> k) ^ 1
                level = levels[k]
                parts[k] = (
                    bytes(level[sibling * _H : (sibling + 1) * _H])
                    if sibling * _H < len(level)
                    else b""
                )
            previous = index
            yield index, b"".join(parts)

    def multiproof(self, indices: list[int] | array[int]) -> bytes:
        """One deduplicated proof for the ascending ``indices`` (edgeaudit.merkle.multiproof):
        for a contiguous run, the left and right boundary paths."""
        if not self._levels:
            raise RuntimeError("freeze() the tree first")
        return build_multiproof(self._levels, indices) if indices else b""

    def inclusion_proof(self, index: int) -> bytes:
        """The RFC 9162 inclusion proof of leaf ``index``: its hashes concatenated."""
        if not self._levels:
            raise RuntimeError("freeze() the tree first")
        out = bytearray()
        i = index
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling * _H < len(level):
                out += level[sibling * _H : (sibling + 1) * _H]
            i >>= 1
        return bytes(out)
