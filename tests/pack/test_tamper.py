"""Every file of a pack and every kind of change: verification fails with a precise message.

Two attackers: one without any key (any edit breaks a file hash listed in the signed
manifest), and an insider holding the manifest key but not the log key, who re-signs the
manifest after the edit (then the checkpoint, the proofs and the findings' citations catch it).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.note.signer import generate
from edgeaudit.pack.manifest import sign_manifest
from edgeaudit.verify import pack_format as pf
from tests.pack.conftest import Site, verify
from tests.pack.helpers import copy_pack
from tests.pack.tampering import edit_line, failed, lines, resign
from tests.pack.test_multiproof_packs import reprove


@pytest.fixture
def pack(site_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(site_pack, tmp_path / "pack")


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


def cited_line(pack: Path) -> tuple[int, int]:
    """(evidence line number, entry index) of an entry a finding cites."""
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    index = doc["results"][0]["evidence"][0]["index"]
    for n, raw in enumerate(lines(pack / pf.EVIDENCE), 1):
        if json.loads(raw)["index"] == index:
            return n, index
    raise AssertionError("cited entry not in the pack")


def _flip_entry(rec: dict) -> None:  # type: ignore[type-arg]
    body = base64.b64decode(rec["entry"]).replace(b'"outcome":"', b'"outcome":"x', 1)
    rec["entry"] = base64.b64encode(body).decode()
    rec["leaf_hash"] = leaf_hash(body).hex()


def test_edited_entry_breaks_the_evidence_hash(site: Site, pack: Path) -> None:
    edit_line(pack / pf.EVIDENCE, 5, _flip_entry)
    out = failed(site, pack)
    assert "evidence.jsonl: SHA-256 is" in out
    assert "proofs.jsonl:1: the multi-proof" in out  # the proof also fails for the edited leaf


def test_edited_entry_resigned_fails_its_inclusion_proof(site: Site, pack: Path) -> None:
    edit_line(pack / pf.EVIDENCE, 5, _flip_entry)
    resign(site, pack)
    out = failed(site, pack)
    assert "proofs.jsonl:1: the multi-proof of" in out
    assert "no entry of the pack is proven" in out
    root = json.loads((pack / pf.MANIFEST).read_text())["checkpoint"]["root_hash"]
    assert f"the checkpoint says {root}" in out
    assert "SHA-256" not in out


def test_entry_bytes_not_matching_their_leaf_hash(site: Site, pack: Path) -> None:
    def change(rec: dict) -> None:  # type: ignore[type-arg]
        rec["entry"] = base64.b64encode(base64.b64decode(rec["entry"]) + b" ").decode()

    edit_line(pack / pf.EVIDENCE, 3, change)
    resign(site, pack)
    out = failed(site, pack)
    assert "evidence.jsonl:3 (entry" in out
    assert "entry bytes hash to leaf" in out


def test_dropped_entry(site: Site, pack: Path) -> None:
    n, index = cited_line(pack)
    ls = lines(pack / pf.EVIDENCE)
    del ls[n - 1]
    (pack / pf.EVIDENCE).write_bytes(b"".join(ls))
    reprove(site, pack)  # a genuine multi-proof of the entries left
    resign(site, pack)  # the signed entry count stays: the insider cannot hide the drop
    out = failed(site, pack)
    assert "entries proven, the manifest says" in out
    assert f"cites entry {index}, which the pack does not hold" in out


def test_added_entry(site: Site, pack: Path) -> None:
    ev = lines(pack / pf.EVIDENCE)
    size = json.loads((pack / "manifest.json").read_text())["checkpoint"]["tree_size"]
    indexes = [json.loads(line)["index"] for line in ev]
    # an entry inside the signed tree that the pack does not hold, slipped in in index order
    index = max(i for i in range(size) if i not in set(indexes))
    at = sum(1 for i in indexes if i < index)
    body = b'{"kind":"auth.logon","time":"2026-08-01T00:00:00Z"}'
    forged = {
        "entry": base64.b64encode(body).decode(),
        "index": index,
        "leaf_hash": leaf_hash(body).hex(),
    }
    (pack / pf.EVIDENCE).write_bytes(b"".join([*ev[:at], canonical_json(forged) + b"\n", *ev[at:]]))
    resign(site, pack)
    out = failed(site, pack)
    assert "proofs.jsonl:1: the multi-proof" in out  # the forged leaf is not in the tree


def test_altered_proof(site: Site, pack: Path) -> None:
    def change(rec: dict) -> None:  # type: ignore[type-arg]
        raw = bytearray(base64.b64decode(rec["proof"]))
        raw[0] ^= 1
        rec["proof"] = base64.b64encode(bytes(raw)).decode()

    edit_line(pack / pf.PROOFS, 1, change)
    out = failed(site, pack)
    assert "proofs.jsonl: SHA-256 is" in out
    assert "proofs.jsonl:1: the multi-proof" in out
    assert "computes root" in out


def test_truncated_proof(site: Site, pack: Path) -> None:
    def change(rec: dict) -> None:  # type: ignore[type-arg]
        rec["proof"] = base64.b64encode(base64.b64decode(rec["proof"])[:-32]).decode()

    edit_line(pack / pf.PROOFS, 1, change)
    resign(site, pack)
    assert "too few hashes" in failed(site, pack)


def test_swapped_checkpoint_from_another_key(site: Site, pack: Path) -> None:
    note = (pack / pf.CHECKPOINT).read_text()
    origin = note.splitlines()[0]
    other = generate(origin)
    from edgeaudit.note.checkpoint import Checkpoint
    from edgeaudit.note.verifier import parse_note

    body = parse_note(note.encode()).body
    size, root = body.decode().splitlines()[1:3]
    cp = Checkpoint(origin, int(size), base64.b64decode(root))
    (pack / pf.CHECKPOINT).write_bytes(other.sign_checkpoint(cp))
    resign(site, pack)
    out = failed(site, pack)
    assert out.splitlines()[1].strip().startswith("checkpoint:")


def test_swapped_checkpoint_of_another_size(site: Site, pack: Path, tenant_pack: Path) -> None:
    # another genuine checkpoint of the same log verifies its signature too, so its size and
    # root are compared with the signed manifest: here the later one of the tenant pack
    (pack / pf.CHECKPOINT).write_bytes((tenant_pack / pf.CHECKPOINT).read_bytes())
    resign(site, pack)
    assert "checkpoint: signed tree size" in failed(site, pack)


def test_altered_finding(site: Site, pack: Path) -> None:
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    ev = doc["results"][0]["evidence"][0]
    ev["leaf_hash"] = "00" * 32
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    out = failed(site, pack)
    assert "findings.json: SHA-256 is" in out
    resign(site, pack)
    out = failed(site, pack)
    assert (
        f"finding {doc['results'][0]['id']} cites entry {ev['index']} with leaf {'00' * 32}" in out
    )


def test_finding_citing_a_missing_entry(site: Site, pack: Path) -> None:
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    doc["results"][0]["evidence"].append({"index": 10**6, "leaf_hash": "ab" * 32})
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    resign(site, pack)
    assert "cites entry 1000000, which the pack does not hold" in failed(site, pack)


def test_altered_findings_csv(site: Site, pack: Path) -> None:
    text = (pack / pf.FINDINGS_CSV).read_text().splitlines()
    (pack / pf.FINDINGS_CSV).write_text("\n".join([text[0], *text[2:]]) + "\n")
    assert "findings.csv: SHA-256 is" in failed(site, pack)
    resign(site, pack)
    out = failed(site, pack)
    assert f"findings.csv: {len(text) - 2} rows, findings.json {len(text) - 1} results" in out


def test_altered_pdf(site: Site, pack: Path) -> None:
    data = bytearray((pack / pf.REPORT).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (pack / pf.REPORT).write_bytes(bytes(data))
    assert "report.pdf: SHA-256 is" in failed(site, pack)


def test_altered_oscal(site: Site, pack: Path) -> None:
    (pack / pf.OSCAL).write_bytes(
        (pack / pf.OSCAL).read_bytes().replace(b"satisfied", b"satisfieD", 1)
    )
    assert f"{pf.OSCAL}: SHA-256 is" in failed(site, pack)


def test_altered_consistency_proof(site: Site, tpack: Path) -> None:
    doc = json.loads((tpack / pf.CONSISTENCY).read_text())
    assert doc["proof"]  # events were appended between the site and the tenant pack
    doc["proof"][0] = base64.b64encode(b"\x00" * 32).decode()
    (tpack / pf.CONSISTENCY).write_bytes(canonical_json(doc))
    resign(site, tpack)
    assert "consistency.json: " in failed(site, tpack)


def test_edited_manifest_without_resigning(site: Site, pack: Path) -> None:
    raw = (pack / pf.MANIFEST).read_bytes().replace(b'"entries":', b'"entries":1', 1)
    (pack / pf.MANIFEST).write_bytes(raw)
    assert "manifest.json: differs from the payload signed in manifest.jws" in failed(site, pack)


def test_altered_manifest_signature(site: Site, pack: Path) -> None:
    token = (pack / pf.MANIFEST_JWS).read_text()
    head, payload, sig = token.split(".")
    sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    (pack / pf.MANIFEST_JWS).write_text(f"{head}.{payload}.{sig}")
    assert "manifest.jws: signature does not verify" in failed(site, pack)


def test_manifest_signed_by_another_key(site: Site, pack: Path, tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    from edgeaudit.verify.pack_key import ManifestKey

    okey = ManifestKey.from_public_key(other.public_key())
    payload = (pack / pf.MANIFEST).read_bytes()
    (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, other, okey))
    out = failed(site, pack)
    assert f"signed by key id {okey.kid!r}, expected the trusted manifest key" in out
    # the same forgery claiming the trusted kid fails the signature check instead
    trusted = ManifestKey.load(str(site.mkey))
    (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, other, trusted))
    assert "signature does not verify" in failed(site, pack)


def test_hmac_algorithm_is_refused(site: Site, pack: Path) -> None:
    """Algorithm confusion: an HS256 token keyed with the public PEM (CVE-2024-33663)."""
    import hashlib
    import hmac

    trusted = ManifestKey_load(site)

    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64url(json.dumps({"alg": "HS256", "kid": trusted.kid}).encode())
    payload = b64url((pack / pf.MANIFEST).read_bytes())
    mac = hmac.new(trusted.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    token = f"{header}.{payload}.{b64url(mac.digest())}"
    (pack / pf.MANIFEST_JWS).write_text(token)
    assert "algorithm 'HS256' is not allowed" in failed(site, pack)


def ManifestKey_load(site: Site):  # type: ignore[no-untyped-def]
    from edgeaudit.verify.pack_key import ManifestKey

    return ManifestKey.load(str(site.mkey))


def test_unlisted_file(site: Site, pack: Path) -> None:
    (pack / "notes.txt").write_text("trust me\n")
    assert "notes.txt: in the pack but not in the manifest" in failed(site, pack)


def test_missing_file(site: Site, pack: Path) -> None:
    (pack / pf.PROOFS).unlink()
    assert "proofs.jsonl: listed in the manifest but missing from the pack" in failed(site, pack)


def test_tenant_pack_with_a_foreign_entry_in_full(site: Site, tpack: Path, site_pack: Path) -> None:
    """An insider slips another tenant's entry, in full, into a tenant pack."""
    foreign = next(
        json.loads(r)
        for r in lines(site_pack / pf.EVIDENCE)
        if b"media-b" in base64.b64decode(json.loads(r)["entry"])
    )
    ev = [json.loads(r) for r in lines(tpack / pf.EVIDENCE)]
    pos = next(i for i, r in enumerate(ev) if r["index"] > foreign["index"])
    ev.insert(pos, foreign)
    (tpack / pf.EVIDENCE).write_bytes(b"".join(canonical_json(r) + b"\n" for r in ev))
    reprove(site, tpack)  # genuinely in the log: the multi-proof holds
    resign(site, tpack)
    out = failed(site, tpack)
    assert f"evidence.jsonl:{pos + 1} (entry {foreign['index']}): entry in full is scoped to" in out


