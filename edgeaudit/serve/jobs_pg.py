"""Export jobs on a PostgreSQL store, shared by every host and worker serving it.

A job is a row of ``serve_exports`` (migration 0005; the job as JSON plus its status, owner and
heartbeat); the finished pack is stored with it in ``serve_export_chunks`` (1 MiB chunks), so
no directory has to be shared between hosts. The host that takes the request queues the row
and wakes its own builder; every builder (one per server process) claims the oldest queued job
with ``SELECT ... FOR UPDATE SKIP LOCKED``, so each job is built exactly once, by one process.
Any host answers for any job from the row; a download on a host that did not build the pack
copies it from the database into that host's exports directory first (checked against the
job's SHA-256), which then serves as a cache.

The builder refreshes its job's heartbeat every ``beat`` seconds (10 s) while it builds. A job
left running by a process that is gone is marked failed ("the server stopped before it
finished"): at once when it was a process of this host (and process-id namespace), else when
its heartbeat is older than ``stale`` seconds (60 s). Finished jobs (done or failed) older
than ``ttl`` are deleted, pack included, by whichever host looks first; local copies of
deleted packs go too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, text

from edgeaudit.errors import EdgeauditError
from edgeaudit.serve.jobs import _ID, DONE, FAILED, QUEUED, RUNNING, Builder, ExportJob, _alive

log = logging.getLogger("edgeaudit.serve")
CHUNK: Final = 1 << 20
STOPPED: Final = "the server stopped before it finished"
_LIVE: set[str] = set()  # the owners open in this process (tests run several)


def _machine() -> str:
    """This host and process-id namespace (a container on a shared kernel is its own): the
    only place where a job's process id can be checked for life."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        ns = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        boot, ns = "", 0
    return f"{socket.gethostname().replace(':', '_')}/{boot}/{ns}"


def _job(record: str) -> ExportJob:
    return ExportJob(**json.loads(record))


