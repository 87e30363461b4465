"""The pieces: the in-memory tree, periods, the tenant view, the manifest key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.canonical import leaf_hash
from edgeaudit.collect.inventory import load_inventory
from edgeaudit.errors import InputError
from edgeaudit.merkle.tree import MemoryTree, inclusion_proof, root
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView
from edgeaudit.pack.tree import LevelTree
from edgeaudit.verify.pack_key import ManifestKey

INVENTORY = Path(__file__).resolve().parents[2] / "policies" / "inventory.yaml"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_level_tree_matches_the_reference_tree(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(size)]
    tree = LevelTree()
    tree.extend(leaves)
    ref = MemoryTree(leaves)
    top = tree.freeze()
    assert top == root(size, ref)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index)
    assert proof == b"".join(inclusion_proof(index, size, ref))
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    verify_inclusion(leaves[index], index, size, hashes, top)


def test_quarters_and_periods() -> None:
    q = Period.quarter("2026Q3")
    assert (q.start_text, q.end_text) == ("2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z")
    q4 = Period.quarter("2026q4")
    assert q4.end_text == "2027-01-01T00:00:00Z"
    assert Period.between("2026-08-01", "2026-08-02T12:00:00Z").end_text == "2026-08-02T12:00:00Z"
    for bad in ("2026Q5", "Q3", "2026-Q"):
        with pytest.raises(InputError, match="quarter"):
            Period.quarter(bad)
    with pytest.raises(InputError, match="must end after"):
        Period.between("2026-08-02", "2026-08-01")
    with pytest.raises(InputError, match="--from"):
        Period.between("yesterday", "2026-08-01")
    assert q.contains(q.start)
    assert not q.contains(q.end)


def test_tenant_view_redacts_other_tenants() -> None:
    view = TenantView.for_tenant(load_inventory(INVENTORY), "fintech-a")
    text = "svc-media-b used transit/fintech-a-data from 10.20.0.21 on mb-render-02"
    out = view.redact_text(text)
    assert "media" not in out
    assert "10.20.0.21" not in out
    assert "fintech-a-data" in out  # the tenant's own key stays
    assert view.names_other_tenant(text)
    assert not view.names_other_tenant("ravi.k on fa-web-01 from 10.10.0.5")
    assert view.names_other_tenant("scan from 10.30.0.99")  # any address in ai-c's network
    assert view.full(["fintech-a"], "ravi.k on fa-web-01")
    assert not view.full(["fintech-a", "media-b"], "x")
    assert view.label_scope(["fintech-a", "media-b"]) == ["fintech-a", "tenant-2"]
    with pytest.raises(InputError, match="not a tenant"):
        TenantView.for_tenant(load_inventory(INVENTORY), "nobody")


def test_manifest_key_is_created_owner_only(tmp_path: Path) -> None:
    from tests.pack.helpers import run

    ws = tmp_path / "ws"
    assert run("--workspace", str(ws), "init")[0] == 0
    code, out, _ = run("--workspace", str(ws), "pack", "key", "--json")
    assert code == 0
    key_file = ws / "keys" / "manifest.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    import json

    data = json.loads(out)
    public = ManifestKey.parse(data["public_pem"])
    assert public.kid == data["kid"]
    assert ManifestKey.load(str(ws / "keys" / "manifest.pub")) == public
    # the same key on the next use, and as a JWK
    assert json.loads(run("--workspace", str(ws), "pack", "key", "--json")[1])["kid"] == data["kid"]
    from cryptography.hazmat.primitives import serialization

    from edgeaudit.verify.pack_key import jwk_of

    pub = serialization.load_pem_public_key(data["public_pem"].encode())
    assert ManifestKey.parse(json.dumps(jwk_of(pub))).kid == public.kid  # type: ignore[arg-type]
    os.chmod(key_file, 0o644)
    code, _, err = run("--workspace", str(ws), "pack", "key")
    assert code == 2
    assert "accessible by other users" in err


def test_rfc7638_thumbprint_example() -> None:
    """RFC 7638 §3.1 computes a thumbprint by the same rule for an RSA key; for EC we check
    the rule itself: base64url(SHA-256 of the sorted, space-free required members)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    from edgeaudit.verify.pack_key import jwk_of, thumbprint

    j = jwk_of(key)
    text = f'{{"crv":"P-256","kty":"EC","x":"{j["x"]}","y":"{j["y"]}"}}'
    want = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
    assert thumbprint(key) == want.decode()


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_batch_proofs_equal_single_proofs(size: int, data: st.DataObject) -> None:
    tree = LevelTree()
    tree.extend(leaf_hash(str(i).encode()) for i in range(size))
    tree.freeze()
    chosen = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=size - 1))))
    assert list(tree.proofs(chosen)) == [(i, tree.inclusion_proof(i)) for i in chosen]


@given(st.integers(min_value=0, max_value=2**53 - 1), st.binary(max_size=300))
def test_line_writers_are_canonical_json(index: int, body: bytes) -> None:
    import base64

    from edgeaudit.canonical import canonical_json
    from edgeaudit.verify.pack_format import evidence_line, proof_line

    leaf = leaf_hash(body)
    want = {"entry": base64.b64encode(body).decode(), "index": index, "leaf_hash": leaf.hex()}
    assert evidence_line(index, leaf, body) == canonical_json(want) + b"\n"
    assert proof_line(index, body) == (
        canonical_json({"index": index, "proof": base64.b64encode(body).decode()}) + b"\n"
    )


def test_tenant_view_redacts_other_tenants_ipv6_addresses_in_text() -> None:
    # a dual-stack inventory: another tenant's IPv6 address written in free text (not a listed
    # asset address) names that tenant as surely as its IPv4 address does
    dual = Path(__file__).resolve().parents[1] / "probe" / "data" / "dual" / "inventory.yaml"
    view = TenantView.for_tenant(load_inventory(dual), "tenant-a")
    for text in (
        "scan from 2001:db8:2::99 at 10:00:00",
        "peer [2001:DB8:2:0::7]:443 refused",
        "mapped 2001:db8:2::198.18.2.5 seen",
    ):
        assert view.names_other_tenant(text), text
        out = view.redact_text(text)
        assert "2001:db8:2:" not in out.lower(), out
        assert "tenant-2" in out or "other-tenant" in out, out
    own = "ssh from 2001:db8:1::10 at 10:00:00, mac aa:bb:cc:dd:ee:ff"
    assert not view.names_other_tenant(own)
    assert view.redact_text(own) == own  # its own address, times and MACs stay as they were
