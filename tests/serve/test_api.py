"""The API over the real app: the authorization matrix, tenant isolation, the error shape,
limits, access records, and a tenant export that verifies offline."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.pack.scope import TenantView
from edgeaudit.serve.app import asgi
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from edgeaudit.store import Store
from tests.pack.helpers import run
from tests.serve.conftest import Site, bearer, settings

Q = "2026Q3"
ROLES = ("officer", "auditor", "security", "tenant", "none")


@dataclass(frozen=True)
class World:
    tokens: dict[str, str | None]
    job_a: str  # fintech-a's export (requested by fintech-a)
    job_b: str  # media-b's export (requested by an officer)
    size: int  # a signed tree size


@pytest.fixture(scope="module")
def world(site: Site, service: Service, client: TestClient) -> World:
    tokens: dict[str, str | None] = {
        "officer": site.token("officer"),
        "auditor": site.token("auditor"),
        "security": site.token("security"),
        "tenant": site.token("tenant", "fintech-a"),
        "none": None,
    }
    r = client.post("/api/v1/exports", json={"period": Q}, headers=bearer(tokens["tenant"] or ""))
    assert r.status_code == 202, r.text
    job_a = r.json()["id"]
    r = client.post(
        "/api/v1/exports",
        json={"period": Q, "tenant": "media-b", "framework": "soc2"},
        headers=bearer(tokens["officer"] or ""),
    )
    assert r.status_code == 202, r.text
    job_b = r.json()["id"]
    for job in (job_a, job_b):
        done = service.jobs.wait(job, 120)
        assert done is not None
        assert done.status == "done", done
    size = client.get("/api/v1/checkpoint").json()["tree_size"]
    return World(tokens, job_a, job_b, size)


def _cases(w: World) -> list[tuple[str, str, dict[str, object] | None, tuple[int, ...]]]:
    """(method, path, JSON body, expected status per role in ROLES order)."""
    a, b = w.job_a, w.job_b
    return [
        ("GET", "/api/v1/checkpoint", None, (200, 200, 200, 200, 200)),
        ("GET", "/api/v1/checkpoint.txt", None, (200, 200, 200, 200, 200)),
        ("GET", "/api/v1/proof/inclusion/0", None, (200, 200, 200, 200, 200)),
        ("GET", f"/api/v1/proof/consistency?old={w.size}", None, (200, 200, 200, 200, 200)),
        ("GET", "/api/v1/openapi.json", None, (200, 200, 200, 200, 200)),
        ("GET", "/api/v1/keys", None, (200, 200, 200, 200, 200)),
        ("GET", "/api/v1/whoami", None, (200, 200, 200, 200, 401)),
        (
            "POST",
            "/api/v1/exports",
            {"period": Q, "tenant": "fintech-a"},
            (202, 202, 403, 202, 401),
        ),
        ("POST", "/api/v1/exports", {"period": Q, "tenant": "media-b"}, (202, 202, 403, 403, 401)),
        ("GET", "/api/v1/exports", None, (200, 200, 403, 200, 401)),
        ("GET", f"/api/v1/exports/{a}", None, (200, 200, 403, 200, 401)),
        ("GET", f"/api/v1/exports/{b}", None, (200, 200, 403, 404, 401)),
        ("GET", f"/api/v1/exports/{a}/download", None, (200, 200, 403, 200, 401)),
        ("GET", f"/api/v1/exports/{b}/download", None, (200, 200, 403, 404, 401)),
        ("GET", f"/api/v1/exports/{'0' * 32}", None, (404, 404, 403, 404, 401)),
        ("GET", f"/api/v1/findings?period={Q}", None, (200, 200, 200, 200, 401)),
        ("GET", f"/api/v1/findings?period={Q}&tenant=fintech-a", None, (200, 200, 200, 200, 401)),
        ("GET", f"/api/v1/findings?period={Q}&tenant=media-b", None, (200, 200, 200, 403, 401)),
        ("GET", f"/api/v1/assessments?period={Q}", None, (200, 200, 403, 403, 401)),
        ("GET", f"/api/v1/probe-runs?period={Q}", None, (200, 200, 200, 403, 401)),
    ]


@pytest.fixture(scope="module")
def responses(world: World, client: TestClient) -> list[tuple[str, str, str, int, int, bytes]]:
    """Every case x role once: (method, path, role, expected, got, body)."""
    out = []
    for method, path, body, expected in _cases(world):
        for role, want in zip(ROLES, expected, strict=True):
            token = world.tokens[role]
            headers = bearer(token) if token else {}
            r = client.request(method, path, json=body, headers=headers)
            out.append((method, path, role, want, r.status_code, r.content))
    return out


def test_authorization_matrix(responses: list[tuple[str, str, str, int, int, bytes]]) -> None:
    wrong = [
        f"{m} {p} as {role}: expected {want}, got {got}: {body[:200]!r}"
        for m, p, role, want, got, body in responses
        if want != got
    ]
    assert not wrong, "\n".join(wrong)


def test_every_failure_has_the_error_shape(
    responses: list[tuple[str, str, str, int, int, bytes]],
) -> None:
    for m, p, role, _, got, body in responses:
        if got >= 400:
            doc = json.loads(body)
            assert set(doc) == {"error"}, (m, p, role)
            assert doc["error"]["status"] == got
            assert isinstance(doc["error"]["message"], str)


def _texts(body: bytes) -> Iterator[str]:
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            for name in zf.namelist():
                yield zf.read(name).decode("utf-8", "replace")
    else:
        yield body.decode("utf-8", "replace")


def test_tenant_sees_nothing_of_other_tenants(
    site: Site, responses: list[tuple[str, str, str, int, int, bytes]]
) -> None:
    view = TenantView.for_tenant(
        load_inventory(site.ws / "policies" / "inventory.yaml"), "fintech-a"
    )
    assert {"media-b", "ai-c", "mb-render-02", "svc-ai-c", "10.20.0.21"} <= {
        i for i, _ in view.identifiers
    } | {"10.20.0.21"}
    checked = 0
    for m, p, role, _, got, body in responses:
        if role != "tenant" or "/proof/" in p or "checkpoint" in p or "openapi" in p:
            continue
        for text in _texts(body):
            assert not view.names_other_tenant(text), (m, p, got, text[:300])
            checked += 1
    assert checked > 10


def test_tenant_findings_are_its_own(world: World, client: TestClient) -> None:
    r = client.get(f"/api/v1/findings?period={Q}", headers=bearer(world.tokens["tenant"] or ""))
    assert r.status_code == 200
    doc = r.json()
    assert doc["assessment"]["tenant"] == "fintech-a"
    officer = client.get(
        f"/api/v1/findings?period={Q}", headers=bearer(world.tokens["officer"] or "")
    ).json()
    assert officer["assessment"]["tenant"] is None
    assert len(officer["findings"]) > len(doc["findings"])  # the planted violations of others


def test_tenant_export_verifies_offline(
    site: Site, world: World, client: TestClient, tmp_path: Path
) -> None:
    token = world.tokens["tenant"] or ""
    status = client.get(f"/api/v1/exports/{world.job_a}", headers=bearer(token)).json()
    assert status["status"] == "done"
    assert status["progress"] == 1.0
    assert status["tenant"] == "fintech-a"
    r = client.get(f"/api/v1/exports/{world.job_a}/download", headers=bearer(token))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    pack = tmp_path / "fintech-a.zip"
    pack.write_bytes(r.content)
    vkey = tmp_path / "log.vkey"
    vkey.write_text(site.config.verifier_key)
    mkey = tmp_path / "manifest.pub"
    assert run("--workspace", str(site.ws), "pack", "key", "--out", str(mkey))[0] == 0
    code, out, err = run("verify", str(pack), "--key", str(vkey), "--manifest-key", str(mkey))
    assert code == 0, out + err
    # a flipped byte in the download fails verification
    data = bytearray(r.content)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = zf.namelist()
    assert "manifest.jws" in names
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "evidence.jsonl":
                content = content.replace(b'"index":', b'"index": ', 1)
            dst.writestr(name, content)
    code, _, _ = run("verify", str(bad), "--key", str(vkey), "--manifest-key", str(mkey))
    assert code == 1


def test_reads_and_exports_are_access_records(site: Site, world: World, client: TestClient) -> None:
    token = world.tokens["tenant"] or ""
    r = client.get(f"/api/v1/findings?period={Q}", headers=bearer(token))
    assert r.status_code == 200
    with Store.open(site.config.db_url) as store:
        log = store.log(site.config.origin)
        with log.reader() as reader:
            size, _ = reader.head()
            records = [
                orjson.loads(body)
                for _, body, _ in reader.select(
                    ["access.read", "access.export", "access.download"], None, None, size
                )
            ]
    mine = [x for x in records if x.get("token") and x.get("role") == "tenant"]
    kinds = {x["kind"] for x in mine}
    assert {"access.read", "access.export", "access.download"} <= kinds
    last = next(x for x in reversed(mine) if x["kind"] == "access.read")
    assert last["tenant"] == "fintech-a"
    assert last["actor"] == "tenant:fintech-a"
    assert last["from"] == "testclient"
    assert "findings" in last["what"]


def test_public_proofs_verify(site: Site, world: World, client: TestClient) -> None:
    from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
    from edgeaudit.note.verifier import Verifier, verify_checkpoint

    cp = client.get("/api/v1/checkpoint").json()
    assert cp["verifier_key"] == site.config.verifier_key
    signed = verify_checkpoint(
        cp["note"].encode(), [Verifier.parse(site.config.verifier_key)], origin=cp["origin"]
    )
    proof = client.get(f"/api/v1/proof/inclusion/5?tree_size={signed.size}").json()
    assert "entry" not in proof
    verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        5,
        signed.size,
        [bytes.fromhex(h) for h in proof["proof"]],
        signed.root,
    )
    first = client.get(f"/api/v1/proof/consistency?old={world.size}&new={signed.size}").json()
    old = verify_checkpoint(
        first["old_checkpoint"].encode(),
        [Verifier.parse(site.config.verifier_key)],
        origin=cp["origin"],
    )
    verify_consistency(
        old.size, signed.size, old.root, signed.root, [bytes.fromhex(h) for h in first["proof"]]
    )
    assert client.get(f"/api/v1/proof/inclusion/{10**9}").status_code == 404
    assert client.get("/api/v1/proof/consistency?old=3").status_code == 404  # never signed


def test_errors_limits_and_rate(site: Site, client: TestClient, tmp_path: Path) -> None:
    officer = bearer(site.token("officer"))
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = client.post("/api/v1/checkpoint")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    r = client.get("/api/v1/proof/inclusion/-1")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    r = client.post("/api/v1/exports", json={"period": Q, "extra": 1}, headers=officer)
    assert r.status_code == 422
    r = client.post("/api/v1/exports", json={"period": "2026Q9"}, headers=officer)
    assert r.status_code == 400
    assert "2026Q9" in r.json()["error"]["message"]
    r = client.get("/api/v1/findings", headers=officer)
    assert r.status_code == 400  # no period
    big = {"period": Q, "tenant": "x" * 100_000}
    r = client.post("/api/v1/exports", json=big, headers=officer)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    # the per-token rate limit, on a second service with a low limit (one token per 10 s: at
    # 1 per second, a loaded machine slow over the first 4 requests refilled one, a 200)
    svc = make_service(site.config, settings(site, rate=0.1, burst=3, exports=tmp_path / "x"))
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            t1, t2 = bearer(site.token("officer")), bearer(site.token("officer"))
            codes = [c.get("/api/v1/whoami", headers=t1).status_code for _ in range(5)]
            assert codes[:3] == [200, 200, 200]
            assert codes[3:] == [429, 429]
            r = c.get("/api/v1/whoami", headers=t1)
            assert r.json()["error"]["code"] == "rate_limited"
            assert int(r.headers["retry-after"]) >= 1
            assert c.get("/api/v1/whoami", headers=t2).status_code == 200  # per token
    finally:
        svc.close()


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    paths = set(doc["paths"])
    assert {
        "/api/v1/checkpoint",
        "/api/v1/proof/consistency",
        "/api/v1/proof/inclusion/{index}",
        "/api/v1/exports",
        "/api/v1/exports/{job_id}",
        "/api/v1/exports/{job_id}/download",
        "/api/v1/findings",
        "/api/v1/assessments",
        "/api/v1/probe-runs",
    } <= paths


def test_pending_exports_are_capped_per_scope(site: Site, tmp_path: Path) -> None:
    import threading

    svc = make_service(site.config, settings(site, max_pending=2, exports=tmp_path / "e"))
    gate = threading.Event()
    build = svc.jobs._builder

    def slow(*args: object) -> dict[str, object]:
        gate.wait(60)
        return build(*args)  # type: ignore[arg-type]

    svc.jobs._builder = slow  # hold the worker so requests stay pending
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            tenant = bearer(site.token("tenant", "ai-c"))
            codes = [
                c.post("/api/v1/exports", json={"period": Q}, headers=tenant).status_code
                for _ in range(3)
            ]
            assert codes == [202, 202, 429]
            r = c.post("/api/v1/exports", json={"period": Q}, headers=tenant)
            assert r.json()["error"]["code"] == "rate_limited"
            # another scope is not blocked by ai-c's queue
            officer = bearer(site.token("officer"))
            r = c.post("/api/v1/exports", json={"period": Q, "tenant": "media-b"}, headers=officer)
            assert r.status_code == 202
    finally:
        gate.set()
        svc.close()