class PgJobs:
    """The interface of :class:`edgeaudit.serve.jobs.Jobs`, over the store's database."""

    def __init__(
        self,
        engine: Engine,
        directory: Path,
        builder: Builder,
        ttl: float = 7 * 86400.0,
        *,
        poll: float = 0.5,
        beat: float = 10.0,
        stale: float = 60.0,
    ) -> None:
        self.engine = engine
        self.dir = directory
        self.ttl = ttl
        self.poll = poll
        self.beat = beat
        self.stale = stale
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._builder = builder
        self.host = _machine()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _LIVE.add(self.owner)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._current: str | None = None
        self._recover(time.time())
        self._thread = threading.Thread(target=self._work, name="export-worker", daemon=True)
        self._beats = threading.Thread(target=self._heartbeat, name="export-beat", daemon=True)
        self._thread.start()
        self._beats.start()

    # -- records --------------------------------------------------------------------------

    def _save(self, con: Connection, job: ExportJob, owner: str | None) -> None:
        con.execute(
            text(
                "UPDATE serve_exports SET record = :r, status = :s, finished_at = :f,"
                " owner = :o, heartbeat = :t WHERE id = :id"
            ),
            {
                "r": json.dumps(job.to_dict(), sort_keys=True),
                "s": job.status,
                "f": job.finished_at,
                "o": owner,
                "t": time.time(),
                "id": job.id,
            },
        )

    def _update(self, job_id: str, **changes: Any) -> ExportJob | None:
        """Change the job if this process still owns it (None: it was taken away)."""
        with self.engine.begin() as con:
            row = con.execute(
                text(
                    "SELECT record FROM serve_exports WHERE id = :id AND owner = :o"
                    " AND status = :running FOR UPDATE"
                ),
                {"id": job_id, "o": self.owner, "running": RUNNING},
            ).first()
            if row is None:
                return None
            job = replace(_job(row[0]), **changes)
            self._save(con, job, self.owner)
            return job

    def submit(self, job: ExportJob) -> ExportJob:
        with self.engine.begin() as con:
            con.execute(
                text(
                    "INSERT INTO serve_exports (id, tenant, status, requested_at, record)"
                    " VALUES (:id, :tenant, :s, :at, :r)"
                ),
                {
                    "id": job.id,
                    "tenant": job.tenant,
                    "s": job.status,
                    "at": job.requested_at,
                    "r": json.dumps(job.to_dict(), sort_keys=True),
                },
            )
        self._wake.set()
        return job

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def get(self, job_id: str) -> ExportJob | None:
        if not _ID.fullmatch(job_id):
            return None
        with self.engine.connect() as con:
            row = con.execute(
                text("SELECT record FROM serve_exports WHERE id = :id"), {"id": job_id}
            ).first()
        return None if row is None else _job(row[0])

    def all(self) -> list[ExportJob]:
        with self.engine.connect() as con:
            rows = con.execute(text("SELECT record FROM serve_exports")).all()
        return sorted((_job(r[0]) for r in rows), key=lambda j: (-j.requested_at, j.id))

    def pack_path(self, job: ExportJob) -> Path:
        """The pack as a file of this host: copied from the database when this host did not
        build it (or no longer has it)."""
        path = self.dir / f"{job.id}.zip"
        if job.status != DONE or (path.is_file() and path.stat().st_size == job.size):
            return path
        tmp = self.dir / f"{job.id}.{uuid.uuid4().hex[:8]}.part"
        digest = hashlib.sha256()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh, self.engine.connect() as con:
                seq = 0
                while True:
                    row = con.execute(
                        text(
                            "SELECT data FROM serve_export_chunks WHERE job_id = :id AND seq = :n"
                        ),
                        {"id": job.id, "n": seq},
                    ).first()
                    if row is None:
                        break
                    data = bytes(row[0])
                    digest.update(data)
                    fh.write(data)
                    seq += 1
            if digest.hexdigest() != job.sha256:
                log.error("export %s: the stored pack does not match its SHA-256", job.id)
                return path  # absent or stale: never a wrong pack
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

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
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self._beats.join(timeout=5)
        _LIVE.discard(self.owner)

    # -- housekeeping ---------------------------------------------------------------------

    def _recover(self, now: float) -> None:
        """Fail the running jobs whose process is gone (this host's: at once; others': when
        their heartbeat is stale)."""
        with self.engine.begin() as con:
            rows = con.execute(
                text(
                    "SELECT id, owner, heartbeat FROM serve_exports WHERE status = :running"
                    " FOR UPDATE SKIP LOCKED"
                ),
                {"running": RUNNING},
            ).all()
            for job_id, owner, beat in rows:
                host, _, rest = (owner or "").partition(":")
                pid = rest.partition(":")[0]
                gone = host == self.host and owner not in _LIVE and not _alive(int(pid or 0))
                if gone or (beat or 0.0) < now - self.stale:
                    record = con.execute(
                        text("SELECT record FROM serve_exports WHERE id = :id"), {"id": job_id}
                    ).scalar_one()
                    job = replace(
                        _job(record),
                        status=FAILED,
                        stage="failed",
                        error=STOPPED,
                        finished_at=int(now),
                    )
                    self._save(con, job, None)
                    log.warning("export %s: its server (%s) stopped; marked failed", job_id, owner)

    def expire(self, now: float | None = None) -> list[str]:
        """Delete exports finished (done or failed) more than ``ttl`` seconds ago, packs
        included, and this host's copies of packs no longer in the database."""
        t = time.time() if now is None else now
        with self.engine.begin() as con:
            gone = [
                r[0]
                for r in con.execute(
                    text(
                        "DELETE FROM serve_exports WHERE status IN (:done, :failed)"
                        " AND coalesce(finished_at, requested_at) + :ttl < :now RETURNING id"
                    ),
                    {"done": DONE, "failed": FAILED, "ttl": self.ttl, "now": t},
                )
            ]
            known = {r[0] for r in con.execute(text("SELECT id FROM serve_exports"))}
        for path in self.dir.glob("*.zip"):
            if _ID.fullmatch(path.stem) and path.stem not in known:
                path.unlink(missing_ok=True)
        for job_id in gone:
            log.info("export %s expired and was deleted", job_id)
        return sorted(gone)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.beat):
            current = self._current
            if current is not None:
                with self.engine.begin() as con:
                    con.execute(
                        text(
                            "UPDATE serve_exports SET heartbeat = :t WHERE id = :id AND owner = :o"
                        ),
                        {"t": time.time(), "id": current, "o": self.owner},
                    )

    # -- the builder ----------------------------------------------------------------------

    def _claim(self) -> ExportJob | None:
        with self.engine.begin() as con:
            row = con.execute(
                text(
                    "SELECT id, record FROM serve_exports WHERE status = :queued"
                    " ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                {"queued": QUEUED},
            ).first()
            if row is None:
                return None
            job = replace(
                _job(row[1]), status=RUNNING, stage="starting", progress=0.05, worker=os.getpid()
            )
            self._current = job.id
            self._save(con, job, self.owner)
            return job

    def _work(self) -> None:
        housekeeping = 0.0
        while not self._stop.is_set():
            try:
                now = time.time()
                if now - housekeeping > min(30.0, max(1.0, self.ttl / 10)):
                    housekeeping = now
                    self.expire(now)
                    self._recover(now)
                job = self._claim()
                if job is not None:
                    self._run(job)
                    continue
            except Exception:  # the database went away a moment: try again later
                log.exception("export worker: database error")
            self._wake.wait(self.poll)
            self._wake.clear()

    def _run(self, job: ExportJob) -> None:
        out = self.dir / f"{job.id}.zip"

        def progress(stage: str, fraction: float) -> None:
            self._update(job.id, stage=stage, progress=round(fraction, 2))

        try:
            facts = self._builder(job, out, progress)
            out.chmod(0o600)
            self._finish(job.id, out, facts)
            log.info("export %s built by %s", job.id, self.owner)
        except Exception as exc:  # a failed build is a visible job state, not a dead worker
            # the cause may name other tenants' keys or principals: callers get an error id
            eid = uuid.uuid4().hex[:12]
            if isinstance(exc, EdgeauditError):
                log.error("export %s failed, error id %s: %s", job.id, eid, exc)
                detail = str(exc)
            else:
                log.error("export %s failed, error id %s", job.id, eid, exc_info=exc)
                detail = f"internal error: {type(exc).__name__}: {exc}"
            out.unlink(missing_ok=True)
            self._update(
                job.id,
                status=FAILED,
                stage="failed",
                error=f"the export could not be built (error id {eid})",
                error_id=eid,
                error_detail=detail[:2000],
                finished_at=int(time.time()),
            )
        finally:
            self._current = None

    def _finish(self, job_id: str, out: Path, facts: dict[str, Any]) -> None:
        """Store the pack and mark the job done, in one transaction."""
        digest = hashlib.sha256()
        with self.engine.begin() as con:
            row = con.execute(
                text(
                    "SELECT record FROM serve_exports WHERE id = :id AND owner = :o"
                    " AND status = :running FOR UPDATE"
                ),
                {"id": job_id, "o": self.owner, "running": RUNNING},
            ).first()
            if row is None:
                raise EdgeauditError("the job was taken away from this server while it built")
            con.execute(text("DELETE FROM serve_export_chunks WHERE job_id = :id"), {"id": job_id})
            with out.open("rb") as fh:
                for seq, chunk in enumerate(iter(lambda: fh.read(CHUNK), b"")):
                    digest.update(chunk)
                    con.execute(
                        text(
                            "INSERT INTO serve_export_chunks (job_id, seq, data)"
                            " VALUES (:id, :n, :d)"
                        ),
                        {"id": job_id, "n": seq, "d": chunk},
                    )
            job = replace(
                _job(row[0]),
                status=DONE,
                stage="done",
                progress=1.0,
                finished_at=int(time.time()),
                size=out.stat().st_size,
                sha256=digest.hexdigest(),
                **facts,
            )
            self._save(con, job, self.owner)
