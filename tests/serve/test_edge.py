"""The edge of the service: headers on every route, Host from --public-url, the client
address, the JSON access log, and refused requests on record as aggregated access.denied."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from edgeaudit.errors import InputError
from edgeaudit.serve.app import asgi
from edgeaudit.serve.denied import Denials
from edgeaudit.serve.edge import PublicUrl, client_address, parse_proxies
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from tests.serve.conftest import Site, bearer, settings

Q = "2026Q3"


def _signed_in(c: TestClient, token: str) -> None:
    page = c.get("/login")
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m
    r = c.post("/login", data={"token": token, "csrf": m.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _denied(service: Service, after: int) -> list[dict[str, Any]]:
    service.denials.flush(everything=True)
    with service.log.reader() as reader:
        size, _ = reader.head()
        return [
            orjson.loads(body)
            for index, body, _ in reader.select(["access.denied"], None, None, size)
            if index >= after
        ]


def _size(service: Service) -> int:
    with service.log.reader() as reader:
        return int(reader.head()[0])


@pytest.fixture(scope="module")
def edge_service(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = make_service(
        site.config,
        settings(
            site,
            exports=tmp_path_factory.mktemp("edge-exports"),
            trusted_proxies=("10.9.0.0/16",),
            denied_keys=3,
        ),
    )
    yield svc
    svc.close()


# -- headers -------------------------------------------------------------------------------


def test_headers_on_every_route(site: Site, service: Service, client: TestClient) -> None:
    officer = bearer(site.token("officer"))
    jobs = service.exports(service.verifier.verify(site.token("officer")))
    done = next((j for j in jobs if j.status == "done"), None)
    api = [
        "/api/v1/checkpoint",
        "/api/v1/checkpoint.txt",
        "/api/v1/keys",
        "/api/v1/openapi.json",
        "/api/v1/proof/inclusion/0",
        "/api/v1/whoami",
        f"/api/v1/findings?period={Q}",
        f"/api/v1/assessments?period={Q}",
        f"/api/v1/probe-runs?period={Q}",
        "/api/v1/exports",
        "/api/v1/nowhere",
    ]
    for path in api:
        r = client.get(path, headers=officer)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        if "checkpoint" not in path and "proof" not in path and "keys" not in path:
            assert r.headers["cache-control"] == "no-store", path
        assert "strict-transport-security" not in r.headers  # not without --secure-cookies
    with TestClient(asgi(service), raise_server_exceptions=False) as c:
        _signed_in(c, site.token("officer"))
        for path in ("/login", "/dashboard", "/findings", "/probe-runs", "/exports", "/nowhere"):
            r = c.get(path, follow_redirects=False)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"] == "no-referrer", path
            assert r.headers["cache-control"] == "no-store", path
        if done is not None:
            for path in (f"/exports/{done.id}/download", f"/api/v1/exports/{done.id}/download"):
                r = c.get(path, headers=officer)
                assert r.status_code == 200, path
                assert r.headers["content-disposition"].startswith("attachment;"), path
                assert r.headers["cache-control"] == "no-store", path
                assert r.headers["x-content-type-options"] == "nosniff", path


def test_hsts_and_host_cookies_with_secure_cookies(site: Site, tmp_path: Path) -> None:
    svc = make_service(
        site.config,
        settings(
            site, secure_cookies=True, public_url="https://audit.example", exports=tmp_path / "e"
        ),
    )
    try:
        with TestClient(
            asgi(svc), raise_server_exceptions=False, base_url="https://audit.example"
        ) as c:
            r = c.get("/api/v1/checkpoint")
            assert r.headers["strict-transport-security"].startswith("max-age=")
            page = c.get("/login")
            login_cookie = page.headers["set-cookie"]
            assert login_cookie.startswith("__Host-edgeaudit_login=")
            assert "Secure" in login_cookie
            assert "Path=/;" in login_cookie or login_cookie.endswith("Path=/")
            assert "Domain" not in login_cookie
            _signed_in(c, site.token("officer"))
            assert "__Host-edgeaudit_session" in c.cookies
            r = c.get("/dashboard", follow_redirects=False)
            assert r.status_code == 200
            assert r.headers["strict-transport-security"].startswith("max-age=")
    finally:
        svc.close()


# -- Host ----------------------------------------------------------------------------------


def test_a_forged_host_is_refused(site: Site, client: TestClient) -> None:
    officer = bearer(site.token("officer"))
    for path in ("/api/v1/checkpoint", "/api/v1/keys", "/api/v1/whoami", "/login", "/"):
        r = client.get(path, headers={**officer, "Host": "evil.example"}, follow_redirects=False)
        assert r.status_code == 421, path
        assert r.json()["error"]["code"] == "misdirected"
        assert "evil" not in r.text
    assert client.get("/api/v1/checkpoint", headers={"Host": "testserver:80"}).status_code == 200
    assert client.get("/api/v1/checkpoint", headers={"Host": "TESTSERVER"}).status_code == 200


def test_absolute_urls_come_from_the_public_url(site: Site, tmp_path: Path) -> None:
    svc = make_service(
        site.config, settings(site, public_url="https://audit.example:8443", exports=tmp_path)
    )
    try:
        with TestClient(
            asgi(svc), raise_server_exceptions=False, base_url="https://audit.example:8443"
        ) as c:
            _signed_in(c, site.token("tenant", "fintech-a"))
            r = c.get("/", follow_redirects=False)
            assert r.headers["location"] == "https://audit.example:8443/tenant/fintech-a"
            page = c.get("/tenant/fintech-a")
            assert "curl -s https://audit.example:8443/api/v1/keys" in page.text
            assert "testserver" not in page.text
    finally:
        svc.close()


def test_public_url_and_proxies_are_checked() -> None:
    assert PublicUrl.parse("https://Audit.Example:443/").base == "https://audit.example"
    assert PublicUrl.parse("http://[::1]:8080").netloc == "[::1]:8080"
    for bad in ("audit.example", "ftp://x", "https://x/path", "https://u@x", "https://x:99999"):
        with pytest.raises(InputError):
            PublicUrl.parse(bad)
    with pytest.raises(InputError):
        parse_proxies(("not-an-address",))


def test_x_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = parse_proxies(("10.9.0.0/16", "127.0.0.1"))
    assert client_address("203.0.113.5", "198.51.100.7", proxies) == "203.0.113.5"
    assert client_address("10.9.0.2", "198.51.100.7", proxies) == "198.51.100.7"
    # a client cannot prepend its own choice: the right-most untrusted hop counts
    assert client_address("10.9.0.2", "1.2.3.4, 198.51.100.7, 10.9.0.3", proxies) == (
        "198.51.100.7"
    )
    assert client_address("10.9.0.2", "garbage", proxies) == "10.9.0.2"
    assert client_address("10.9.0.2", "198.51.100.7", ()) == "10.9.0.2"


# -- access log ----------------------------------------------------------------------------


def test_access_log_is_one_json_line_per_request(
    site: Site, edge_service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    token = site.token("tenant", "fintech-a")
    with TestClient(asgi(edge_service), raise_server_exceptions=False) as c:
        capsys.readouterr()
        c.get("/api/v1/whoami", headers=bearer(token))
        c.get("/api/v1/exports/" + "0" * 32, headers=bearer(token))
        c.get("/api/v1/whoami", headers=bearer("x" + token))
        _signed_in(c, token)
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert len(lines) == 5  # whoami, export, whoami, GET /login, POST /login
    whoami, export, bad = lines[:3]
    assert set(whoami) >= {"time", "method", "route", "status", "ms", "token", "client"}
    assert whoami["route"] == "/api/v1/whoami"
    assert whoami["status"] == 200
    assert len(whoami["token"]) == 32  # the token id
    assert export["route"] == "/api/v1/exports/{job_id}"  # the template, not the id
    assert export["refused"] == "unknown_export"
    assert bad["status"] == 401
    assert bad["token"] is None
    text = json.dumps(lines)
    assert token not in text
    assert token.split(".")[1] not in text
    assert "edgeaudit_session" not in text


# -- refused requests on record -------------------------------------------------------------


def test_refused_requests_are_access_denied_entries(site: Site, edge_service: Service) -> None:
    before = _size(edge_service)
    edge_service.denials.flush(everything=True)
    before = _size(edge_service)
    tenant = site.token("tenant", "fintech-a")
    security = site.token("security")
    ids = {edge_service.verifier.verify(t).jti for t in (tenant, security)}
    addr = "192.0.2.77"  # other services of the session share the store: keep to our keys
    with TestClient(asgi(edge_service), raise_server_exceptions=False, client=(addr, 1234)) as c:
        for _ in range(3):
            assert c.get("/api/v1/whoami", headers=bearer("garbage")).status_code == 401
        assert c.get("/api/v1/exports", headers=bearer(security)).status_code == 403
        r = c.get("/api/v1/exports/" + "f" * 32, headers=bearer(tenant))
        assert r.status_code == 404
        r = c.get(f"/api/v1/findings?period={Q}&tenant=media-b", headers=bearer(tenant))
        assert r.status_code == 403
        c.get("/login")
        assert c.post("/login", data={"token": tenant, "csrf": "forged"}).status_code == 403
        page = c.get("/login")
        m = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert m
        r = c.post("/login", data={"token": "nope", "csrf": m.group(1)})
        assert r.status_code == 401
    entries = [e for e in _denied(edge_service, before) if e["key"] in ids | {addr}]
    got: dict[tuple[str, str], int] = {}
    for e in entries:
        got[(e["key_kind"], e["reason"])] = got.get((e["key_kind"], e["reason"]), 0) + e["count"]
    assert got[("address", "invalid_token")] == 3  # one entry with its count
    assert got[("token", "forbidden")] == 2  # security's 403 and the tenant's
    assert len([e for e in entries if e["reason"] == "forbidden"]) == 2  # two keys
    assert got[("token", "unknown_export")] == 1
    assert got[("address", "csrf")] == 1
    assert got[("address", "sign_in")] == 1
    assert all(e["kind"] == "access.denied" and e["window"] == "1m" for e in entries)
    assert not any(tenant in json.dumps(e) for e in entries)


# Aggregation is per (minute, key, reason) whatever the count: 2 000 refusals show a flood
# adds one entry a minute as 10 000 did, in a fifth of the time (16 s on a loaded machine).
FLOOD = 2_000


def test_a_flood_of_bad_tokens_adds_a_few_entries(site: Site, edge_service: Service) -> None:
    edge_service.denials.flush(everything=True)
    before = _size(edge_service)
    app = asgi(edge_service)

    async def flood() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            codes = []
            for n in range(FLOOD):
                r = await c.get("/api/v1/whoami", headers=bearer(f"forged.{n}.token"))
                codes.append(r.status_code)
            return codes

    first_minute = int(time.time() // 60)
    codes = asyncio.run(flood())
    minutes = int(time.time() // 60) - first_minute + 1  # a loaded machine: maybe several
    assert set(codes) == {401}
    entries = [e for e in _denied(edge_service, before) if e["key"] == "198.51.100.9"]
    assert 1 <= len(entries) <= minutes  # one per minute the flood lasted
    assert sum(e["count"] for e in entries) == FLOOD
    assert {e["reason"] for e in entries} == {"invalid_token"}


def test_distinct_keys_per_minute_are_capped_with_one_overflow_entry(
    edge_service: Service,
) -> None:
    edge_service.denials.flush(everything=True)
    before = _size(edge_service)
    app = asgi(edge_service)  # 10.9.0.0/16 is a trusted proxy: X-Forwarded-For counts

    async def spread() -> None:
        transport = httpx.ASGITransport(app=app, client=("10.9.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for n in range(8):
                r = await c.get(
                    "/api/v1/whoami",
                    headers={**bearer("bad"), "X-Forwarded-For": f"198.51.100.{n}"},
                )
                assert r.status_code == 401

    asyncio.run(spread())
    entries = [
        e
        for e in _denied(edge_service, before)
        if e["key"].startswith("198.51.100.") or e["reason"] == "more than 3 keys in the minute"
    ]
    keys = [e for e in entries if e["key_kind"] == "address"]
    overflow = [e for e in entries if e["key_kind"] == "overflow"]
    minutes = {e["time"] for e in entries}  # a minute boundary may fall among the 8 requests
    assert 1 <= len(minutes) <= 2
    for minute in minutes:  # denied_keys=3 in each minute; refusals past the cap: overflow
        in_minute = [e for e in keys if e["time"] == minute]
        assert len(in_minute) <= 3
        assert len(in_minute) == 3 or not [e for e in overflow if e["time"] == minute]
    assert {e["key"] for e in keys} <= {f"198.51.100.{n}" for n in range(8)}
    assert all(e["count"] == 1 for e in keys)
    assert sum(e["count"] for e in entries) == 8
    assert sum(e["count"] for e in overflow) >= 8 - 3 * len(minutes)


def test_denials_aggregate_by_minute() -> None:
    appended: list[Any] = []
    now = [600.0]
    d = Denials(appended.extend, max_keys=2, clock=lambda: now[0], background=False)
    for key in ("a", "a", "b", "c", "d"):
        d.add("address", key, "invalid_token")
    assert d.flush() == 0  # the minute has not ended
    now[0] = 661.0
    d.add("address", "a", "invalid_token")
    assert d.flush() == 3  # a (2), b (1), overflow (2)
    events = [orjson.loads(e.body) for e in appended]
    assert [(e["key"], e["count"]) for e in events] == [("a", 2), ("b", 1), ("overflow", 2)]
    assert events[0]["time"] == "1970-01-01T00:10:00Z"
    assert d.pending() == 1
    d.close()
    assert d.pending() == 0


def test_the_fast_public_reads_answer_as_the_framework_does(
    service: Service, client: TestClient
) -> None:
    from edgeaudit.serve.app import create_app

    size = client.get("/api/v1/checkpoint").json()["tree_size"]
    plain = TestClient(create_app(service, pages=False), raise_server_exceptions=False)
    paths = [
        "/api/v1/checkpoint.txt",
        f"/api/v1/proof/inclusion/3?tree_size={size}",
        "/api/v1/proof/inclusion/0",
        f"/api/v1/proof/consistency?old={size}",
        f"/api/v1/proof/consistency?old={size}&new={size}",
        # not plain: the framework answers these through the fast layer too
        "/api/v1/proof/inclusion/-1",
        "/api/v1/proof/inclusion/00x",
        "/api/v1/proof/inclusion/%C2%B9",  # a superscript one: not an ASCII digit
        f"/api/v1/proof/inclusion/{2**60}",
        "/api/v1/proof/inclusion/1?tree_size=0",
        "/api/v1/proof/inclusion/1?tree_size=3&tree_size=4",
        "/api/v1/proof/inclusion/1?other=1",
        "/api/v1/proof/consistency?new=5",
        "/api/v1/proof/consistency?old=3",
        f"/api/v1/proof/consistency?old={size}&new=1",
        f"/api/v1/proof/inclusion/{size + 5}",
    ]
    for path in paths:
        fast, slow = client.get(path), plain.get(path)
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content), path
        assert fast.headers["content-type"] == slow.headers["content-type"], path
    r = client.get("/api/v1/checkpoint")
    assert r.json() == plain.get("/api/v1/checkpoint").json()
    assert r.headers["content-type"] == "application/json"


def test_denials_survive_a_failed_append() -> None:
    appended: list[Any] = []
    fail = [True]

    def append(entries: list[Any]) -> None:
        if fail[0]:
            raise OSError("database is locked")
        appended.extend(entries)

    d = Denials(append, clock=lambda: 0.0, background=False)
    d.add("address", "a", "csrf")
    with pytest.raises(OSError, match="locked"):
        d.flush(everything=True)
    d.add("address", "a", "csrf")
    fail[0] = False
    assert d.flush(everything=True) == 1
    assert orjson.loads(appended[0].body)["count"] == 2
