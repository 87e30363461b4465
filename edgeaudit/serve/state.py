"""State the processes of one ``edgeaudit serve`` share: page sessions and (with several
workers) the rate-limit buckets, in one SQLite file of the workspace (``serve/state.db``,
WAL, owner-only). On a PostgreSQL store they live in the store's database instead
(:mod:`edgeaudit.serve.state_pg`, :mod:`edgeaudit.serve.jobs_pg`), shared by every host
serving it: :func:`open_state` and :func:`open_jobs` choose.

Sessions hold who signed in (token id, subject, role, tenant, the token's expiry), never the
token; each page re-checks the token id against the revocation list, the tenant against the
inventory and the expiry. The session id itself is stored only as its SHA-256, so the file
cannot be used to take a session over. A restart or another worker keeps everybody signed in.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import Engine

from edgeaudit.serve.jobs import Builder, Jobs
from edgeaudit.serve.jobs_pg import PgJobs
from edgeaudit.serve.ratelimit import RateLimiter
from edgeaudit.serve.sessions import Session
from edgeaudit.serve.state_pg import PgRateLimiter, PgSessions
from edgeaudit.serve.tokens import Principal

STATE_DB: Final = "serve/state.db"
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, jti TEXT NOT NULL, subject TEXT NOT NULL, role TEXT NOT NULL,
    tenant TEXT, token_expires INTEGER NOT NULL, csrf TEXT NOT NULL, created REAL NOT NULL,
    expires REAL NOT NULL, last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, last REAL NOT NULL);
"""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class StateDb:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self.path = path
        self._local = threading.local()
        with self._conn() as con:
            con.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con


class SharedSessions:
    """Page sessions in :class:`StateDb` (the same rules as :class:`sessions.Sessions`)."""

    def __init__(
        self,
        db: StateDb,
        idle: float = 30 * 60.0,
        lifetime: float = 12 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.idle = idle
        self.lifetime = lifetime
        self._clock = clock

    def create(self, principal: Principal) -> Session:
        now = self._clock()
        expires = min(float(principal.expires), now + self.lifetime)
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        con = self.db._conn()
        con.execute(
            "DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?", (now, now - self.idle)
        )
        con.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _hash(sid),
                principal.jti,
                principal.subject,
                principal.role,
                principal.tenant,
                principal.expires,
                csrf,
                now,
                expires,
                now,
            ),
        )
        return Session(sid, principal, csrf, now, expires, now)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        now = self._clock()
        con = self.db._conn()
        h = _hash(session_id)
        row = con.execute(
            "SELECT jti, subject, role, tenant, token_expires, csrf, created, expires, last_seen"
            " FROM sessions WHERE id_hash = ?",
            (h,),
        ).fetchone()
        if row is None:
            return None
        jti, subject, role, tenant, token_expires, csrf, created, expires, last_seen = row
        if not (now < expires and now - last_seen < self.idle):
            con.execute("DELETE FROM sessions WHERE id_hash = ?", (h,))
            return None
        con.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, h))
        who = Principal(jti, subject, role, tenant, int(token_expires))
        return Session(session_id, who, csrf, created, expires, now)

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self.db._conn().execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))


class SharedRateLimiter:
    """A token bucket per key in :class:`StateDb`: every worker sees the same buckets."""

    def __init__(self, db: StateDb, rate: float, burst: int) -> None:
        self.db = db
        self.rate = rate
        self.burst = burst

    def allow(self, key: str) -> float | None:
        if self.rate <= 0:
            return None
        now = time.time()
        con = self.db._conn()
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT tokens, last FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, last = row if row is not None else (float(self.burst), now)
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            wait = None
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.rate
            else:
                tokens -= 1.0
            con.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (key, tokens, now))
            if row is None and secrets.randbelow(1000) == 0:  # forget idle buckets now and then
                con.execute("DELETE FROM buckets WHERE last < ?", (now - 3600,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return wait


@dataclass(frozen=True)
class ServeState:
    sessions: SharedSessions | PgSessions
    limiter: RateLimiter | SharedRateLimiter | PgRateLimiter


def _postgres(engine: Engine) -> bool:
    return bool(engine.dialect.name == "postgresql")


def open_state(
    root: Path,
    engine: Engine,
    *,
    idle: float,
    lifetime: float,
    rate: float,
    burst: int,
    workers: int,
) -> ServeState:
    """Sessions and rate limits: in the store's database on PostgreSQL (every host shares
    them), else in the workspace's ``serve/state.db`` (the limiter in memory with one
    worker)."""
    if _postgres(engine):
        return ServeState(PgSessions(engine, idle, lifetime), PgRateLimiter(engine, rate, burst))
    db = StateDb(root / STATE_DB)
    limiter: RateLimiter | SharedRateLimiter = (
        SharedRateLimiter(db, rate, burst) if workers > 1 else RateLimiter(rate, burst)
    )
    return ServeState(SharedSessions(db, idle, lifetime), limiter)


def open_jobs(engine: Engine, directory: Path, builder: Builder, ttl: float) -> Jobs | PgJobs:
    """Export jobs: in the store's database on PostgreSQL (``directory`` holds this host's
    copies of the packs), else records and packs in ``directory``."""
    if _postgres(engine):
        return PgJobs(engine, directory, builder, ttl)
    return Jobs(directory, builder, ttl=ttl)
