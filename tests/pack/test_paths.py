"""The verifier's shared-work inclusion check agrees with the RFC 9162 algorithm on every
proof: genuine ones of ascending leaves (contiguous and sparse), and every altered one."""

from __future__ import annotations

import hashlib
import random

import pytest

from edgeaudit.errors import ProofError
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.pack.tree import LevelTree
from edgeaudit.verify.pack_format import split_hashes
from edgeaudit.verify.pack_paths import InclusionPaths


def _tree(size: int) -> tuple[LevelTree, list[bytes], bytes]:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(size)]
    tree = LevelTree()
    tree.extend(leaves)
    return tree, leaves, tree.freeze()


def _rfc(leaf: bytes, index: int, size: int, proof: bytes, root: bytes) -> bool:
    hashes = split_hashes(proof)
    try:
        verify_inclusion(leaf, index, size, hashes or [], root)
    except ProofError:
        return False
    return hashes is not None


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 100, 257, 1000])
def test_agrees_with_the_rfc_on_genuine_and_altered_proofs(size: int) -> None:
    rng = random.Random(size)
    tree, leaves, root = _tree(size)
    for picked in (range(size), sorted(rng.sample(range(size), min(size, 40)))):
        paths = InclusionPaths(size, root)
        proofs = dict(tree.proofs(list(picked)))
        for index in picked:
            proof = proofs[index]
            variants = [(leaves[index], index, proof)]
            if proof:
                b = bytearray(proof)
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                variants += [
                    (leaves[index], index, bytes(b)),  # a flipped bit
                    (leaves[index], index, proof[:-32]),  # a hash short
                    (leaves[index], index, proof + proof[-32:]),  # a hash too many
                    (leaves[(index + 1) % size], index, proof),  # another leaf
                ]
            variants.append((leaves[index], (index + 1) % (size + 1), proof))  # another index
            for leaf, at, blob in variants[1:] + variants[:1]:  # the genuine one last
                want = _rfc(leaf, at, size, blob, root)
                try:
                    paths.verify(leaf, at, blob)
                    got = True
                except ProofError:
                    got = False
                assert got == want, (size, index, at, len(blob))


def test_a_forged_upper_hash_is_not_taken_from_the_previous_leaf() -> None:
    """Two neighbours share their upper path; the second's upper hashes are still compared."""
    tree, leaves, root = _tree(64)
    paths = InclusionPaths(64, root)
    proofs = dict(tree.proofs([10, 11]))
    paths.verify(leaves[10], 10, proofs[10])
    forged = proofs[11][:-32] + bytes(32)
    with pytest.raises(ProofError, match="leads to root"):
        paths.verify(leaves[11], 11, forged)
    paths.verify(leaves[11], 11, proofs[11])
