"""One deduplicated inclusion proof for many leaves of one RFC 9162 tree (a multi-proof).

The tree of ``size`` leaves is read level by level: level 0 holds the leaf hashes; level
``k + 1`` pairs the nodes of level ``k`` in order (``HASH(0x01 || left || right)``) and, when
level ``k`` has an odd count, carries its last node up unchanged. This is the RFC 9162 tree
(its left subtrees are the largest powers of two below the size).

Given the proven leaves (ascending positions), each level's known nodes are combined with the
sibling that is also known, else with the next hash of the proof; the proof lists, level by
level and left to right, exactly the siblings that cannot be computed — each tree node once.
For a contiguous run of leaves this is the run's subtree recomputed once plus the left and
right boundary paths (a range proof); docs/pack-format.md, "proofs.jsonl", is the contract.

Pure: no I/O, no signing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from edgeaudit.canonical import HASH_SIZE, NODE_PREFIX
from edgeaudit.errors import ProofError

_H: Final = HASH_SIZE


def proof_positions(size: int, indices: Sequence[int]) -> list[tuple[int, int]]:
    """The ``(level, position)`` of each proof hash, in proof order, for the ascending
    ``indices`` of a tree of ``size`` leaves. Works on runs of consecutive positions: only a
    run's ends can need a sibling (the left one of an odd first position, the right one of an
    even last position that has one)."""
    runs: list[list[int]] = []  # [first, last]
    for j in indices:
        if runs and runs[-1][1] + 1 == j:
            runs[-1][1] = j
        else:
            runs.append([j, j])
    out: list[tuple[int, int]] = []
    count, level = size, 0
    while count > 1:
        nxt: list[list[int]] = []
        for a, b in runs:
            if a & 1:
                out.append((level, a - 1))
            if not b & 1 and b + 1 < count:
                out.append((level, b + 1))
            pa, pb = a >> 1, b >> 1
            if nxt and nxt[-1][1] + 1 >= pa:
                nxt[-1][1] = pb
            else:
                nxt.append([pa, pb])
        runs = nxt
        count = (count + 1) >> 1
        level += 1
    return out


def build_multiproof(levels: Sequence[bytes | bytearray], indices: Sequence[int]) -> bytes:
    """The proof hashes, concatenated, from a tree's levels (``levels[k]``: level ``k``'s
    nodes, 32 bytes each, as :class:`edgeaudit.pack.tree.LevelTree` keeps them)."""
    size = len(levels[0]) // _H if levels else 0
    out = bytearray()
    for level, pos in proof_positions(size, indices):
        out += levels[level][pos * _H : (pos + 1) * _H]
    return bytes(out)


def multiproof_root(size: int, indices: Sequence[int], leaves: bytes, proof: bytes) -> bytes:
    """The root computed from the leaves (``leaves``: their hashes concatenated, in the
    order of the ascending ``indices``) and the proof. Raises :class:`ProofError` when the
    indices are not ascending within the tree or the proof has too few or too many hashes."""
    n = len(indices)
    if n == 0:
        raise ProofError("a multi-proof needs at least one leaf")
    if len(leaves) != n * _H or len(proof) % _H:
        raise ProofError("leaf and proof hashes must be 32 bytes each")
    previous = -1
    for j in indices:
        if not previous < j < size:
            raise ProofError(f"leaf index {j} is not ascending within the tree of size {size}")
        previous = j
    # the known nodes as runs of consecutive positions: (first position, their hashes joined);
    # a run's inner pairs are hashed in one pass, only its ends take proof hashes
    runs: list[tuple[int, bytes]] = []
    if indices[-1] - indices[0] == n - 1:
        runs.append((indices[0], bytes(leaves)))  # one contiguous range
    else:
        k = 0
        while k < n:
            e = k + 1
            while e < n and indices[e] == indices[e - 1] + 1:
                e += 1
            runs.append((indices[k], leaves[k * _H : e * _H]))
            k = e
    sha = hashlib.sha256
    prefix = NODE_PREFIX
    used, available = 0, len(proof)
    count = size
    while count > 1:
        nxt: list[tuple[int, list[bytes], list[int]]] = []  # start, pieces, [end + 1]
        for a, buf in runs:
            b = a + len(buf) // _H - 1
            if a & 1:
                if used >= available:
                    raise ProofError("the multi-proof has too few hashes")
                buf = proof[used : used + _H] + buf
                used += _H
                a -= 1
            if not b & 1 and b + 1 < count:
                if used >= available:
                    raise ProofError("the multi-proof has too few hashes")
                buf = buf + proof[used : used + _H]
                used += _H
            m = len(buf) // _H
            pairs = b"".join(
                [
                    sha(prefix + buf[i : i + 2 * _H]).digest()
                    for i in range(0, (m - m % 2) * _H, 2 * _H)
                ]
            )
            if m % 2:
                pairs += buf[-_H:]  # the last node of an odd level, carried up
            pa, pn = a >> 1, (m + 1) >> 1
            if nxt and nxt[-1][2][0] == pa:  # adjacent to the run before: one run
                nxt[-1][1].append(pairs)
                nxt[-1][2][0] += pn
            else:
                nxt.append((pa, [pairs], [pa + pn]))
        runs = [(a, b"".join(pieces)) for a, pieces, _ in nxt]
        count = (count + 1) >> 1
    if used != available:
        raise ProofError(
            f"the multi-proof has {(available - used) // _H} hashes more than its leaves need"
        )
    return runs[0][1]


def verify_multiproof(
    size: int, indices: Sequence[int], leaves: bytes, proof: bytes, root: bytes
) -> None:
    """Raise :class:`ProofError` unless the leaves at ``indices`` are in the tree ``root``."""
    got = multiproof_root(size, indices, leaves, proof)
    if got != root:
        raise ProofError(
            f"the multi-proof of {len(indices)} leaves computes root {got.hex()}, "
            f"the checkpoint says {root.hex()}"
        )
