"""The service on both store backends (SQLite file and a real PostgreSQL database): a tenant
exports through the API and the pack verifies; its reads are access records in that store."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from edgeaudit.serve.app import asgi
from edgeaudit.serve.service import Settings
from edgeaudit.serve.setup import issuer, make_service
from edgeaudit.serve.tokens import issue
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.token_key import load_token_key, token_kid
from tests.pack.helpers import run
from tests.serve.conftest import POLICIES, bearer

SAMPLE = Path(__file__).resolve().parents[2] / "evidence" / "sample-events.jsonl"


def test_export_and_access_records(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    ws = tmp_path / "ws"
    code, _, err = run("--workspace", str(ws), "init", "--site", "blr-pod-1", "--db", db_url)
    assert code == 0, err
    assert run("--workspace", str(ws), "append", str(SAMPLE))[0] == 0
    assert run("--workspace", str(ws), "checkpoint")[0] == 0
    shutil.copytree(POLICIES, ws / "policies")
    config = cfg.load(ws)
    svc = make_service(
        config,
        Settings(policies=ws / "policies", pdf=False, rate=0, public_url="http://testserver"),
    )
    try:
        key = load_token_key(config)
        token = issue(
            key,
            token_kid(key.public_key()),
            issuer(config),
            role="tenant",
            tenant="fintech-a",
            ttl=600,
        ).token
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            r = c.post(
                "/api/v1/exports",
                json={"from": "2026-11-01", "to": "2026-12-01"},
                headers=bearer(token),
            )
            assert r.status_code == 202, r.text
            job = svc.jobs.wait(r.json()["id"], 120)
            assert job is not None
            assert job.status == "done", job
            r = c.get(f"/api/v1/exports/{job.id}/download", headers=bearer(token))
            assert r.status_code == 200
            with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
                assert "manifest.jws" in zf.namelist()
            pack = tmp_path / "pack.zip"
            pack.write_bytes(r.content)
            vkey = tmp_path / "log.vkey"
            vkey.write_text(config.verifier_key)
            keys = c.get("/api/v1/keys").json()
            mkey = tmp_path / "manifest.pub"
            mkey.write_text(keys["manifest_public_pem"])
            code, out, err = run(
                "verify", str(pack), "--key", str(vkey), "--manifest-key", str(mkey)
            )
            assert code == 0, out + err
    finally:
        svc.close()
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        with log.reader() as reader:
            size, _ = reader.head()
            kinds = [
                orjson.loads(b)["kind"]
                for _, b, _ in reader.select(["access.export", "access.download"], None, None, size)
            ]
    assert kinds == ["access.export", "access.download"]
