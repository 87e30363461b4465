"""Tenant rules: a tenant pack holds the tenant's entries (in full only its own), redacted
entries that concern it or that its results cite, and its results only. Each variant as an
outsider (the file hashes catch it) and as an insider who re-signs the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from tests.pack.conftest import Site
from tests.pack.helpers import copy_pack
from tests.pack.tampering import failed, lines, resign
from tests.pack.test_multiproof_packs import reprove


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(r) for r in lines(path)]


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(canonical_json(r) + b"\n" for r in records))


def _cited(pack: Path) -> set[int]:
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    return {e["index"] for r in doc["results"] for e in r["evidence"]}


def _outsider_then_insider(site: Site, pack: Path, expected: str) -> None:
    assert "SHA-256 is" in failed(site, pack)
    resign(site, pack)
    assert expected in failed(site, pack)


def _edit_redacted(pack: Path, change) -> int:  # type: ignore[no-untyped-def]
    """Apply ``change`` to the view of the first redacted, uncited entry; its index."""
    cited = _cited(pack)
    recs = _records(pack / pf.EVIDENCE)
    rec = next(r for r in recs if "redacted" in r and r["index"] not in cited)
    change(rec["redacted"])
    _write(pack / pf.EVIDENCE, recs)
    return int(rec["index"])


def test_redacted_entry_of_another_tenant_slipped_in(site: Site, tpack: Path) -> None:
    """The insider adds another tenant's entry, redacted and genuinely proven in the log."""
    manifest = json.loads((tpack / pf.MANIFEST).read_text())
    held = {r["index"] for r in _records(tpack / pf.EVIDENCE)}
    config = cfg.load(site.ws)
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        for index, body, stored, _ in reader.iter_entries(0):
            entry = json.loads(body)
            if (
                index not in held
                and entry.get("scope") == ["media-b"]
                and "2026-07-01" <= entry["time"] < "2026-10-01"
            ):
                leaf = stored
                break
        else:
            raise AssertionError("no media-b entry in the quarter")
    view = {"kind": entry["kind"], "scope": ["tenant-2"], "time": entry["time"]}
    ev = _records(tpack / pf.EVIDENCE)
    at = sum(1 for r in ev if r["index"] < index)
    ev.insert(at, {"index": index, "leaf_hash": bytes(leaf).hex(), "redacted": view})
    _write(tpack / pf.EVIDENCE, ev)
    reprove(site, tpack)  # genuinely in the log: a genuine multi-proof
    resign(site, tpack, entries=manifest["entries"] + 1, redacted=manifest["redacted"] + 1)
    out = failed(site, tpack)
    assert f"evidence.jsonl:{at + 1} (entry {index}): redacted entry is not fintech-a's" in out
    assert "proofs.jsonl" not in out  # genuinely in the log: only the tenant rule catches it


def test_redacted_view_dropping_the_tenant_from_scope(site: Site, tpack: Path) -> None:
    def drop(view: dict[str, Any]) -> None:
        view["scope"] = [s for s in view["scope"] if s != "fintech-a"] or ["tenant-2"]

    index = _edit_redacted(tpack, drop)
    _outsider_then_insider(site, tpack, f"(entry {index}): redacted entry is not fintech-a's")


def test_redacted_view_naming_another_tenant(site: Site, tpack: Path) -> None:
    def name(view: dict[str, Any]) -> None:
        view["scope"] = ["fintech-a", "media-b"]

    index = _edit_redacted(tpack, name)
    _outsider_then_insider(site, tpack, f"(entry {index}): redacted view names ['media-b']")


def test_redacted_view_carrying_more_than_the_view(site: Site, tpack: Path) -> None:
    def leak(view: dict[str, Any]) -> None:
        view["actor"] = {"principal": "someone@media-b"}

    index = _edit_redacted(tpack, leak)
    _outsider_then_insider(site, tpack, f"(entry {index}): redacted view may hold only")


def test_redacted_entry_outside_the_period(site: Site, tpack: Path) -> None:
    def move(view: dict[str, Any]) -> None:
        view["time"] = "2025-01-01T00:00:00Z"

    index = _edit_redacted(tpack, move)
    _outsider_then_insider(site, tpack, f"(entry {index}): redacted entry time 2025-01-01")


def test_site_pack_with_a_tenant_assessment(site: Site, site_pack: Path, tmp_path: Path) -> None:
    pack = copy_pack(site_pack, tmp_path / "pack")
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    doc["assessment"]["tenant"] = "fintech-a"
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    _outsider_then_insider(site, pack, "the assessment is for tenant 'fintech-a', the pack for")
