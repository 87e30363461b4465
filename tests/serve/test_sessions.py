"""Page sessions end after an idle time and an absolute lifetime, whatever the token's own
lifetime; activity restarts the idle clock but never extends the lifetime."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from edgeaudit.serve.app import asgi
from edgeaudit.serve.sessions import Cookies, Sessions
from edgeaudit.serve.setup import make_service
from edgeaudit.serve.tokens import Principal
from tests.serve.conftest import Site, settings

WHO = Principal("a" * 32, "officer:site", "officer", None, expires=10**9)


def test_idle_timeout_and_absolute_lifetime() -> None:
    now = [1000.0]
    sessions = Sessions(idle=1800, lifetime=12 * 3600, clock=lambda: now[0])
    s = sessions.create(WHO)
    for _ in range(24):  # a request every 29 minutes keeps it alive ...
        now[0] += 29 * 60
        assert sessions.get(s.id) is not None
    now[0] += 29 * 60  # ... until 12 h after sign-in, whatever the activity
    assert now[0] - 1000 > 12 * 3600
    assert sessions.get(s.id) is None
    idle = sessions.create(WHO)
    now[0] += 1800  # 30 min without a request
    assert sessions.get(idle.id) is None


def test_the_token_expiry_caps_the_session() -> None:
    now = [1000.0]
    sessions = Sessions(clock=lambda: now[0])
    s = sessions.create(Principal("b" * 32, "t", "tenant", "fintech-a", expires=1600))
    assert s.expires == 1600
    now[0] = 1599
    assert sessions.get(s.id) is not None
    now[0] = 1600
    assert sessions.get(s.id) is None


def test_cookie_names() -> None:
    assert Cookies.for_(True).session == "__Host-edgeaudit_session"
    assert Cookies.for_(True).login_path == "/"
    assert Cookies.for_(False).session == "edgeaudit_session"


def test_an_idle_page_session_signs_out(site: Site, tmp_path: Path) -> None:
    svc = make_service(
        site.config, settings(site, session_idle=2.0, session_max=60, exports=tmp_path)
    )
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            page = c.get("/login")
            m = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert m
            token = site.token("security")
            r = c.post("/login", data={"token": token, "csrf": m.group(1)}, follow_redirects=False)
            assert r.status_code == 303
            # idle 2 s, not 0.5 s: a loaded machine can take half a second from the sign-in to
            # this first page, which then found the session already gone
            assert c.get("/probe-runs", follow_redirects=False).status_code == 200
            time.sleep(2.3)
            r = c.get("/probe-runs", follow_redirects=False)
            assert r.status_code == 303
            assert r.headers["location"] == "http://testserver/login"
    finally:
        svc.close()


def test_shared_sessions_follow_the_same_rules(tmp_path: Path) -> None:
    from edgeaudit.serve.state import SharedSessions, StateDb

    now = [1000.0]
    db = StateDb(tmp_path / "state.db")
    sessions = SharedSessions(db, idle=1800, lifetime=12 * 3600, clock=lambda: now[0])
    s = sessions.create(WHO)
    other = SharedSessions(StateDb(tmp_path / "state.db"), clock=lambda: now[0])  # a worker
    now[0] += 1700
    got = other.get(s.id)
    assert got is not None
    assert got.who == WHO
    assert got.csrf == s.csrf
    now[0] += 1700  # the other worker's request restarted the idle clock
    assert sessions.get(s.id) is not None
    now[0] += 1801
    assert sessions.get(s.id) is None
    s2 = sessions.create(WHO)
    sessions.drop(s2.id)
    assert other.get(s2.id) is None
    assert (tmp_path / "state.db").stat().st_mode & 0o077 == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert s.id.encode() not in raw  # only the id's hash is stored
