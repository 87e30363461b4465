"""Packs of both formats: ``edgeaudit-pack/2`` (one multi-proof) and ``edgeaudit-pack/1``
(one inclusion proof per entry), genuine and tampered, checked by ``verify PACK`` and by an
independent multi-proof check written from docs/pack-format.md alone (no edgeaudit import)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.pack.tree import LevelTree
from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from tests.pack.conftest import Site, verify
from tests.pack.helpers import copy_pack
from tests.pack.tampering import failed, lines, passed, resign

# -- the independent check: docs/pack-format.md, "proofs.jsonl", nothing else ---------------


def doc_multiproof_root(size: int, known: list[tuple[int, bytes]], proof: list[bytes]) -> bytes:
    """The doc's walk: ``known`` (position, leaf hash) ascending; every proof hash used."""
    used = 0
    count = size
    while count > 1:
        nxt: list[tuple[int, bytes]] = []
        k = 0
        while k < len(known):
            j, h = known[k]
            if j % 2 == 0 and k + 1 < len(known) and known[k + 1][0] == j + 1:
                nxt.append((j // 2, hashlib.sha256(b"\x01" + h + known[k + 1][1]).digest()))
                k += 2
                continue
            if j % 2 == 0 and j + 1 < count:
                nxt.append((j // 2, hashlib.sha256(b"\x01" + h + proof[used]).digest()))
                used += 1
            elif j % 2 == 0:
                nxt.append((j // 2, h))
            else:
                nxt.append(((j - 1) // 2, hashlib.sha256(b"\x01" + proof[used] + h).digest()))
                used += 1
            k += 1
        known = nxt
        count = (count + 1) // 2
    assert used == len(proof), "unused proof hashes"
    assert len(known) == 1
    assert known[0][0] == 0
    return known[0][1]


def doc_verify(size: int, root: bytes, known: list[tuple[int, bytes]], proof: bytes) -> bool:
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    try:
        return doc_multiproof_root(size, known, hashes) == root
    except (AssertionError, IndexError):
        return False


def checkpoint_of(pack: Path) -> tuple[int, bytes]:
    """Tree size and root from the checkpoint note's body (C2SP tlog-checkpoint)."""
    body = (pack / pf.CHECKPOINT).read_text().split("\n")
    return int(body[1]), base64.b64decode(body[2])


def pack_leaves(pack: Path) -> list[tuple[int, bytes]]:
    return [
        (r["index"], bytes.fromhex(r["leaf_hash"]))
        for r in (json.loads(x) for x in lines(pack / pf.EVIDENCE))
    ]


def pack_proof(pack: Path) -> bytes:
    (line,) = lines(pack / pf.PROOFS)
    return base64.b64decode(json.loads(line)["proof"])


# -- the insider's tools: the log's tree from the store -------------------------------------


def store_tree(site: Site, size: int) -> LevelTree:
    config = cfg.load(site.ws)
    tree = LevelTree()
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        for index, _body, leaf, _chain in reader.iter_entries(0):
            if index >= size:
                break
            tree.add(bytes(leaf))
    tree.freeze()
    return tree


def reprove(site: Site, pack: Path) -> None:
    """A genuine multi-proof for whatever indices ``evidence.jsonl`` now holds."""
    size, _ = checkpoint_of(pack)
    indices = [i for i, _ in pack_leaves(pack)]
    (pack / pf.PROOFS).write_bytes(pf.multiproof_line(store_tree(site, size).multiproof(indices)))


def as_version1(site: Site, src: Path, dst: Path, *, drop_records: bool = False) -> Path:
    """``src`` rewritten as an ``edgeaudit-pack/1`` pack (per-entry proofs) and re-signed;
    ``drop_records``: as packs built before findings were bound to the log (no ``record``)."""
    pack = copy_pack(src, dst)
    size, _ = checkpoint_of(pack)
    counts: dict[str, Any] = {}
    if drop_records:
        doc = json.loads((pack / pf.FINDINGS_JSON).read_bytes())
        records = {r.pop("record")["index"] for r in doc["results"]}
        cited = {e["index"] for r in doc["results"] for e in r.get("evidence", [])}
        (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
        kept = [
            x for x in lines(pack / pf.EVIDENCE) if json.loads(x)["index"] not in records - cited
        ]
        (pack / pf.EVIDENCE).write_bytes(b"".join(kept))
        counts["entries"] = len(kept)
        counts["redacted"] = sum(1 for x in kept if b'"redacted":' in x)
    tree = store_tree(site, size)
    out = b"".join(pf.proof_line(i, tree.inclusion_proof(i)) for i, _ in pack_leaves(pack))
    (pack / pf.PROOFS).write_bytes(out)
    resign(site, pack, format=pf.FORMAT_V1, **counts)
    return pack


@pytest.fixture
def pack(site_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(site_pack, tmp_path / "pack")


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


# -- genuine packs ---------------------------------------------------------------------------


def test_site_pack_has_one_range_proof_the_doc_check_accepts(site_pack: Path) -> None:
    manifest = json.loads((site_pack / pf.MANIFEST).read_text())
    assert manifest["format"] == "edgeaudit-pack/2"
    size, root = checkpoint_of(site_pack)
    known = pack_leaves(site_pack)
    proof = pack_proof(site_pack)
    assert len(known) > 100
    assert len(proof) // 32 <= 2 * size.bit_length()  # boundary paths, not a proof per entry
    assert doc_verify(size, root, known, proof)


def test_tenant_pack_has_one_deduplicated_multiproof(tenant_pack: Path) -> None:
    size, root = checkpoint_of(tenant_pack)
    known = pack_leaves(tenant_pack)
    proof = pack_proof(tenant_pack)
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    assert doc_verify(size, root, known, proof)
    per_entry = sum(
        (i ^ (size - 1)).bit_length() + (i >> (i ^ (size - 1)).bit_length()).bit_count()
        for i, _ in known
    )
    assert len(hashes) < per_entry  # shared nodes given once
    assert len(set(hashes)) == len(hashes) or size < 4  # no node twice


def test_version1_pack_verifies_with_per_entry_proofs(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    pack = as_version1(site, site_pack, tmp_path / "v1")
    assert len(lines(pack / pf.PROOFS)) == len(lines(pack / pf.EVIDENCE))
    out = passed(site, pack)
    assert out.startswith("OK")
    assert "WARNING: edgeaudit-pack/1 pack (the older format" in out  # never silent
    assert "builder's statement only" not in out  # its results name their records


def test_version1_pack_without_records_warns_in_text_and_json(
    site: Site, tenant_pack: Path, tmp_path: Path
) -> None:
    pack = as_version1(site, tenant_pack, tmp_path / "v1", drop_records=True)
    out = passed(site, pack)
    assert "WARNING: edgeaudit-pack/1 pack:" in out
    assert "builder's statement only" in out
    assert "equal their proven policy.result entries" not in out
    code, raw, _ = verify(site, pack, "--json")
    report: dict[str, Any] = json.loads(raw)
    assert code == 0
    assert report["ok"] is True
    assert report["format"] == "edgeaudit-pack/1"
    assert any("not bound to the log" in w for w in report["warnings"])


def test_version2_pack_without_records_fails(site: Site, pack: Path) -> None:
    """Only a version 1 pack may have unbound results: no downgrade by dropping records."""
    doc = json.loads((pack / pf.FINDINGS_JSON).read_bytes())
    doc["results"][0].pop("record")
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    resign(site, pack)
    assert "names no record" in failed(site, pack)


def test_version1_tampered_entry_proof_fails(site: Site, site_pack: Path, tmp_path: Path) -> None:
    pack = as_version1(site, site_pack, tmp_path / "v1")
    ls = lines(pack / pf.PROOFS)
    rec = json.loads(ls[6])
    raw = bytearray(base64.b64decode(rec["proof"]))
    raw[0] ^= 1
    rec["proof"] = base64.b64encode(bytes(raw)).decode()
    ls[6] = canonical_json(rec) + b"\n"
    (pack / pf.PROOFS).write_bytes(b"".join(ls))
    out = failed(site, pack)  # outsider
    assert "proofs.jsonl: SHA-256 is" in out
    assert "proofs.jsonl:7 (entry" in out
    resign(site, pack, format=pf.FORMAT_V1)  # insider
    out = failed(site, pack)
    assert "SHA-256" not in out
    assert "proofs.jsonl:7 (entry" in out


def test_downgrade_to_version1_keeping_the_multiproof_fails(site: Site, pack: Path) -> None:
    resign(site, pack, format=pf.FORMAT_V1)
    assert "proofs.jsonl:1 (entry" in failed(site, pack)


# -- tampering with the multi-proof: outsider (bytes) and insider (re-signed manifest) -------


def _write_proof(pack: Path, hashes: list[bytes]) -> None:
    (pack / pf.PROOFS).write_bytes(pf.multiproof_line(b"".join(hashes)))


def _hashes(pack: Path) -> list[bytes]:
    proof = pack_proof(pack)
    return [proof[i : i + 32] for i in range(0, len(proof), 32)]


def _spread(n: int, k: int = 6) -> list[int]:
    return sorted({0, n - 1, *(n * i // k for i in range(1, k))})


@pytest.mark.parametrize("insider", [False, True], ids=["outsider", "insider"])
@pytest.mark.parametrize("which", ["site", "tenant"])
def test_every_node_of_the_proof_is_bound(
    site: Site, pack: Path, tpack: Path, which: str, insider: bool
) -> None:
    target = pack if which == "site" else tpack
    original = _hashes(target)
    size, root = checkpoint_of(target)
    known = pack_leaves(target)
    nodes = range(len(original)) if which == "site" else _spread(len(original))
    for node in nodes:
        hashes = list(original)
        hashes[node] = bytes([hashes[node][0] ^ 0x80]) + hashes[node][1:]
        assert not doc_verify(size, root, known, b"".join(hashes))
        _write_proof(target, hashes)
        if insider:
            resign(site, target)
        out = failed(site, target)
        assert "proofs.jsonl:1: the multi-proof" in out, out
        assert "no entry of the pack is proven" in out
        assert ("SHA-256" in out) is not insider


@pytest.mark.parametrize(
    "change",
    ["drop-first", "drop-last", "extra", "swap", "empty"],
)
def test_reshaped_multiproof_fails(site: Site, tpack: Path, change: str) -> None:
    hashes = _hashes(tpack)
    if change == "drop-first":
        hashes = hashes[1:]
    elif change == "drop-last":
        hashes = hashes[:-1]
    elif change == "extra":
        hashes = [*hashes, hashes[0]]
    elif change == "swap":
        hashes[0], hashes[1] = hashes[1], hashes[0]
    else:
        hashes = []
    _write_proof(tpack, hashes)
    resign(site, tpack)
    out = failed(site, tpack)
    assert "proofs.jsonl:1: " in out
    assert "no entry of the pack is proven" in out


def test_proof_file_must_hold_one_canonical_line(site: Site, tpack: Path) -> None:
    line = lines(tpack / pf.PROOFS)[0]
    (tpack / pf.PROOFS).write_bytes(line + line)
    resign(site, tpack)
    assert "proofs.jsonl: holds 2 lines, expected one" in failed(site, tpack)
    rec = json.loads(line)
    (tpack / pf.PROOFS).write_bytes(json.dumps(rec, separators=(", ", ": ")).encode() + b"\n")
    resign(site, tpack)
    assert "line is not the canonical (RFC 8785) {proof} object" in failed(site, tpack)


def test_entry_moved_to_another_index_fails(site: Site, pack: Path) -> None:
    """The proof binds positions too: an entry relabelled with a neighbour's index fails."""
    ls = lines(pack / pf.EVIDENCE)
    a, b = json.loads(ls[3]), json.loads(ls[4])
    a["leaf_hash"], b["leaf_hash"] = b["leaf_hash"], a["leaf_hash"]
    a["entry"], b["entry"] = b["entry"], a["entry"]
    ls[3], ls[4] = canonical_json(a) + b"\n", canonical_json(b) + b"\n"
    (pack / pf.EVIDENCE).write_bytes(b"".join(ls))
    resign(site, pack)
    assert "no entry of the pack is proven" in failed(site, pack)


def test_reproved_pack_verifies(site: Site, pack: Path) -> None:
    """The insider's tool rebuilds the genuine proof: it verifies (the helper is honest)."""
    before = (pack / pf.PROOFS).read_bytes()
    reprove(site, pack)
    assert (pack / pf.PROOFS).read_bytes() == before
    passed(site, pack)


def test_the_docs_worked_example_holds() -> None:
    """docs/pack-format.md's two example proofs, checked by the doc's walk and by edgeaudit."""
    from edgeaudit.merkle.multiproof import build_multiproof

    doc = (Path(__file__).resolve().parents[2] / "docs" / "pack-format.md").read_text()
    section = doc[doc.index("**Worked example.**") : doc.index("## Version 1 packs")]
    proofs = [
        base64.b64decode(json.loads(line)["proof"])
        for line in section.splitlines()
        if line.startswith('{"proof":')
    ]
    leaves = [hashlib.sha256(b"\x00" + str(i).encode()).digest() for i in range(7)]
    root = bytes.fromhex("a3e23b32ccb6bf96d092d165d8aa546e09829de8f03b0e8957581d1e16b92bdf")
    assert root.hex() in section
    tree = LevelTree()
    tree.extend(leaves)
    assert tree.freeze() == root
    for selection, proof in zip(([2, 3, 4], [1, 5]), proofs, strict=True):
        assert doc_verify(7, root, [(i, leaves[i]) for i in selection], proof)
        assert tree.multiproof(selection) == proof
    assert build_multiproof([b"".join(leaves)], []) == b""
