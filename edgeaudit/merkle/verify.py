"""Offline verification of RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.

Pure: imports only the hash builders of :mod:`edgeaudit.canonical` and the errors. Every
failure raises :class:`~edgeaudit.errors.ProofError` saying what was expected and what was
found; nothing returns False.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeaudit.canonical import HASH_SIZE, node_hash
from edgeaudit.errors import ProofError


def _check_hash(what: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        found = f"{len(value)} bytes" if isinstance(value, bytes | bytearray) else type(value)
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte hash, found {found}")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof hash {i}", h)


def _inclusion_shape(index: int, size: int) -> tuple[int, int]:
    """``(inner, border)``: proof hashes below and on the right border of the tree."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _short(h: bytes) -> str:
    return h.hex()


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` commits to for ``leaf_hash`` at ``index`` in a tree of ``size``."""
    _check_hash("leaf hash", leaf_hash)
    _check_proof(proof)
    if size <= 0 or not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {size}")
    inner, border = _inclusion_shape(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} must have "
            f"{inner + border} hashes, found {len(proof)}"
        )
    # RFC 9162 §2.1.3.2, steps 2-4.
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof for leaf {index} is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof for leaf {index} is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    _check_hash("root hash", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of size {size} leads to root "
            f"{_short(computed)}, expected {_short(root)}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends ``old_size``/``old_root``."""
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    _check_proof(proof)
    if old_size <= 0:
        raise ProofError(f"a consistency proof needs an old size of at least 1, got {old_size}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError(
                f"equal sizes ({old_size}) need an empty proof, found {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ProofError(
                f"trees of equal size {old_size} have different roots: "
                f"old {_short(old_root)}, new {_short(new_root)}"
            )
        return
    expected = _consistency_length(old_size, new_size)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from {old_size} to {new_size} must have {expected} hashes, "
            f"found {len(proof)}"
        )
    # RFC 9162 §2.1.4.2, steps 1-7.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof from {old_size} to {new_size} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof from {old_size} to {new_size} is too short")
    if fr != old_root:
        raise ProofError(
            f"consistency proof leads to old root {_short(fr)} for size {old_size}, "
            f"expected {_short(old_root)}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof leads to new root {_short(sr)} for size {new_size}, "
            f"expected {_short(new_root)}"
        )


def _consistency_length(old_size: int, new_size: int) -> int:
    """Hashes in PROOF(old_size, D[new_size]) for 0 < old_size < new_size."""
    inner, border = _inclusion_shape(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner - shift + border
