"""Finished exports expire (record and pack deleted after --export-ttl); each scope has a
daily export quota."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from edgeaudit.serve.app import asgi
from edgeaudit.serve.jobs import DONE, FAILED, ExportJob, Jobs
from edgeaudit.serve.setup import make_service
from tests.serve.conftest import Site, bearer, settings


def _job(jobs: Jobs, status: str, finished: int) -> ExportJob:
    job = ExportJob(
        id=jobs.new_id(),
        tenant="fintech-a",
        period_from="2026-07-01T00:00:00Z",
        period_to="2026-10-01T00:00:00Z",
        period_label="2026Q3",
        framework=None,
        requested_by="t",
        requested_at=finished - 10,
    )
    job = replace(job, status=status, finished_at=finished)
    with jobs._lock:
        jobs._save(job)
    jobs.pack_path(job).write_bytes(b"PK")
    return job


def test_finished_exports_expire(tmp_path: Path) -> None:
    def never(*_: object) -> dict[str, object]:
        raise AssertionError("no build expected")

    jobs = Jobs(tmp_path, never, ttl=3600)
    try:
        now = int(time.time())
        old_done = _job(jobs, DONE, now - 3700)
        old_failed = _job(jobs, FAILED, now - 7200)
        fresh = _job(jobs, DONE, now - 60)
        assert sorted(jobs.expire(now)) == sorted([old_done.id, old_failed.id])
        assert jobs.get(old_done.id) is None
        assert not jobs.pack_path(old_done).exists()
        assert not (tmp_path / f"{old_done.id}.json").exists()
        assert jobs.get(fresh.id) is not None
        assert jobs.pack_path(fresh).exists()
    finally:
        jobs.close()
    # a restarted server does not bring an expired export back
    again = Jobs(tmp_path, never, ttl=3600)
    try:
        assert {j.id for j in again.all()} == {fresh.id}
    finally:
        again.close()


def test_daily_export_quota_per_scope(site: Site, tmp_path: Path) -> None:
    svc = make_service(
        site.config, settings(site, export_quota=2, max_pending=10, exports=tmp_path / "e")
    )
    gate = threading.Event()
    build = svc.jobs._builder

    def held(*args: object) -> dict[str, object]:
        gate.wait(60)
        return build(*args)  # type: ignore[arg-type]

    svc.jobs._builder = held
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            tenant = bearer(site.token("tenant", "media-b"))
            codes = [
                c.post("/api/v1/exports", json={"period": "2026Q3"}, headers=tenant).status_code
                for _ in range(3)
            ]
            assert codes == [202, 202, 429]
            r = c.post("/api/v1/exports", json={"period": "2026Q3"}, headers=tenant)
            assert "quota" in r.json()["error"]["message"]
            other = bearer(site.token("tenant", "ai-c"))  # another tenant has its own quota
            r = c.post("/api/v1/exports", json={"period": "2026Q2"}, headers=other)
            assert r.status_code == 202
    finally:
        gate.set()
        svc.close()