def test_usage_errors_exit_2(site: Site, tmp_path: Path) -> None:
    code, _, err = verify(site, tmp_path / "nope")
    assert code == 2
    assert "no such pack" in err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    from tests.pack.helpers import run

    code, _, err = run("verify", str(tmp_path), "--key", str(site.vkey), "--manifest-key", str(bad))
    assert code == 2
    assert "not a PEM public key" in err


def test_json_report_names_file_line_and_entry(site: Site, pack: Path) -> None:
    edit_line(pack / pf.EVIDENCE, 4, _flip_entry)
    resign(site, pack)
    code, out, _ = verify(site, pack, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    problem = next(p for p in report["problems"] if p["file"] == pf.PROOFS)
    assert (problem["line"], problem["index"]) == (1, None)  # one proof for every entry
    assert "no entry of the pack is proven" in problem["message"]


def test_a_tenant_pack_holding_another_tenants_result_fails(site: Site, tpack: Path) -> None:
    # an insider re-signs a tenant pack whose findings carry a result of another tenant
    from edgeaudit.pack.findings import to_csv

    doc = json.loads((tpack / pf.FINDINGS_JSON).read_text())
    doc["results"].append(
        {
            "id": "R-00000000000000aa",
            "rule": "key-tenant-use",
            "title": "t",
            "status": "fail",
            "severity": "critical",
            "controls": [],
            "scope": {"tenant": "tenant-2"},
            "reason": "another tenant's",
            "evidence": [],
        }
    )
    (tpack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    (tpack / pf.FINDINGS_CSV).write_bytes(to_csv(doc))
    resign(site, tpack)
    out = failed(site, tpack)
    assert "is not fintech-a's to see" in out
