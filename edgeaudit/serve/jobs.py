"""Export jobs: a tenant (or officer) asks for a pack; one background worker builds it.

Each job is ``exports/<id>.json`` in the workspace (rewritten atomically at every stage) and,
when done, ``exports/<id>.zip``, so the export log survives a restart. One worker builds one
pack at a time: a pack signs a checkpoint, and packs are CPU-bound anyway. Several server
processes (``serve --workers N``) share the directory: each builds the jobs it accepted
(``worker``: its process id) and reads the others' records from disk, so any worker answers
for any job. A job found ``queued`` or ``running`` at start-up whose worker process is gone
(the server stopped meanwhile) is marked failed. On a PostgreSQL store the jobs and their
packs are in the store's database instead (:mod:`edgeaudit.serve.jobs_pg`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edgeaudit.errors import EdgeauditError

log = logging.getLogger("edgeaudit.serve")
_ID = re.compile(r"[0-9a-f]{32}")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class ExportJob:
    id: str
    tenant: str | None
    period_from: str
    period_to: str
    period_label: str
    framework: str | None
    requested_by: str
    requested_at: int
    status: str = QUEUED
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    finished_at: int | None = None
    tree_size: int | None = None
    entries: int | None = None
    findings: int | None = None
    size: int | None = None
    sha256: str | None = None
    error_id: str | None = None
    error_detail: str | None = None  # the failure's cause: officers and the server log only
    worker: int | None = None  # the process id of the server process that builds it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shown_to(self, detail: bool) -> dict[str, Any]:
        """The job as an API answer: without the failure's detail unless ``detail``."""
        out = asdict(self)
        if not detail:
            del out["error_detail"]
        return out


def _alive(pid: int | None) -> bool:
    """Whether another live process of this host has that id (never this process: its jobs
    from before a restart are not running)."""
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


Builder = Callable[[ExportJob, Path, Callable[[str, float], None]], dict[str, Any]]


class Jobs:
    def __init__(self, directory: Path, builder: Builder, ttl: float = 7 * 86400.0) -> None:
        self.dir = directory
        self.ttl = ttl  # seconds a finished export is kept (its record and its pack)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._builder = builder
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stamps: dict[str, tuple[int, int]] = {}
        with self._lock:
            self._refresh()
            for job in list(self._jobs.values()):
                if job.status in (QUEUED, RUNNING) and not _alive(job.worker):
                    job = replace(job, status=FAILED, error="the server stopped before it finished")
                    self._save(job)
        self._thread = threading.Thread(target=self._work, name="export-worker", daemon=True)
        self._thread.start()

    # -- records --------------------------------------------------------------------------

    def _read(self, path: Path) -> ExportJob | None:
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if self._stamps.get(path.stem) == stamp and path.stem in self._jobs:
                return self._jobs[path.stem]
            job = ExportJob(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            self._jobs.pop(path.stem, None)  # expired by another worker
            self._stamps.pop(path.stem, None)
            return None
        except (ValueError, TypeError) as exc:
            log.warning("skipping unreadable export record %s: %s", path, exc)
            return None
        self._stamps[path.stem] = stamp
        self._jobs[job.id] = job
        return job

    def _refresh(self) -> None:
        """Re-read the records other workers wrote or changed (one stat per record)."""
        seen = set()
        for path in self.dir.glob("*.json"):
            if _ID.fullmatch(path.stem) and self._read(path) is not None:
                seen.add(path.stem)
        for gone in set(self._jobs) - seen:
            self._jobs.pop(gone, None)
            self._stamps.pop(gone, None)

    def _save(self, job: ExportJob) -> None:
        path = self.dir / f"{job.id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(job.to_dict(), sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        self._jobs[job.id] = job
        st = path.stat()
        self._stamps[job.id] = (st.st_mtime_ns, st.st_size)

    def _update(self, job_id: str, **changes: Any) -> ExportJob:
        with self._lock:
            job = replace(self._jobs[job_id], **changes)
            self._save(job)
            return job

    def submit(self, job: ExportJob) -> ExportJob:
        job = replace(job, worker=os.getpid())
        with self._lock:
            self._save(job)
        self._queue.put(job.id)
        return job

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def get(self, job_id: str) -> ExportJob | None:
        if not _ID.fullmatch(job_id):
            return None
        with self._lock:
            return self._read(self.dir / f"{job_id}.json")

    def all(self) -> list[ExportJob]:
        with self._lock:
            self._refresh()
            return sorted(self._jobs.values(), key=lambda j: (-j.requested_at, j.id))

    def pack_path(self, job: ExportJob) -> Path:
        return self.dir / f"{job.id}.zip"

    def wait(self, job_id: str, timeout: float) -> ExportJob | None:
        """Tests and the CLI: wait until the job is done or failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.status in (DONE, FAILED):
                return job
            time.sleep(0.05)
        return self.get(job_id)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    # -- the worker -----------------------------------------------------------------------

    def expire(self, now: float | None = None) -> list[str]:
        """Delete exports finished (done or failed) more than ``ttl`` seconds ago: their
        record and their pack. Returns the ids deleted."""
        t = time.time() if now is None else now
        with self._lock:
            self._refresh()
            old = [
                j
                for j in self._jobs.values()
                if j.status in (DONE, FAILED) and (j.finished_at or j.requested_at) + self.ttl < t
            ]
            for j in old:
                self.pack_path(j).unlink(missing_ok=True)
                (self.dir / f"{j.id}.json").unlink(missing_ok=True)
                del self._jobs[j.id]
        for j in old:
            log.info("export %s expired and was deleted", j.id)
        return [j.id for j in old]

    def _work(self) -> None:
        self.expire()
        while True:
            try:
                job_id = self._queue.get(timeout=min(600.0, max(1.0, self.ttl / 10)))
            except queue.Empty:
                self.expire()
                continue
            if job_id is None:
                return
            self._run(job_id)
            self.expire()

    def _run(self, job_id: str) -> None:
        job = self._update(job_id, status=RUNNING, stage="starting", progress=0.05)
        out = self.pack_path(job)

        def progress(stage: str, fraction: float) -> None:
            self._update(job_id, stage=stage, progress=round(fraction, 2))

        try:
            facts = self._builder(job, out, progress)
            digest = hashlib.sha256()
            with out.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            out.chmod(0o600)
            self._update(
                job_id,
                status=DONE,
                stage="done",
                progress=1.0,
                finished_at=int(time.time()),
                size=out.stat().st_size,
                sha256=digest.hexdigest(),
                **facts,
            )
        except Exception as exc:  # a failed build is a visible job state, not a dead worker
            # the cause may name other tenants' keys or principals: callers get an error id
            eid = uuid.uuid4().hex[:12]
            if isinstance(exc, EdgeauditError):
                log.error("export %s failed, error id %s: %s", job_id, eid, exc)
                detail = str(exc)
            else:
                log.error("export %s failed, error id %s", job_id, eid, exc_info=exc)
                detail = f"internal error: {type(exc).__name__}: {exc}"
            self._fail(job_id, out, eid, detail[:2000])

    def _fail(self, job_id: str, out: Path, eid: str, detail: str) -> None:
        out.unlink(missing_ok=True)
        self._update(
            job_id,
            status=FAILED,
            stage="failed",
            error=f"the export could not be built (error id {eid})",
            error_id=eid,
            error_detail=detail,
            finished_at=int(time.time()),
        )
