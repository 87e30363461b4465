"""Serve state on a PostgreSQL store, shared by every host and worker serving it: page sessions
and rate-limit buckets in tables of their own (migration 0005: ``serve_sessions``,
``serve_buckets``), never in the evidence log.

Sessions follow the rules of :class:`edgeaudit.serve.state.SharedSessions` (idle and absolute
limits, the token's expiry, only the SHA-256 of the session id stored), so a host that did not
see the sign-in, or one restarted since, knows the session.

Rate limits: one token bucket per key in ``serve_buckets``. A host does not ask the database
for every request: it takes a *lease* of up to ``lease`` tokens at once (an eighth of the
burst, at most one second of the rate, at least one) and spends it in memory; a lease not spent
within ``hold`` seconds (1 s) is dropped. Over any interval of ``t`` seconds a key is admitted
at most ``burst + rate*t`` requests plus ``hosts*(lease-1)`` (the leases held when it began),
and a host that drops a lease admits fewer, never more. The refill uses each host's clock: a
host whose clock is behind only slows the refill.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Final

from sqlalchemy import Engine, text

from edgeaudit.serve.sessions import Session
from edgeaudit.serve.tokens import Principal

# the refill R = least(burst, tokens + elapsed * rate); take least(lease, floor(R)), keep the rest
_TAKE: Final = """
INSERT INTO serve_buckets (key, tokens, last, granted)
VALUES (:k, :b - least(:lease, floor(:b)), :now, least(:lease, floor(:b)))
ON CONFLICT (key) DO UPDATE SET
  granted = least(:lease, floor(least(:b,
    serve_buckets.tokens + greatest(0, :now - serve_buckets.last) * :r))),
  tokens = least(:b, serve_buckets.tokens + greatest(0, :now - serve_buckets.last) * :r)
    - least(:lease, floor(least(:b,
        serve_buckets.tokens + greatest(0, :now - serve_buckets.last) * :r))),
  last = greatest(:now, serve_buckets.last)
RETURNING granted, tokens
"""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class PgSessions:
    """Page sessions in ``serve_sessions`` (the same interface as :class:`Sessions`)."""

    def __init__(
        self,
        engine: Engine,
        idle: float = 30 * 60.0,
        lifetime: float = 12 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.idle = idle
        self.lifetime = lifetime
        self._clock = clock

    def create(self, principal: Principal) -> Session:
        now = self._clock()
        expires = min(float(principal.expires), now + self.lifetime)
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as con:
            con.execute(
                text("DELETE FROM serve_sessions WHERE expires <= :now OR last_seen <= :idle"),
                {"now": now, "idle": now - self.idle},
            )
            con.execute(
                text(
                    "INSERT INTO serve_sessions (id_hash, jti, subject, role, tenant,"
                    " token_expires, csrf, created, expires, last_seen) VALUES (:h, :jti, :sub,"
                    " :role, :tenant, :texp, :csrf, :now, :expires, :now)"
                ),
                {
                    "h": _hash(sid),
                    "jti": principal.jti,
                    "sub": principal.subject,
                    "role": principal.role,
                    "tenant": principal.tenant,
                    "texp": principal.expires,
                    "csrf": csrf,
                    "now": now,
                    "expires": expires,
                },
            )
        return Session(sid, principal, csrf, now, expires, now)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        now = self._clock()
        h = _hash(session_id)
        with self.engine.begin() as con:
            row = con.execute(
                text(
                    "SELECT jti, subject, role, tenant, token_expires, csrf, created, expires,"
                    " last_seen FROM serve_sessions WHERE id_hash = :h"
                ),
                {"h": h},
            ).first()
            if row is None:
                return None
            jti, subject, role, tenant, token_expires, csrf, created, expires, last_seen = row
            if not (now < expires and now - last_seen < self.idle):
                con.execute(text("DELETE FROM serve_sessions WHERE id_hash = :h"), {"h": h})
                return None
            con.execute(
                text(
                    "UPDATE serve_sessions SET last_seen = greatest(last_seen, :now)"
                    " WHERE id_hash = :h"
                ),
                {"now": now, "h": h},
            )
        who = Principal(jti, subject, role, tenant, int(token_expires))
        return Session(session_id, who, csrf, created, expires, now)

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self.engine.begin() as con:
                con.execute(
                    text("DELETE FROM serve_sessions WHERE id_hash = :h"), {"h": _hash(session_id)}
                )


class PgRateLimiter:
    """A token bucket per key in ``serve_buckets``, spent through leases (module docstring)."""

    def __init__(
        self, engine: Engine, rate: float, burst: int, lease: int | None = None, hold: float = 1.0
    ) -> None:
        self.engine = engine
        self.rate = rate
        self.burst = burst
        self.lease = lease or max(1, min(burst // 8, int(rate)))
        self.hold = hold
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[int, float]] = {}  # key -> (tokens left, taken at)

    def allow(self, key: str) -> float | None:
        """None when allowed; else the seconds to wait before the next request is allowed."""
        if self.rate <= 0:
            return None
        now = time.time()
        with self._lock:
            left, taken = self._leases.get(key, (0, 0.0))
            if left > 0 and now - taken < self.hold:
                self._leases[key] = (left - 1, taken)
                return None
            self._leases.pop(key, None)
            if len(self._leases) > 10_000:  # forget old leases
                self._leases = {k: v for k, v in self._leases.items() if now - v[1] < self.hold}
        got, wait = self._take(key[:200], now)
        if got == 0:
            return wait
        if got > 1:
            with self._lock:
                self._leases[key] = (got - 1, now)
        return None

    def _take(self, key: str, now: float) -> tuple[int, float]:
        """Take up to ``lease`` whole tokens from the shared bucket in one statement (the
        refill, the take and what it got), without waiting for the commit to reach the disk (a
        bucket lost in a crash of the database only starts full): (taken, wait if none)."""
        with self.engine.begin() as con:
            con.execute(text("SET LOCAL synchronous_commit TO OFF"))
            got, tokens = con.execute(
                text(_TAKE),
                {"k": key, "b": float(self.burst), "now": now, "r": self.rate, "lease": self.lease},
            ).one()
            if secrets.randbelow(1000) == 0:  # forget idle buckets now and then
                con.execute(
                    text("DELETE FROM serve_buckets WHERE last < :old"), {"old": now - 3600}
                )
        return int(got), (0.0 if got else (1.0 - tokens) / self.rate)
