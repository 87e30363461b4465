"""A naive RFC 6962 §2.1 reference (MTH, PATH, PROOF), checked against the RFC's own examples.

The other test modules compare edgeaudit.merkle with :class:`RefTree`. It hashes with hashlib
directly, so a bug in ``edgeaudit.canonical`` cannot hide behind it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from edgeaudit.canonical import EMPTY_ROOT, leaf_hash, node_hash


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), as RFC 6962 defines the split."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class RefTree:
    """RFC 6962 §2.1 definitions over entries D[0:n], memoised by leaf range."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.d = list(entries)
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end])."""
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        key = (start, end)
        if key not in self._memo:
            if n == 1:
                h = hashlib.sha256(b"\x00" + self.d[start]).digest()
            else:
                k = _k(n)
                left, right = self.mth(start, start + k), self.mth(start + k, end)
                h = hashlib.sha256(b"\x01" + left + right).digest()
            self._memo[key] = h
        return self._memo[key]

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def path(self, m: int, n: int) -> list[bytes]:
        """PATH(m, D[n])."""
        return self._path(m, 0, n)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self._path(m, start, start + k), self.mth(start + k, end)]
        return [*self._path(m - k, start + k, end), self.mth(start, start + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
        return self._subproof(m, 0, n, True)

    def _subproof(self, m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if b else [self.mth(start, end)]
        k = _k(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, b), self.mth(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.mth(start, start + k)]


# certificate-transparency's reference leaves and the roots of their prefixes.
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_reference_matches_certificate_transparency_roots() -> None:
    ref = RefTree(CT_ENTRIES)
    assert ref.root(0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert [ref.root(n).hex() for n in range(1, 9)] == CT_ROOTS


def test_reference_matches_rfc6962_examples() -> None:
    """The example tree of RFC 6962 §2.1.3: seven leaves a..f and j = d6."""
    ref = RefTree([b"d%d" % i for i in range(7)])
    a, b, c, d, e, f, j = (ref.mth(i, i + 1) for i in range(7))
    g, h, i = ref.mth(0, 2), ref.mth(2, 4), ref.mth(4, 6)
    k, l_ = ref.mth(0, 4), ref.mth(4, 7)
    assert ref.root(7) == hashlib.sha256(b"\x01" + k + l_).digest()
    assert ref.path(0, 7) == [b, h, l_]
    assert ref.path(3, 7) == [c, g, l_]
    assert ref.path(4, 7) == [f, j, k]
    assert ref.path(6, 7) == [i, k]
    assert ref.proof(3, 7) == [c, d, g, l_]
    assert ref.proof(4, 7) == [l_]
    assert ref.proof(6, 7) == [i, j, k]
    del a, e


def test_canonical_hashes_agree_with_reference() -> None:
    ref = RefTree([b"x", b"y"])
    assert leaf_hash(b"x") == ref.mth(0, 1)
    assert node_hash(ref.mth(0, 1), ref.mth(1, 2)) == ref.root(2)
    assert ref.root(0) == EMPTY_ROOT
