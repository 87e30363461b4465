"""`edgeaudit serve --workers 2`: two processes behind one port share page sessions, the
rate limit and the export jobs (the kernel spreads connections over both)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serve.conftest import Site, copy_site


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)  # a new connection
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        r.read()
        c.close()
        return r

    def lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def _serve(ws: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    argv = ["--workspace", str(ws), "serve", "--port", str(port), "--workers", "2"]
    argv += ["--rate", "0.01", "--burst", "20", "--no-pdf", "--cache-seconds", "0"]
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "edgeaudit.cli.main", *argv],
            stderr=err,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _both_up(srv: Server, proc: subprocess.Popen[bytes]) -> bool:
    """Until both workers have answered the (unlimited) keys route: True; False if the server
    ended because its port was taken (by another program, after the port was chosen). A fixed
    pause after the first answer was not enough on a loaded machine, where the second worker's
    start-up takes seconds and every connection meanwhile reaches the first."""
    deadline = time.monotonic() + 90
    while len(_pids(srv.lines(), "/api/v1/keys", 200)) < 2:
        if proc.poll() is not None:
            taken = f"cannot listen on 127.0.0.1:{srv.port}: Address already in use"
            assert taken in srv.log.read_text(), srv.log.read_text()
            return False
        try:
            srv.request("GET", "/api/v1/keys")
        except OSError:
            time.sleep(0.2)
        assert time.monotonic() < deadline, srv.log.read_text()
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def server(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("workers") / "stderr.log"
    for _ in range(3):  # another port when the chosen one was taken before the server bound it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = Server(port, log)
        proc = _serve(site.ws, port, log)
        try:
            up = _both_up(srv, proc)
        except BaseException:
            _stop(proc)
            raise
        if up:
            break
    else:
        raise AssertionError(log.read_text())
    try:
        yield srv
    finally:
        _stop(proc)


def _pids(lines: list[dict[str, object]], route: str, status: int) -> set[object]:
    return {x["pid"] for x in lines if x["route"] == route and x["status"] == status}


def _ask_until_both_answer(
    server: Server,
    path: str,
    route: str,
    headers: Callable[[], dict[str, str]],
    at_least: int,
    at_most: int,
) -> list[int]:
    """GET `path` on new connections, at least `at_least` times and until both workers have
    answered it (the kernel picks the worker per connection, so a fixed count can land on one
    worker by chance: 8 connections did once in CI), at most `at_most` times (the rate limit
    counts per token). Returns the status codes."""
    codes: list[int] = []
    while len(codes) < at_most:
        codes.append(server.request("GET", path, headers=headers()).status)
        if len(codes) >= at_least and len(_pids(server.lines(), route, 200)) == 2:
            break
    return codes


def _signed_in(site: Site, server: Server) -> tuple[str, str]:
    """A new page session of a new security token: (its cookie, the token id requests count
    under, a burst of 20 of its own)."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request("GET", "/login")
    first = c.getresponse()
    html = first.read().decode()
    login_cookie = (first.getheader("set-cookie") or "").split(";")[0]
    c.close()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    token = site.token("security")
    r = server.request(
        "POST",
        "/login",
        body=f"token={token}&csrf={csrf.group(1)}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie},
    )
    assert r.status == 303
    session = next(
        v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and "session" in v
    )
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return session, str(claims["jti"])


def test_two_workers_share_a_session(site: Site, server: Server) -> None:
    def answered(jti: str) -> set[object]:
        return {
            x["pid"]
            for x in server.lines()
            if x["route"] == "/probe-runs" and x["status"] == 200 and x["token"] == jti
        }

    # Each session is asked at least 16 times and until both workers have answered it, at most
    # 19 times (the page limiter counts the session's token: a burst of 20). The kernel gave
    # one worker all 19 connections in a loaded run: then a new session is asked (5 at most).
    for _ in range(5):
        session, jti = _signed_in(site, server)
        codes: list[int] = []
        while len(codes) < 16 or (len(codes) < 19 and len(answered(jti)) < 2):
            codes.append(server.request("GET", "/probe-runs", headers={"Cookie": session}).status)
        assert codes == [200] * len(codes)  # no worker sent the session back to sign in
        if len(answered(jti)) == 2:
            break
    assert len(answered(jti)) == 2  # both workers knew the session


def test_two_workers_share_a_rate_limit_and_export_jobs(site: Site, server: Server) -> None:
    token = site.token("tenant", "fintech-a")
    auth = {"Authorization": f"Bearer {token}"}
    codes: list[int] = []

    def answered() -> set[object]:
        lines = server.lines()
        return _pids(lines, "/api/v1/whoami", 200) | _pids(lines, "/api/v1/whoami", 429)

    # 26 requests, and more (refused: one token per 100 s) until both workers have answered
    while len(codes) < 26 or (len(codes) < 126 and len(answered()) < 2):
        codes.append(server.request("GET", "/api/v1/whoami", headers=auth).status)
    assert codes[:20] == [200] * 20  # the burst, counted once across both workers
    assert codes[20:] == [429] * (len(codes) - 20)
    assert len(answered()) == 2
    officer = {
        "Authorization": f"Bearer {site.token('officer')}",
        "Content-Type": "application/json",
    }
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request("POST", "/api/v1/exports", body='{"period": "2026Q2"}', headers=officer)
    r = c.getresponse()
    job = json.loads(r.read())["id"]
    c.close()
    assert r.status == 202
    codes = _ask_until_both_answer(
        server,
        f"/api/v1/exports/{job}",
        "/api/v1/exports/{job_id}",
        lambda: {"Authorization": f"Bearer {site.token('officer')}"},  # a fresh burst each
        8,
        100,
    )
    assert codes == [200] * len(codes)  # whichever worker answers knows the job
    assert len(_pids(server.lines(), "/api/v1/exports/{job_id}", 200)) == 2


def test_one_worker_runs_the_alert_watcher(site: Site, tmp_path: Path) -> None:
    from edgeaudit.serve.service import Service
    from edgeaudit.serve.setup import make_service
    from edgeaudit.workspace import config as cfg
    from tests.serve.conftest import settings

    ws = tmp_path / "ws"
    copy_site(site, ws, exports=False)
    config = cfg.load(ws)

    def worker() -> Service:
        s = settings(site, workers=2, alert_command="cat >/dev/null", alert_interval=3600.0)
        return make_service(config, s)

    first, second = worker(), worker()
    try:
        assert first.watcher is not None
        assert second.watcher is None
    finally:
        second.close()
        first.close()
    third = worker()  # the lock is free again once the watching worker stopped
    try:
        assert third.watcher is not None
    finally:
        third.close()
