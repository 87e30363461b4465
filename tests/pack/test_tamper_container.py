"""Strict containers: what a pack may hold and how its bytes are written. Each variant as an
outsider (no key) and, where the manifest could paper over it, as an insider who re-signs the
manifest; benign repackaging still verifies."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from edgeaudit.canonical import leaf_hash
from edgeaudit.note.signer import generate
from edgeaudit.verify import pack_format as pf
from tests.pack.conftest import Site
from tests.pack.helpers import copy_pack
from tests.pack.tampering import edit_line, failed, lines, passed, resign, zip_dir


@pytest.fixture
def pack(site_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(site_pack, tmp_path / "pack")


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


def _forged_evidence(pack: Path) -> bytes:
    """evidence.jsonl with its first entry's outcome changed (bytes and leaf hash agree)."""
    ls = lines(pack / pf.EVIDENCE)
    rec = json.loads(ls[0])
    body = base64.b64decode(rec["entry"]).replace(b'"kind":"', b'"kind":"x', 1)
    rec["entry"], rec["leaf_hash"] = base64.b64encode(body).decode(), leaf_hash(body).hex()
    return pf.evidence_line(rec["index"], bytes.fromhex(rec["leaf_hash"]), body) + b"".join(ls[1:])


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("insider", [False, True])
def test_duplicate_zip_member(site: Site, pack: Path, tmp_path: Path, insider: bool) -> None:
    """Two ``evidence.jsonl`` members: ``unzip`` shows the first, Python reads the last."""
    forged = _forged_evidence(pack)
    if insider:  # the manifest lists the forged member's hash
        genuine = (pack / pf.EVIDENCE).read_bytes()
        (pack / pf.EVIDENCE).write_bytes(forged)
        resign(site, pack)
        (pack / pf.EVIDENCE).write_bytes(genuine)
    out = failed(site, zip_dir(pack, tmp_path / "dup.zip", [(pf.EVIDENCE, forged)]))
    assert "evidence.jsonl: appears 2 times in the archive" in out


@pytest.mark.parametrize("insider", [False, True])
def test_member_in_a_sub_folder(site: Site, pack: Path, tmp_path: Path, insider: bool) -> None:
    (pack / "extra").mkdir()
    shutil.move(pack / pf.OSCAL, pack / "extra" / pf.OSCAL)
    if insider:  # the insider cannot list it under its folder either
        manifest = json.loads((pack / pf.MANIFEST).read_text())
        names = [f["path"] for f in manifest["files"] if f["path"] != pf.OSCAL]
        resign(site, pack, [*names, f"extra/{pf.OSCAL}"])
    out = failed(site, pack)
    assert "extra: a sub-folder: a pack's files are top level" in out
    if insider:
        assert "lists 'extra/oscal-assessment-results.json', which is not a file of" in out
    zipped = tmp_path / "sub.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for p in sorted(pack.iterdir()):
            if p.is_file():
                zf.write(p, p.name)
        zf.write(pack / "extra" / pf.OSCAL, f"extra/{pf.OSCAL}")
    assert f"extra/{pf.OSCAL}: in a sub-folder" in failed(site, zipped)


