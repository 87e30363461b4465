"""edgeaudit.merkle.verify: every produced proof verifies; every tampered one raises ProofError."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgeaudit.merkle.verify as verify_module
from edgeaudit.canonical import leaf_hash
from edgeaudit.errors import ProofError
from edgeaudit.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from edgeaudit.merkle import root as tree_root

LEAVES = [leaf_hash(b"verify %d" % i) for i in range(2100)]
TREE = MemoryTree(LEAVES)
ROOTS = [tree_root(n, TREE) for n in range(70)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def rejects(fn: object, *args: object, match: str | None = None) -> None:
    with pytest.raises(ProofError, match=match):
        fn(*args)  # type: ignore[operator]


@pytest.mark.parametrize("n", range(1, 70))
def test_inclusion_proofs_verify_and_tampering_is_caught(n: int) -> None:
    root = ROOTS[n]
    for m in range(n):
        proof = inclusion_proof(m, n, TREE)
        verify_inclusion(LEAVES[m], m, n, proof, root)
        assert root_from_inclusion_proof(LEAVES[m], m, n, proof) == root
        for i in range(len(proof)):  # a flipped bit anywhere in the proof
            bad = list(proof)
            bad[i] = flip(bad[i], i % 8)
            rejects(verify_inclusion, LEAVES[m], m, n, bad, root)
        rejects(verify_inclusion, flip(LEAVES[m]), m, n, proof, root)  # another leaf
        rejects(verify_inclusion, LEAVES[m], m, n, proof, flip(root))  # another root
        for other in range(n):  # the proof binds the index
            if other != m:
                rejects(verify_inclusion, LEAVES[m], other, n, proof, root)
        for size in (n - 1, n + 1):  # ... and the tree it was made for
            if m < size < len(ROOTS):
                rejects(verify_inclusion, LEAVES[m], m, size, proof, ROOTS[size])
        rejects(verify_inclusion, LEAVES[m], m, n, [*proof, root], root, match="must have")
        if proof:
            rejects(verify_inclusion, LEAVES[m], m, n, proof[:-1], root, match="must have")
            rejects(verify_inclusion, LEAVES[m], m, n, [proof[0][:31], *proof[1:]], root)


@pytest.mark.parametrize("new", range(1, 70))
def test_consistency_proofs_verify_and_tampering_is_caught(new: int) -> None:
    new_root = ROOTS[new]
    for old in range(1, new + 1):
        old_root = ROOTS[old]
        proof = consistency_proof(old, new, TREE)
        verify_consistency(old, new, old_root, new_root, proof)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = flip(bad[i], 4)
            rejects(verify_consistency, old, new, old_root, new_root, bad)
        rejects(verify_consistency, old, new, flip(old_root), new_root, proof)
        rejects(verify_consistency, old, new, old_root, flip(new_root), proof)
        if old == new:
            continue
        rejects(verify_consistency, new, old, new_root, old_root, proof)  # swapped old/new
        rejects(verify_consistency, old, new, new_root, old_root, proof)  # swapped roots
        for other in (old - 1, old + 1):  # wrong old size (with that size's real root)
            if 0 < other < new:
                rejects(verify_consistency, other, new, ROOTS[other], new_root, proof)
        if new + 1 < len(ROOTS):
            rejects(verify_consistency, old, new + 1, old_root, ROOTS[new + 1], proof)
        rejects(verify_consistency, old, new, old_root, new_root, proof[:-1], match="must have")
        rejects(verify_consistency, old, new, old_root, new_root, [*proof, new_root])
        rejects(verify_consistency, old, new, old_root, new_root, [proof[0], *proof])
        rejects(verify_consistency, old, new, old_root, new_root, [proof[0][:31], *proof[1:]])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, len(LEAVES)), st.data())
def test_large_random_proofs_verify(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n - 1))
    old = data.draw(st.integers(1, n))
    new_root = tree_root(n, TREE)
    verify_inclusion(LEAVES[m], m, n, inclusion_proof(m, n, TREE), new_root)
    proof = consistency_proof(old, n, TREE)
    verify_consistency(old, n, tree_root(old, TREE), new_root, proof)
    if proof:
        bad = [*proof[:-1], flip(proof[-1])]
        rejects(verify_consistency, old, n, tree_root(old, TREE), new_root, bad)


def test_inclusion_edge_rules() -> None:
    root = ROOTS[5]
    proof = inclusion_proof(2, 5, TREE)
    rejects(verify_inclusion, LEAVES[5], 5, 5, proof, root, match="not inside a tree of size 5")
    rejects(verify_inclusion, LEAVES[0], -1, 5, proof, root, match="not inside")
    rejects(verify_inclusion, LEAVES[0], 0, 0, [], root, match="not inside a tree of size 0")
    rejects(
        verify_inclusion, LEAVES[2][:31], 2, 5, proof, root, match="leaf hash must be a 32-byte"
    )
    rejects(verify_inclusion, LEAVES[2], 2, 5, proof, root + b"\0", match="root hash .* 33 bytes")
    rejects(verify_inclusion, LEAVES[2], 2, 5, [*proof[:2], b""], root, match="proof hash 2")
    with pytest.raises(
        ProofError, match=f"leads to root [0-9a-f]{{64}}, expected {ROOTS[4].hex()}"
    ):
        verify_inclusion(LEAVES[2], 2, 5, proof, ROOTS[4])
    verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])  # a one-leaf tree: the root is the leaf


def test_consistency_edge_rules() -> None:
    r3, r5 = ROOTS[3], ROOTS[5]
    proof = consistency_proof(3, 5, TREE)
    rejects(verify_consistency, 0, 5, r3, r5, proof, match="at least 1, got 0")
    rejects(verify_consistency, 0, 0, r3, r3, [], match="at least 1, got 0")
    rejects(verify_consistency, 5, 3, r5, r3, proof, match="larger than new size")
    rejects(verify_consistency, 3, 3, r3, r3, [r3], match="need an empty proof, found 1")
    rejects(verify_consistency, 3, 3, r3, r5, [], match="different roots")
    verify_consistency(3, 3, r3, r3, [])
    rejects(verify_consistency, 3, 5, r3, r5, [], match="must have 4 hashes, found 0")
    rejects(verify_consistency, 3, 5, r3[:31], r5, proof, match="old root must be a 32-byte")
    rejects(verify_consistency, 3, 5, r3, r5, [proof[0], b"x" * 31, proof[2]], match="proof hash 1")
    with pytest.raises(
        ProofError, match=f"old root [0-9a-f]{{64}} for size 3, expected {r5.hex()}"
    ):
        verify_consistency(3, 5, r5, r5, proof)


def test_verify_imports_only_hashing_and_errors() -> None:
    tree = ast.parse(Path(verify_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "collections.abc", "edgeaudit.canonical", "edgeaudit.errors"}
    code = "import json, sys, edgeaudit.merkle.verify; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = ("edgeaudit.store", "edgeaudit.note", "cryptography", "sqlalchemy")
    assert not [m for m in json.loads(out.stdout) if m.startswith(heavy)]
