"""The pages over the real app: sign-in, session cookie, CSRF, and who sees which page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.pack.scope import TenantView
from edgeaudit.serve.app import asgi
from edgeaudit.serve.service import Service
from tests.serve.conftest import Site

Q = "2026Q3"


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def signed_in(service: Service, token: str) -> TestClient:
    c = TestClient(asgi(service), raise_server_exceptions=False, base_url="http://testserver")
    page = c.get("/login")
    assert page.status_code == 200
    r = c.post("/login", data={"token": token, "csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def test_sign_in_sets_a_strict_httponly_session_cookie(site: Site, service: Service) -> None:
    c = TestClient(asgi(service), raise_server_exceptions=False, base_url="http://testserver")
    page = c.get("/login")
    r = c.post(
        "/login",
        data={"token": site.token("officer"), "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "http://testserver/dashboard"  # from --public-url
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and "edgeaudit_session" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # not configured here


def test_sign_in_needs_the_form_csrf_and_a_valid_token(site: Site, service: Service) -> None:
    c = TestClient(asgi(service), raise_server_exceptions=False, base_url="http://testserver")
    c.get("/login")
    r = c.post("/login", data={"token": site.token("officer"), "csrf": "forged"})
    assert r.status_code == 403
    page = c.get("/login")
    r = c.post("/login", data={"token": "not-a-token", "csrf": _csrf(page.text)})
    assert r.status_code == 401
    assert "sign-in refused" in r.text
    assert "edgeaudit_session" not in c.cookies


def test_forms_refuse_a_missing_csrf_token(site: Site, service: Service) -> None:
    c = signed_in(service, site.token("tenant", "fintech-a"))
    r = c.post("/exports", data={"period": Q}, follow_redirects=False)
    assert r.status_code == 422  # the field is required
    r = c.post("/exports", data={"period": Q, "csrf": "guess"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/logout", data={"csrf": "guess"}, follow_redirects=False)
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("role", "tenant", "expected"),
    [
        (
            "officer",
            None,
            {
                "/dashboard": 200,
                "/findings": 200,
                "/probe-runs": 200,
                "/exports": 200,
                "/tenant/fintech-a": 200,
                "/tenant/media-b": 200,
            },
        ),
        (
            "auditor",
            None,
            {
                "/dashboard": 200,
                "/findings": 200,
                "/probe-runs": 200,
                "/exports": 200,
                "/tenant/fintech-a": 200,
                "/tenant/media-b": 200,
            },
        ),
        (
            "security",
            None,
            {
                "/dashboard": 200,
                "/findings": 200,
                "/probe-runs": 200,
                "/exports": 403,
                "/tenant/fintech-a": 200,
                "/tenant/media-b": 200,
            },
        ),
        (
            "tenant",
            "fintech-a",
            {
                "/dashboard": 403,
                "/findings": 403,
                "/probe-runs": 403,
                "/exports": 403,
                "/tenant/fintech-a": 200,
                "/tenant/media-b": 403,
            },
        ),
    ],
)
def test_page_matrix(
    site: Site, service: Service, role: str, tenant: str | None, expected: dict[str, int]
) -> None:
    c = signed_in(service, site.token(role, tenant))
    got = {path: c.get(f"{path}?period={Q}").status_code for path in expected}
    assert got == expected
    if tenant:
        view = TenantView.for_tenant(
            load_inventory(site.ws / "policies" / "inventory.yaml"), tenant
        )
        for path in expected:
            text = c.get(f"{path}?period={Q}").text
            assert not view.names_other_tenant(text), path


def test_pages_without_a_session_go_to_sign_in(service: Service) -> None:
    c = TestClient(asgi(service), raise_server_exceptions=False, base_url="http://testserver")
    for path in ("/", "/dashboard", "/findings", "/probe-runs", "/exports", "/tenant/fintech-a"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"] == "http://testserver/login"


def test_dashboard_shows_frameworks_findings_and_checkpoint(site: Site, service: Service) -> None:
    c = signed_in(service, site.token("officer"))
    r = c.get(f"/dashboard?period={Q}")
    assert r.status_code == 200
    for text in (
        "iso27001-2022",
        "soc2",
        "pci-dss-4.0.1",
        "Findings (",
        "<svg",
        "edgeaudit verify PACK.zip",
        site.config.verifier_key,
        "key-tenant-use",
    ):
        assert text in r.text, text
    assert "frame-ancestors" in r.headers["content-security-policy"] or (
        r.headers["x-frame-options"] == "DENY"
    )


def test_revoked_token_ends_the_session(site: Site, service: Service) -> None:
    import json

    from tests.pack.helpers import run

    code, out, _ = run("--workspace", str(site.ws), "token", "issue", "--role", "officer", "--json")
    assert code == 0
    issued = json.loads(out)
    c = signed_in(service, issued["token"])
    assert c.get(f"/dashboard?period={Q}").status_code == 200
    assert run("--workspace", str(site.ws), "token", "revoke", issued["id"])[0] == 0
    r = c.get(f"/dashboard?period={Q}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "http://testserver/login"


def test_tenant_requests_an_export_from_its_page(site: Site, service: Service) -> None:
    c = signed_in(service, site.token("tenant", "fintech-a"))
    page = c.get(f"/tenant/fintech-a?period={Q}")
    before = {j.id for j in service.jobs.all()}
    r = c.post(
        "/exports",
        data={"period": Q, "framework": "soc2", "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    new = [j for j in service.jobs.all() if j.id not in before]
    assert len(new) == 1
    assert new[0].tenant == "fintech-a"
    assert new[0].framework == "soc2"
    done = service.jobs.wait(new[0].id, 120)
    assert done is not None
    assert done.status == "done"
    page = c.get(f"/tenant/fintech-a?period={Q}")
    assert f"/exports/{done.id}/download" in page.text
    r = c.get(f"/exports/{done.id}/download")
    assert r.status_code == 200
    assert r.content[:2] == b"PK"
    # another tenant's session cannot download it
    other = signed_in(service, site.token("tenant", "media-b"))
    assert other.get(f"/exports/{done.id}/download").status_code == 404