def test_link_in_a_directory(site: Site, pack: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.pdf"
    shutil.move(pack / pf.REPORT, outside)
    os.symlink(outside, pack / pf.REPORT)  # same bytes, but read through a link
    out = failed(site, pack)
    assert "report.pdf: a link, not a file" in out


def test_link_member_in_a_zip(site: Site, pack: Path, tmp_path: Path) -> None:
    data = (pack / pf.REPORT).read_bytes()
    (pack / pf.REPORT).unlink()
    info = zipfile.ZipInfo(pf.REPORT)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    out = failed(site, zip_dir(pack, tmp_path / "link.zip", [(info, data)]))
    assert "report.pdf: a link, not a file" in out


def test_manifest_lists_a_file_outside_the_format(site: Site, pack: Path) -> None:
    (pack / "notes.txt").write_text("the auditor agreed\n")
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    resign(site, pack, sorted([*(f["path"] for f in manifest["files"]), "notes.txt"]))
    out = failed(site, pack)
    assert "lists 'notes.txt', which is not a file of the format" in out


def test_redacted_count_differs_from_the_file(site: Site, tpack: Path) -> None:
    manifest = json.loads((tpack / pf.MANIFEST).read_text())
    assert manifest["redacted"] > 0
    resign(site, tpack, redacted=manifest["redacted"] - 1)
    out = failed(site, tpack)
    assert f"{manifest['redacted']} redacted entries, the manifest says" in out


@pytest.mark.parametrize("insider", [False, True])
def test_non_canonical_entry_bytes(site: Site, pack: Path, insider: bool) -> None:
    def spaced(rec: dict) -> None:  # type: ignore[type-arg]
        body = json.dumps(json.loads(base64.b64decode(rec["entry"])), indent=1).encode()
        rec["entry"], rec["leaf_hash"] = base64.b64encode(body).decode(), leaf_hash(body).hex()

    edit_line(pack / pf.EVIDENCE, 2, spaced)
    if insider:
        resign(site, pack)
    out = failed(site, pack)
    if insider:
        assert "evidence.jsonl:2 (entry" in out
        assert "entry bytes are not canonical JSON (RFC 8785)" in out
    else:
        assert "evidence.jsonl: SHA-256 is" in out


@pytest.mark.parametrize("name", [pf.EVIDENCE, pf.PROOFS])
def test_non_canonical_lines(site: Site, pack: Path, name: str) -> None:
    ls = lines(pack / name)
    at = 3 if name == pf.EVIDENCE else 0  # proofs.jsonl: its one line, the multi-proof
    rec = json.loads(ls[at])
    ls[at] = json.dumps(rec, sort_keys=False, separators=(", ", ": ")).encode() + b"\n"
    (pack / name).write_bytes(b"".join(ls))
    assert f"{name}: SHA-256 is" in failed(site, pack)
    resign(site, pack)
    where = f"{name}:4 (entry {rec['index']})" if name == pf.EVIDENCE else f"{name}:1"
    assert f"{where}: line is not the canonical" in failed(site, pack)


def test_duplicate_member_names_in_findings(site: Site, pack: Path) -> None:
    """``{"status":"fail","status":"pass"}``: parsers disagree on which one counts."""
    raw = (pack / pf.FINDINGS_JSON).read_bytes()
    at = raw.index(b'"status":"') + len(b'"status":"')
    end = raw.index(b'"', at)
    status = raw[at:end]
    raw = raw[: end + 1] + b',"status":"pass"' + raw[end + 1 :]
    assert status != b"pass"
    (pack / pf.FINDINGS_JSON).write_bytes(raw)
    resign(site, pack)
    assert "findings.json: is not canonical JSON (RFC 8785)" in failed(site, pack)


def test_assessment_files_come_together(site: Site, pack: Path) -> None:
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    (pack / pf.OSCAL).unlink()
    resign(site, pack, [f["path"] for f in manifest["files"] if f["path"] != pf.OSCAL])
    assert "an assessment's files come together" in failed(site, pack)


# --- benign repackaging --------------------------------------------------------------------


def test_rezipped_stored_and_deflated_verify(site: Site, site_pack: Path, tmp_path: Path) -> None:
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        out = tmp_path / f"re-{method}.zip"
        with zipfile.ZipFile(out, "w", method) as zf:
            for p in sorted(site_pack.iterdir(), reverse=True):  # another member order
                zf.write(p, p.name)
        passed(site, out)


def test_zip_unpacked_to_a_directory_verifies(
    site: Site, tenant_pack_zip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "unpacked"
    with zipfile.ZipFile(tenant_pack_zip) as zf:
        zf.extractall(out)
    assert "tenant media-b" in passed(site, out)


def test_extra_cosignature_from_an_unknown_witness_verifies(site: Site, pack: Path) -> None:
    note = (pack / pf.CHECKPOINT).read_bytes()
    witness = generate("witness.example/w1")
    cosigned = witness.add_signature(note)
    assert cosigned != note
    assert cosigned.startswith(note[: note.index(b"\n\n")])
    (pack / pf.CHECKPOINT).write_bytes(cosigned)
    passed(site, pack)
    # ... but a cosigned note of another tree does not
    body, sigs = note.split(b"\n\n", 1)
    other = body.replace(body.splitlines()[1], b"1", 1) + b"\n\n" + sigs
    (pack / pf.CHECKPOINT).write_bytes(witness.add_signature(other))
    assert "checkpoint: " in failed(site, pack)
