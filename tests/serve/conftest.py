"""One small demo campus collected once per session, a service over it, and tokens.

The service is the real one: a real SQLite store, the repository's policies, the workspace's
token key; requests go through the real ASGI app (TestClient speaks HTTP semantics to it).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edgeaudit.demo import generate_campus
from edgeaudit.serve.app import asgi
from edgeaudit.serve.service import Service, Settings
from edgeaudit.serve.setup import issuer, make_service
from edgeaudit.serve.tokens import issue
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.token_key import load_token_key, token_kid
from tests.pack.helpers import run

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
TENANTS = ("fintech-a", "media-b", "ai-c")


@dataclass(frozen=True)
class Site:
    root: Path
    ws: Path
    config: cfg.WorkspaceConfig

    def token(self, role: str, tenant: str | None = None, ttl: int = 3600, **kw: object) -> str:
        key = load_token_key(self.config)
        return issue(
            key,
            token_kid(key.public_key()),
            issuer(self.config),
            role=role,
            tenant=tenant,
            ttl=ttl,
            **kw,  # type: ignore[arg-type]
        ).token


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("servesite")
        campus, ws = root / "campus", root / "ws"
        generate_campus(campus, 2000, seed=5)
        assert run("--workspace", str(ws), "init", "--site", "blr-pod-1")[0] == 0
        code, _, err = run("--workspace", str(ws), "demo", "collect", "--out", str(campus))
        assert code == 0, err
        shutil.copytree(POLICIES, ws / "policies")
        code, _, err = run("--workspace", str(ws), "checkpoint")
        assert code == 0, err
        return Site(root, ws, cfg.load(ws))


def copy_site(site: Site, dest: Path, *, exports: bool = True) -> Path:
    """Copy the site's workspace to ``dest`` while services may be writing its store: the
    store through SQLite's backup API (a consistent snapshot), the rest as files. A plain
    file copy of a store being written can be torn, and opening and closing the store file
    outside SQLite drops every SQLite lock this process holds on it (POSIX record locks
    belong to the process), so another process could write under the session service's
    feet."""
    store = site.ws / "evidence" / "store.db"
    skip = ["store.db", "store.db-*"] + ([] if exports else ["exports"])
    shutil.copytree(site.ws, dest, ignore=shutil.ignore_patterns(*skip))
    src = sqlite3.connect(store)
    try:
        dst = sqlite3.connect(dest / "evidence" / "store.db")
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return dest


def settings(site: Site, **kw: object) -> Settings:
    base: dict[str, object] = {
        "policies": site.ws / "policies",
        "pdf": False,
        "rate": 0.0,
        "public_url": "http://testserver",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def service(site: Site) -> Iterator[Service]:
    svc = make_service(site.config, settings(site))
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(asgi(service), raise_server_exceptions=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
