"""Failures that are not the caller's: a job state or a 503 with a generic message and an
error id for tenants (officers see the detail), logged once, never another tenant's names,
and one failing quarter never stops the others."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edgeaudit.serve.app import asgi, create_app
from edgeaudit.serve.edge import Edge, PublicUrl
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from edgeaudit.workspace import config as cfg
from tests.serve.conftest import Site, bearer, copy_site, settings

BAD, GOOD = "2026Q3", "2026Q2"
SECRET = "kms key of media-b used by svc-media-b"  # what an engine error could name


@pytest.fixture
def failing(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Service, TestClient]]:
    """A service whose engine and pack builder fail on 2026Q3 only.

    The engine itself no longer fails on stored evidence (its own property tests); the failure
    is injected at the engine's and the pack builder's entry points so that what the service
    does with one is tested whatever the engine's state."""
    import edgeaudit.pack.build as build
    import edgeaudit.policy.engine as engine

    real_evaluate, real_build = engine.evaluate, build.build_assessed_pack

    def evaluate(*a: Any, **kw: Any) -> Any:
        if str(kw.get("start", "")).startswith("2026-07-01"):
            raise RuntimeError(SECRET)
        return real_evaluate(*a, **kw)

    def build_pack(config: Any, log: Any, policies: Any, request: Any, *rest: Any) -> Any:
        if request.period.label == BAD:
            raise RuntimeError(SECRET)
        return real_build(config, log, policies, request, *rest)

    monkeypatch.setattr(engine, "evaluate", evaluate)
    monkeypatch.setattr(build, "build_assessed_pack", build_pack)
    svc = make_service(site.config, settings(site, exports=tmp_path / "exports"))
    with TestClient(asgi(svc), raise_server_exceptions=False) as c:
        yield svc, c
    svc.close()


def test_a_failing_quarter_is_a_generic_503_and_others_work(
    site: Site, failing: tuple[Service, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    _, c = failing
    tenant = bearer(site.token("tenant", "fintech-a"))
    officer = bearer(site.token("officer"))
    with caplog.at_level(logging.ERROR, logger="edgeaudit.serve"):
        r = c.get(f"/api/v1/findings?period={BAD}", headers=tenant)
    assert r.status_code == 503
    message = r.json()["error"]["message"]
    assert "error id" in message
    assert "media-b" not in r.text
    assert "svc-" not in r.text
    error_id = message.split("error id ")[1].split(")")[0]
    logged = [x for x in caplog.records if error_id in x.getMessage()]
    assert len(logged) == 1  # once, with the traceback
    assert logged[0].exc_info is not None
    # the officer sees the detail; other quarters and tenants are untouched
    r = c.get(f"/api/v1/findings?period={BAD}", headers=officer)
    assert r.status_code == 503
    assert SECRET in r.json()["error"]["message"]
    assert c.get(f"/api/v1/findings?period={GOOD}", headers=tenant).status_code == 200
    assert c.get(f"/api/v1/findings?period={GOOD}", headers=officer).status_code == 200


def test_a_failing_export_is_a_job_state_with_an_error_id(
    site: Site, failing: tuple[Service, TestClient]
) -> None:
    svc, c = failing
    tenant = bearer(site.token("tenant", "fintech-a"))
    officer = bearer(site.token("officer"))
    bad = c.post("/api/v1/exports", json={"period": BAD}, headers=tenant).json()["id"]
    good = c.post("/api/v1/exports", json={"period": GOOD}, headers=tenant).json()["id"]
    for job in (bad, good):
        svc.jobs.wait(job, 120)
    seen = c.get(f"/api/v1/exports/{bad}", headers=tenant).json()
    assert seen["status"] == "failed"
    assert seen["error"] == f"the export could not be built (error id {seen['error_id']})"
    assert "error_detail" not in seen
    assert "media-b" not in c.get("/api/v1/exports", headers=tenant).text
    assert SECRET in c.get(f"/api/v1/exports/{bad}", headers=officer).json()["error_detail"]
    assert c.get(f"/api/v1/exports/{good}", headers=tenant).json()["status"] == "done"
    assert c.get(f"/api/v1/exports/{good}/download", headers=tenant).status_code == 200


def test_a_damaged_store_fails_exports_without_its_detail_for_tenants(
    site: Site, tmp_path: Path
) -> None:
    """Real damage (an entry's bytes changed under the store): the export fails, the tenant
    is told an error id, the officer what the integrity check found."""
    ws = tmp_path / "ws"
    copy_site(site, ws, exports=False)
    config = cfg.load(ws)
    db = ws / "evidence" / "store.db"
    assert db.is_file()
    con = sqlite3.connect(db)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute(
        "UPDATE entries SET body = CAST(? AS BLOB) WHERE idx = "
        "(SELECT MIN(idx) FROM entries WHERE kind = 'key.use')",
        ['{"kind":"key.use"}'],
    )
    con.commit()
    con.close()
    svc = make_service(config, settings(site, exports=tmp_path / "exports"))
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            tenant = bearer(site.token("tenant", "fintech-a"))
            job = c.post("/api/v1/exports", json={"period": BAD}, headers=tenant).json()["id"]
            svc.jobs.wait(job, 120)
            seen = c.get(f"/api/v1/exports/{job}", headers=tenant).json()
            assert seen["status"] == "failed"
            assert "hash" not in seen["error"]
            assert "entry" not in seen["error"]
            officer = c.get(f"/api/v1/exports/{job}", headers=bearer(site.token("officer")))
            assert "hash" in officer.json()["error_detail"]
    finally:
        svc.close()


def test_a_bug_is_one_500_logged_once(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(service, pages=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    edge = Edge(app, public_url=PublicUrl.parse("http://testserver"), access_log=False)
    with (
        TestClient(edge, raise_server_exceptions=False) as c,
        caplog.at_level(logging.ERROR),
    ):
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "error id" in r.json()["error"]["message"]
    assert "a bug" not in r.text
    tracebacks = [x for x in caplog.records if x.exc_info is not None]
    assert len(tracebacks) == 1
