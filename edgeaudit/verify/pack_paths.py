"""Inclusion proofs of ascending leaves of one tree, verified with shared work.

RFC 9162 §2.1.3.2 computes a root from a proof step by step; each step depends only on the
state ``(fn, sn, r)`` and the proof hashes left. Two leaves close together reach the same upper
nodes: once a leaf's computation arrives at a state the previous, verified leaf passed through,
with the same hashes left to apply, it must end where that one ended, at the checkpoint's root.
So each proof is still checked in full against the RFC's algorithm, but only the steps below
the shared part are hashed (about 2 per leaf in a contiguous run instead of about 18).

Any proof that does not verify this way is handed to :func:`edgeaudit.merkle.verify.
verify_inclusion`, which raises the precise :class:`ProofError`.
"""

from __future__ import annotations

import hashlib
from typing import Final, NoReturn

from edgeaudit.canonical import NODE_PREFIX
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.verify.pack_format import HASH_SIZE, split_hashes

_sha256: Final = hashlib.sha256
# a verified leaf's states by the number of proof hashes left: (fn, sn, r, proof, offset)
_State = tuple[int, int, bytes, memoryview, int]


class InclusionPaths:
    def __init__(self, size: int, root: bytes) -> None:
        self._size = size
        self._root = root
        self._states: list[_State] = []

    def verify(self, leaf: bytes, index: int, proof: bytes) -> None:
        """Check ``proof`` (concatenated 32-byte hashes) for ``leaf`` at ``index``."""
        size, n = self._size, len(proof) // HASH_SIZE
        inner = (index ^ (size - 1)).bit_length() if 0 <= index < size else -1
        if inner < 0 or len(proof) % HASH_SIZE or n != inner + (index >> inner).bit_count():
            self._fail(leaf, index, proof)
        view = memoryview(proof)
        previous = self._states
        mine: list[_State] = []  # by hashes left, from n down
        fn, sn, r = index, size - 1, leaf
        for k in range(n):
            left, offset = n - k, k * HASH_SIZE
            if left < len(previous):
                pfn, psn, pr, pview, poff = previous[left]
                if pfn == fn and psn == sn and pr == r and pview[poff:] == view[offset:]:
                    mine.reverse()
                    self._states = previous[: left + 1] + mine
                    return
            mine.append((fn, sn, r, view, offset))
            if sn == 0:
                self._fail(leaf, index, proof)
            p = proof[offset : offset + HASH_SIZE]
            if fn & 1 or fn == sn:
                r = _sha256(NODE_PREFIX + p + r).digest()
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
            else:
                r = _sha256(NODE_PREFIX + r + p).digest()
            fn >>= 1
            sn >>= 1
        if sn != 0 or r != self._root:
            self._fail(leaf, index, proof)
        mine.append((fn, sn, r, view, n * HASH_SIZE))
        mine.reverse()
        self._states = mine

    def _fail(self, leaf: bytes, index: int, proof: bytes) -> NoReturn:
        hashes = split_hashes(proof)
        if hashes is None:  # the caller checks the length; never reached from the pack check
            raise AssertionError("proof length is not a multiple of 32")
        verify_inclusion(leaf, index, self._size, hashes, self._root)
        raise AssertionError(  # pragma: no cover - the RFC check agrees with ours
            f"inclusion proof for leaf {index} verified by the RFC algorithm but not here"
        )
