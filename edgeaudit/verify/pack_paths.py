"""The proofs of a pack's entries: ``edgeaudit-pack/2``'s one multi-proof
(:func:`check_multiproof`, edgeaudit.merkle.multiproof) and ``edgeaudit-pack/1``'s inclusion
proof per entry (:func:`check_proof`), the latter for ascending leaves with shared work.

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
from array import array
from typing import Any, Final, NoReturn

import orjson

from edgeaudit.canonical import NODE_PREFIX
from edgeaudit.errors import ProofError
from edgeaudit.merkle.multiproof import verify_multiproof
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_files import PackFiles, PackReport, lines
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


def json_line(report: PackReport, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except ValueError as exc:
        report.add(name, f"not a JSON object ({exc})", number)
        return None
    if not isinstance(value, dict):
        report.add(name, "not a JSON object", number)
        return None
    return value


def check_multiproof(
    files: PackFiles,
    size: int,
    root: bytes,
    indices: array[int],
    leaves: bytearray,
    report: PackReport,
) -> bool:
    """``proofs.jsonl`` of an ``edgeaudit-pack/2`` pack: one canonical ``{"proof"}`` line, the
    multi-proof of every entry's leaf hash (docs/pack-format.md, "proofs.jsonl")."""
    found = list(lines(files, pf.PROOFS))
    if len(found) != 1:
        report.add(pf.PROOFS, f"holds {len(found)} lines, expected one (the multi-proof)")
        return False
    number, raw = found[0]
    prf = json_line(report, pf.PROOFS, number, raw)
    if prf is None:
        return False
    blob = pf.b64decode_loose(prf.get("proof"))  # canonical: the line check below
    if blob is None or len(blob) % pf.HASH_SIZE:
        report.add(pf.PROOFS, "proof is not base64 of 32-byte hashes", number)
        return False
    if set(prf) != {"proof"} or pf.multiproof_line(blob) != raw:
        report.add(pf.PROOFS, "line is not the canonical (RFC 8785) {proof} object", number)
        return False
    if not indices:
        if blob:
            report.add(pf.PROOFS, "a pack without entries has an empty proof", number)
        return not blob
    try:
        verify_multiproof(size, indices, bytes(leaves), blob, root)
    except ProofError as exc:
        report.add(pf.PROOFS, f"{exc}: no entry of the pack is proven ({_runs(indices)})", number)
        return False
    return True


def _runs(indices: array[int]) -> str:
    """Which entries the failing multi-proof covers. One root comparison cannot tell which of
    its leaf or proof hashes differs, so the report names the runs, not an entry."""
    starts = [0, *(k for k in range(1, len(indices)) if indices[k] != indices[k - 1] + 1)]
    ends = [*starts[1:], len(indices)]
    spans = [f"{indices[a]}..{indices[b - 1]}" for a, b in zip(starts, ends, strict=True)]
    shown = ", ".join(spans[:3]) + (f" and {len(spans) - 3} more" if len(spans) > 3 else "")
    return (
        f"its {len(indices)} entries in {len(spans)} run(s) of consecutive indices, "
        f"{shown}, are proven together or not at all"
    )


def check_proof(
    prf: dict[str, Any] | None,
    proof_line: tuple[int, bytes] | None,
    index: int,
    leaf: bytes,
    paths: InclusionPaths,
    number: int,
    report: PackReport,
) -> bool:
    if prf is None or proof_line is None:
        report.add(pf.PROOFS, f"no proof line for entry {index}", number, index)
        return False
    if prf.get("index") != index:
        report.add(
            pf.PROOFS, f"proof is for entry {prf.get('index')}, expected {index}", number, index
        )
        return False
    blob = pf.b64decode_loose(prf.get("proof"))  # canonical: the line check below
    if blob is None or len(blob) % pf.HASH_SIZE:
        report.add(pf.PROOFS, "proof is not base64 of 32-byte hashes", number, index)
        return False
    if set(prf) != {"index", "proof"} or pf.proof_line(index, blob) != proof_line[1]:
        report.add(
            pf.PROOFS, "line is not the canonical (RFC 8785) {index, proof} object", number, index
        )
        return False
    try:
        paths.verify(leaf, index, blob)
    except ProofError as exc:
        report.add(pf.PROOFS, str(exc), number, index)
        return False
    return True
