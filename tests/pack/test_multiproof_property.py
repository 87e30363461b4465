"""Multi-proofs over random tree sizes and selections (hypothesis): edgeaudit's builder and
verifier against the independent check written from docs/pack-format.md, with trees built by
the RFC 9162 recursive definition (not edgeaudit's level tree)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.errors import ProofError
from edgeaudit.merkle.multiproof import multiproof_root, verify_multiproof
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.pack.tree import LevelTree
from tests.pack.test_multiproof_packs import doc_verify


def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + str(i).encode()).digest()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


@st.composite
def trees(draw: st.DrawFn) -> tuple[int, list[int]]:
    size = draw(st.integers(min_value=1, max_value=300))
    shape = draw(st.sampled_from(["range", "sparse", "runs"]))
    if shape == "range":
        a = draw(st.integers(0, size - 1))
        b = draw(st.integers(a, size - 1))
        return size, list(range(a, b + 1))
    if shape == "sparse":
        chosen = draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=40))
        return size, sorted(chosen)
    chosen = set()
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, size - 1))
        chosen.update(range(a, min(size, a + draw(st.integers(1, 20)))))
    return size, sorted(chosen)


@settings(max_examples=150, deadline=None)
@given(trees(), st.data())
def test_multiproof_round_trip_and_tamper(case: tuple[int, list[int]], data: st.DataObject) -> None:
    size, indices = case
    leaves = [_leaf(i) for i in range(size)]
    root = _mth(leaves)
    tree = LevelTree()
    tree.extend(leaves)
    assert tree.freeze() == root
    proof = tree.multiproof(indices)
    chosen = b"".join(leaves[i] for i in indices)
    known = [(i, leaves[i]) for i in indices]
    verify_multiproof(size, indices, chosen, proof, root)
    assert doc_verify(size, root, known, proof)
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    assert len(set(hashes)) == len(hashes) or len(set(leaves)) < size  # each node once
    if len(indices) == 1:  # one leaf: the RFC 9162 inclusion proof
        verify_inclusion(leaves[indices[0]], indices[0], size, hashes, root)
    if hashes:  # any node changed: both refuse
        node = data.draw(st.integers(0, len(hashes) - 1))
        bad = list(hashes)
        bad[node] = bytes([bad[node][0] ^ 1]) + bad[node][1:]
        assert not doc_verify(size, root, known, b"".join(bad))
        try:
            verify_multiproof(size, indices, chosen, b"".join(bad), root)
        except ProofError:
            pass
        else:
            raise AssertionError("a changed node verified")
    # a leaf changed, or a proof hash too many: both refuse
    wrong = bytearray(chosen)
    wrong[0] ^= 1
    assert not doc_verify(size, root, [(indices[0], bytes(wrong[:32])), *known[1:]], proof)
    assert multiproof_root(size, indices, bytes(wrong), proof) != root
    assert not doc_verify(size, root, known, proof + leaves[0])
    try:
        verify_multiproof(size, indices, chosen, proof + leaves[0], root)
    except ProofError:
        pass
    else:
        raise AssertionError("an extra hash verified")


def test_bad_indices_are_refused() -> None:
    leaves = [_leaf(i) for i in range(5)]
    tree = LevelTree()
    tree.extend(leaves)
    root = tree.freeze()
    for indices in ([2, 1], [1, 1], [5], [-1], []):
        try:
            verify_multiproof(5, indices, leaves[0] * len(indices), b"", root)
        except ProofError:
            continue
        raise AssertionError(f"{indices} accepted")


def test_multiproof_line_is_canonical() -> None:
    import base64

    from edgeaudit.canonical import canonical_json
    from edgeaudit.verify.pack_format import multiproof_line

    for proof in (b"", bytes(range(32)), bytes(range(64)) * 3):
        want = canonical_json({"proof": base64.b64encode(proof).decode()}) + b"\n"
        assert multiproof_line(proof) == want


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 2**40), st.binary(min_size=32, max_size=32))
def test_fast_evidence_line_reading_equals_the_canonical_form(
    body: bytes, index: int, leaf: bytes
) -> None:
    """verify reads a full evidence line with a pattern instead of a JSON parser: it must
    accept exactly the canonical line and nothing that merely looks like it."""
    from edgeaudit.verify.pack_entries import _FULL_LINE, _canonical_base64
    from edgeaudit.verify.pack_format import evidence_line

    line = evidence_line(index, leaf, body)
    m = _FULL_LINE.fullmatch(line)
    assert m is not None
    assert _canonical_base64(m[1]) == body
    assert (int(m[2]), m[3].decode()) == (index, leaf.hex())
    if len(body) % 3:  # unused bits set: the same bytes, a second encoding, refused
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        stripped = m[1].rstrip(b"=")
        v = alphabet.index(stripped[-1:])
        twin = stripped[:-1] + alphabet[v ^ 1 : (v ^ 1) + 1] + m[1][len(stripped) :]
        assert _canonical_base64(twin) is None
    for variant in (
        line.replace(b'"index":', b'"index": '),
        line.replace(m[3], m[3].upper()) if m[3] != m[3].upper() else line + b" ",
        line.replace(b'"index":%d' % index, b'"index":0%d' % index),
        line.rstrip(b"\n"),
    ):
        vm = _FULL_LINE.fullmatch(variant)
        assert vm is None or _canonical_base64(vm[1]) is None
