"""Page sessions: a random id in a cookie; the server keeps who signed in.

A session ends at the first of: ``idle`` seconds without a request (default 30 min), ``max``
seconds after sign-in (default 12 h), the token's own expiry, or sign-out; the token's id is
re-checked on every page (:meth:`TokenVerifier.recheck`), so revocation and a tenant removed
from the inventory end it too. This class keeps sessions in memory (tests, one process);
:class:`edgeaudit.serve.state.SharedSessions` keeps them in the workspace's state database,
:class:`edgeaudit.serve.state_pg.PgSessions` in a PostgreSQL store's database.
With ``--secure-cookies`` the cookies carry the ``__Host-`` prefix (Secure, Path=/, no Domain:
no sub-domain or plain-http page can set or shadow them).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from edgeaudit.serve.tokens import Principal

SESSION_COOKIE: Final = "edgeaudit_session"
LOGIN_COOKIE: Final = "edgeaudit_login"
HOST_PREFIX: Final = "__Host-"


@dataclass(frozen=True)
class Cookies:
    session: str
    login: str
    login_path: str

    @classmethod
    def for_(cls, secure: bool) -> Cookies:
        if secure:  # __Host- cookies must have Path=/
            return cls(HOST_PREFIX + SESSION_COOKIE, HOST_PREFIX + LOGIN_COOKIE, "/")
        return cls(SESSION_COOKIE, LOGIN_COOKIE, "/login")


@dataclass(frozen=True)
class Session:
    id: str
    who: Principal  # who signed in (the token itself is not kept)
    csrf: str
    created: float
    expires: float  # absolute: min(created + max, the token's exp)
    last_seen: float


class Sessions:
    def __init__(
        self,
        idle: float = 30 * 60.0,
        lifetime: float = 12 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def create(self, principal: Principal) -> Session:
        now = self._clock()
        expires = min(float(principal.expires), now + self.lifetime)
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        s = Session(sid, principal, csrf, now, expires, now)
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items() if self._alive(v, now)}
            self._by_id[s.id] = s
        return s

    def _alive(self, s: Session, now: float) -> bool:
        return now < s.expires and now - s.last_seen < self.idle

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that id (its idle clock restarted), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            s = self._by_id.get(session_id)
            if s is None:
                return None
            if not self._alive(s, now):
                del self._by_id[session_id]
                return None
            s = replace(s, last_seen=now)
            self._by_id[session_id] = s
            return s

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))
