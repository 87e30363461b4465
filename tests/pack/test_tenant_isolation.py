"""A tenant pack names nothing of the other tenants: not in entries, findings, CSV, OSCAL, PDF."""

from __future__ import annotations

import ipaddress
import re
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from edgeaudit.collect.inventory import Inventory, load_inventory
from tests.pack.conftest import Site


def identifiers(inv: Inventory, tenant: str) -> set[str]:
    """Every string in the inventory that identifies ``tenant``'s assets, principals,
    addresses, segments and keys (and the tenant itself)."""
    out: set[str] = set()
    for t in inv.tenants:
        if t.id == tenant:
            out |= {t.id, t.name}
    for s in inv.segments:
        if s.owner == tenant:
            out |= {s.id, str(s.cidr)}
    for a in inv.assets:
        if a.owner == tenant:
            out |= {a.hostname, *a.addresses}
    for p in inv.principals:
        if p.tenant == tenant:
            out |= {p.id, *(ident for _, ident in p.identities)}
    for k in inv.keys:
        if k.tenant == tenant:
            out |= {k.id, *k.identities}
    return out


def pack_texts(pack: Path) -> dict[str, str]:
    """Every file of a pack as text, base64 entries decoded, the PDF as extracted text."""
    import base64
    import json

    files: dict[str, bytes] = {}
    if pack.is_dir():
        files = {p.name: p.read_bytes() for p in pack.iterdir()}
    else:
        with zipfile.ZipFile(pack) as zf:
            files = {n: zf.read(n) for n in zf.namelist()}
    texts: dict[str, str] = {}
    for name, data in files.items():
        if name == "report.pdf":
            import io

            reader = PdfReader(io.BytesIO(data))
            text = "\n".join(page.extract_text() for page in reader.pages)
            for att_name, contents in reader.attachments.items():
                text += "\n" + att_name + "\n" + b"".join(contents).decode()
            texts[name] = text
            continue
        text = data.decode("utf-8")
        if name == "evidence.jsonl":
            text += "\n".join(
                base64.b64decode(json.loads(line)["entry"]).decode()
                for line in text.splitlines()
                if "entry" in json.loads(line)
            )
        texts[name] = text
    return texts


def _inside(text: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> list[str]:
    hits = []
    for m in re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", text):
        try:
            addr = ipaddress.ip_address(m)
        except ValueError:
            continue
        if any(addr in n for n in networks):
            hits.append(m)
    return hits


@pytest.mark.parametrize("fixture", ["tenant_pack", "tenant_pack_zip"])
def test_tenant_pack_names_no_other_tenant(
    site: Site, fixture: str, request: pytest.FixtureRequest
) -> None:
    pack: Path = request.getfixturevalue(fixture)
    inv = load_inventory(site.inventory)
    me = "fintech-a" if fixture == "tenant_pack" else "media-b"
    texts = pack_texts(pack)
    assert "evidence.jsonl" in texts
    for other in (t.id for t in inv.tenants if t.id != me):
        secret = identifiers(inv, other)
        networks = [s.cidr for s in inv.segments if s.owner == other]
        for name, text in texts.items():
            found = sorted(s for s in secret if s in text)
            assert not found, f"{name} of {me}'s pack names {other}: {found}"
            assert not _inside(text, networks), f"{name} holds addresses of {other}"


def test_the_check_above_can_fail(site: Site, site_pack: Path) -> None:
    """The site pack does name every tenant: the leak test is not vacuous."""
    inv = load_inventory(site.inventory)
    texts = pack_texts(site_pack)
    for t in inv.tenants:
        found = [s for s in identifiers(inv, t.id) if any(s in x for x in texts.values())]
        assert len(found) >= 3, t.id


def test_tenant_findings_use_neutral_labels(tenant_pack: Path) -> None:
    import json

    doc = json.loads((tenant_pack / "findings.json").read_text())
    cross = [r for r in doc["results"] if r["rule"] == "key-use-by-owner-only"]
    assert cross, "the planted cross-tenant key use is a finding of the key's owner"
    assert "tenant-2 principal" in cross[0]["reason"]
    assert "tenant-2 address" in cross[0]["reason"]
