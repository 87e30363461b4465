"""docs/pack-format.md is the contract an outsider implements from: it is held against what
``pack build`` writes (file names, manifest members, line members, the CSV header, OSCAL props
and version), so the two cannot drift apart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.verify import pack_format as pf
from tests.pack.conftest import Site
from tests.pack.helpers import run

DOC = Path(__file__).resolve().parents[2] / "docs" / "pack-format.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def section(doc: str, heading: str) -> str:
    """The text of the section whose heading line starts with ``heading``."""
    at = doc.index("\n" + heading)
    end = doc.find("\n## ", at + 1)
    return doc[at : end if end != -1 else len(doc)]


def table_names(text: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE)


def members(text: str) -> set[str]:
    return set(re.findall(r'"([a-z_]+)":', text))


def _packs(site_pack: Path, tenant_pack: Path) -> list[Path]:
    return [site_pack, tenant_pack]


def test_the_title_names_the_format(doc: str) -> None:
    assert doc.splitlines()[0] == f"# Audit pack format (`{pf.FORMAT}`)"


def test_the_file_table_is_the_format(doc: str, site_pack: Path, tenant_pack: Path) -> None:
    names = table_names(section(doc, "## Files"))
    assert set(names) == pf.LISTED | pf.SIGNATURE_FILES
    assert len(names) == len(set(names))
    for pack in _packs(site_pack, tenant_pack):
        assert {p.name for p in pack.iterdir()} <= set(names)
        listed = json.loads((pack / pf.MANIFEST).read_text())["files"]
        assert {f["path"] for f in listed} <= set(names) - pf.SIGNATURE_FILES
    assert (tenant_pack / pf.CONSISTENCY_LOG).is_file()  # every file of the table is written


def test_the_manifest_members(doc: str, site_pack: Path, tenant_pack: Path) -> None:
    documented = set(table_names(section(doc, "## `manifest.jws` and `manifest.json`")))
    for pack in _packs(site_pack, tenant_pack):
        manifest = json.loads((pack / pf.MANIFEST).read_text())
        assert set(manifest) == documented
        assert set(manifest["files"][0]) == {"path", "sha256", "size"}


def test_the_line_members(doc: str, site_pack: Path, tenant_pack: Path) -> None:
    evidence = section(doc, "## `evidence.jsonl`")
    example = evidence[evidence.index("```") : evidence.index("```", evidence.index("```") + 3)]
    full_doc, redacted_doc = (members(line) for line in example.splitlines()[1:3])
    assert full_doc == {"entry", "index", "leaf_hash"}
    for pack in _packs(site_pack, tenant_pack):
        for line in (pack / pf.EVIDENCE).read_text().splitlines():
            rec = json.loads(line)
            if "redacted" in rec:
                assert set(rec) | {"kind", "outcome", "scope", "time"} == redacted_doc | {
                    "redacted"
                }
                assert set(rec["redacted"]) <= redacted_doc
            else:
                assert set(rec) == full_doc
        proofs = members(section(doc, "## `proofs.jsonl`"))
        for line in (pack / pf.PROOFS).read_text().splitlines()[:50]:
            assert set(json.loads(line)) == proofs
    consistency = section(doc, "## `consistency.json` and `consistency.jsonl`")
    documented = members(consistency[: consistency.index("### Kept")])
    assert json.loads((tenant_pack / pf.CONSISTENCY).read_text()).keys() == documented
    for line in (tenant_pack / pf.CONSISTENCY_LOG).read_text().splitlines():
        assert json.loads(line).keys() == documented


def test_the_csv_header(doc: str, site_pack: Path) -> None:
    text = section(doc, "## `findings.json` and `findings.csv`")
    header = re.search(r"has the header\s+`([^`]+)`", text)
    assert header is not None
    assert tuple(header.group(1).split(",")) == pf.FINDINGS_CSV_COLUMNS
    written = (site_pack / pf.FINDINGS_CSV).read_text().splitlines()[0]
    assert written == header.group(1)


def test_the_result_members_are_documented(doc: str, site_pack: Path, tenant_pack: Path) -> None:
    text = section(doc, "## `findings.json` and `findings.csv`")
    named = set(re.findall(r"`([a-z_]+)`", text))
    for pack in _packs(site_pack, tenant_pack):
        findings = json.loads((pack / pf.FINDINGS_JSON).read_text())
        assert set(findings) <= named | {"rules"}
        for r in findings["results"]:
            assert set(r) <= named, set(r) - named
        assert set(pf.RESULT_BOUND) <= named
        assert set(pf.ASSESSMENT_BOUND) <= named


def test_the_oscal_props_and_version(doc: str, site_pack: Path) -> None:
    text = section(doc, "## `oscal-assessment-results.json`")
    oscal = json.loads((site_pack / pf.OSCAL).read_text())["assessment-results"]
    assert f'`oscal-version` `"{oscal["metadata"]["oscal-version"]}"`' in text
    props: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for p in value.get("props", []):
                assert p["ns"] == pf.OSCAL_NS
                props.add(p["name"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(oscal)
    assert props == {"tree-size", "evidence-entries", "result-id", "status", "severity",
                     "control-status"}  # fmt: skip
    for name in props:
        assert f"`{name}`" in text
    assert f"`{pf.OSCAL_NS}`" in text


def test_pack_key_prints_the_jwk_the_doc_describes(site: Site, tmp_path: Path) -> None:
    from edgeaudit.verify.pack_key import ManifestKey

    out = tmp_path / "manifest.jwk"
    code, text, err = run(*site.args(), "pack", "key", "--jwk", "--out", str(out))
    assert code == 0, err
    jwk = json.loads(out.read_text())
    assert set(jwk) == {"crv", "kid", "kty", "x", "y"}
    assert json.loads(text) == jwk
    pem = ManifestKey.load(str(site.mkey))
    assert ManifestKey.load(str(out)) == pem
    assert jwk["kid"] == pem.kid


def test_the_doc_points_at_no_source_code(doc: str) -> None:
    assert not re.search(r"`[\w/]+\.py`|edgeaudit/|\.\./|FORMATS\.md", doc)
