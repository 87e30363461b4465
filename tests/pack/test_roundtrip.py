"""Build -> verify for a site pack and tenant packs of the demo campus."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pack.conftest import Site, verify
from tests.pack.helpers import body, entries


def test_site_pack_verifies(site: Site, site_pack: Path) -> None:
    code, out, err = verify(site, site_pack, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"]
    assert report["problems"] == []
    manifest = json.loads((site_pack / "manifest.json").read_text())
    assert report["entries"] == manifest["entries"]
    assert report["entries"] > 1500
    assert report["redacted"] == 0
    assert report["findings"] == len(site.doc["results"])
    names = {f["path"] for f in manifest["files"]}
    assert {
        "checkpoint",
        "evidence.jsonl",
        "proofs.jsonl",
        "findings.json",
        "findings.csv",
        "oscal-assessment-results.json",
        "report.pdf",
    } <= names


def test_site_pack_holds_every_entry_of_the_quarter_in_order(site_pack: Path) -> None:
    recs = entries(site_pack)
    indices = [r["index"] for r in recs]
    assert indices == sorted(set(indices))
    doc = json.loads((site_pack / "findings.json").read_text())
    records = {r["record"]["index"] for r in doc["results"]}
    for r in recs:
        e = body(r)
        if r["index"] in records:  # the assessment's recorded results, made after the quarter
            assert e["kind"] == "policy.result"
        else:
            assert "2026-07-01" <= e["time"] < "2026-10-01"
    assert records <= set(indices)


def test_tenant_pack_verifies_with_redacted_cross_tenant_entries(
    site: Site, tenant_pack: Path
) -> None:
    code, out, err = verify(site, tenant_pack)
    assert code == 0, out + err
    assert "tenant fintech-a" in out
    recs = entries(tenant_pack)
    redacted = [r for r in recs if "redacted" in r]
    full = [r for r in recs if "entry" in r]
    assert full
    assert redacted  # the planted cross-tenant key use appears, redacted
    for r in full:
        assert body(r)["scope"] == ["fintech-a"]
    for r in redacted:
        assert "fintech-a" in r["redacted"]["scope"]
        assert set(r["redacted"]) <= {"kind", "scope", "time", "outcome"}
    doc = json.loads((tenant_pack / "findings.json").read_text())
    assert doc["assessment"]["tenant"] == "fintech-a"
    assert doc["results"]
    assert all(r["scope"]["tenant"] == "fintech-a" for r in doc["results"])


def test_tenant_pack_proves_against_the_site_checkpoint(site_pack: Path, tenant_pack: Path) -> None:
    """The tenant's checkpoint is the site log's (same origin and key), later than the site
    pack's, and the tenant pack proves the log grew from that one without a rewrite."""
    site_note = (site_pack / "checkpoint").read_text()
    tenant_note = (tenant_pack / "checkpoint").read_text()
    assert site_note.splitlines()[0] == tenant_note.splitlines()[0]
    assert int(tenant_note.splitlines()[1]) > int(site_note.splitlines()[1])
    consistency = json.loads((tenant_pack / "consistency.json").read_text())
    assert consistency["old_checkpoint"] == site_note


def test_zip_pack_verifies(site: Site, tenant_pack_zip: Path) -> None:
    code, out, err = verify(site, tenant_pack_zip)
    assert code == 0, out + err
    assert "tenant media-b" in out


def test_second_pack_carries_a_consistency_proof(site: Site, tenant_pack: Path) -> None:
    # the tenant pack was built after the site pack: it proves it extends that checkpoint
    assert (tenant_pack / "consistency.json").is_file()
    code, out, _ = verify(site, tenant_pack)
    assert code == 0
    assert "extends the previous pack's checkpoint" in out
