"""Several hosts on one PostgreSQL store: two ``edgeaudit serve`` processes (different ports,
separate workspace directories, the same store database) share a signed-in page session, a
rate limit and an export job (asked on one, answered and downloaded on the other, built once);
a restart of both keeps the session. And the parts in process: two builders over one database
build each job exactly once; a job left running by a stopped server fails; expired jobs go,
packs included; leased rate limits stay within their documented bound; sessions keep their
idle and absolute limits across hosts. PostgreSQL is required under ``CI=true``
(tests/conftest.py)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from edgeaudit.serve.jobs import DONE, FAILED, RUNNING, ExportJob
from edgeaudit.serve.jobs_pg import STOPPED, PgJobs
from edgeaudit.serve.setup import issuer
from edgeaudit.serve.state_pg import PgRateLimiter, PgSessions
from edgeaudit.serve.tokens import Principal, issue
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.token_key import load_token_key, token_kid
from tests.conftest import _admin_connect
from tests.pack.helpers import run
from tests.serve.conftest import POLICIES

pytestmark = pytest.mark.postgres
SAMPLE = Path(__file__).resolve().parents[2] / "evidence" / "sample-events.jsonl"


@dataclass
class Host:
    ws: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def start(self) -> None:
        """Start the server and wait until it answers; a port another program took after
        :func:`_port` chose it is replaced by another (up to three times)."""
        for _ in range(3):
            if not self._launch_found_port_taken():
                break
            self.port = _port()
        assert self.proc is not None
        assert self.proc.poll() is None, self.log.read_text()[-4000:]

    def _launch_found_port_taken(self) -> bool:
        """Launch the server; True if it ended because its port was taken, else once it
        answers (or has ended for another reason)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
        argv = ["--workspace", str(self.ws), "-v", "serve", "--port", str(self.port)]
        argv += ["--rate", "0.01", "--burst", "20", "--no-pdf", "--cache-seconds", "0"]
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgeaudit.cli.main", *argv],
                stderr=err,
                stdout=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                taken = f"cannot listen on 127.0.0.1:{self.port}: Address already in use"
                return taken in self.log.read_text()
            try:
                if self.request("GET", "/api/v1/keys")[0].status == 200:
                    return False
            except OSError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()[-4000:]
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def store_url(pg_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this module; dropped afterwards."""
    name = f"edgeaudit_hosts_{uuid.uuid4().hex[:12]}"
    conn: Any = _admin_connect()
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="module")
def hosts(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Host]]:
    root = tmp_path_factory.mktemp("hosts")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        a = root / "a"
        code, _, err = run("--workspace", str(a), "init", "--site", "blr-pod-1", "--db", store_url)
        assert code == 0, err
        assert run("--workspace", str(a), "append", str(SAMPLE))[0] == 0
        assert run("--workspace", str(a), "checkpoint")[0] == 0
    shutil.copytree(POLICIES, a / "policies")
    load_token_key(cfg.load(a))  # made on first use: make it before the copy
    shutil.copytree(a, root / "b")  # the other host: the same keys and store, its own files
    pair = [Host(root / n, _port(), root / f"{n}.log") for n in ("a", "b")]
    try:
        for h in pair:
            h.start()
        yield pair
    finally:
        for h in pair:
            h.stop()


def _token(ws: Path, role: str, tenant: str | None = None) -> str:
    config = cfg.load(ws)
    key = load_token_key(config)
    return issue(
        key, token_kid(key.public_key()), issuer(config), role=role, tenant=tenant, ttl=3600
    ).token


def _sign_in(host: Host, token: str) -> str:
    r, html = host.request("GET", "/login")
    login_cookie = (r.getheader("set-cookie") or "").split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', html.decode())
    assert csrf
    r, _ = host.request(
        "POST",
        "/login",
        body=f"token={token}&csrf={csrf.group(1)}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie},
    )
    assert r.status == 303
    return next(
        v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and "session" in v
    )


def test_hosts_share_a_session_a_rate_limit_and_an_export(
    hosts: list[Host], store_url: str
) -> None:
    a, b = hosts
    session = _sign_in(a, _token(a.ws, "security"))
    for host in (b, a, b):
        assert host.request("GET", "/probe-runs", headers={"Cookie": session})[0].status == 200
    assert not (b.ws / "serve" / "state.db").exists()  # nothing in the workspace's file
    with Store.open(store_url) as store, store.engine.connect() as con:
        assert con.execute(text("SELECT count(*) FROM serve_sessions")).scalar_one() == 1

    auth = {"Authorization": f"Bearer {_token(a.ws, 'tenant', 'fintech-a')}"}
    codes = [
        (a, b)[i % 2].request("GET", "/api/v1/whoami", headers=auth)[0].status for i in range(26)
    ]
    assert codes[:20] == [200] * 20  # one burst across both hosts
    assert codes[20:] == [429] * 6

    officer = {
        "Authorization": f"Bearer {_token(b.ws, 'officer')}",
        "Content-Type": "application/json",
    }
    r, data = a.request(
        "POST",
        "/api/v1/exports",
        body='{"from": "2026-11-01", "to": "2026-12-01"}',
        headers=officer,
    )
    assert r.status == 202, data
    job_id = json.loads(data)["id"]
    deadline = time.monotonic() + 120
    while True:  # the other host answers for the job
        r, data = b.request("GET", f"/api/v1/exports/{job_id}", headers=officer)
        assert r.status == 200, data
        job = json.loads(data)
        if job["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "done", job
    built = [h.log.read_text().count(f"export {job_id} built by") for h in hosts]
    assert sorted(built) == [0, 1]  # built once, by one host
    other = hosts[built.index(0)]
    assert not (other.ws / "exports" / f"{job_id}.zip").exists()
    r, pack = other.request("GET", f"/api/v1/exports/{job_id}/download", headers=officer)
    assert r.status == 200  # the host that did not build it serves it from the database
    assert hashlib.sha256(pack).hexdigest() == job["sha256"]
    assert pack[:2] == b"PK"
    r, listing = a.request("GET", "/api/v1/exports", headers=officer)
    assert job_id in listing.decode()

    for h in hosts:  # a restart of both signs nobody out
        h.stop()
    for h in hosts:
        h.start()
    for host in (a, b):
        assert host.request("GET", "/probe-runs", headers={"Cookie": session})[0].status == 200
    r, again = a.request("GET", f"/api/v1/exports/{job_id}/download", headers=officer)
    assert r.status == 200
    assert again == pack


# -- the job table in process ---------------------------------------------------------------


def _job(jobs: PgJobs, n: int) -> ExportJob:
    return ExportJob(
        jobs.new_id(), "fintech-a", "2026-11-01", "2026-12-01", f"p{n}", None, "t", int(time.time())
    )


def _builder(counts: dict[str, int], lock: threading.Lock) -> Callable[..., dict[str, Any]]:
    def build(job: ExportJob, out: Path, progress: Callable[[str, float], None]) -> dict[str, Any]:
        with lock:
            counts[job.id] = counts.get(job.id, 0) + 1
        progress("building", 0.5)
        out.write_bytes(job.id.encode() * 50_000)  # 1.6 MB: two chunks
        return {"entries": 1}

    return build


def test_two_builders_build_each_job_once(pg_url: str, tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    lock = threading.Lock()
    with Store.open(pg_url, upgrade=True) as store:
        one = PgJobs(store.engine, tmp_path / "one", _builder(counts, lock), poll=0.02)
        two = PgJobs(store.engine, tmp_path / "two", _builder(counts, lock), poll=0.02)
        try:
            ids = [(one, two)[n % 2].submit(_job(one, n)).id for n in range(12)]
            finished = [one.wait(i, 60) for i in ids]
            assert [j.status if j else None for j in finished] == [DONE] * 12
            assert counts == dict.fromkeys(ids, 1)
            job = two.get(ids[0])
            assert job is not None
            path = two.pack_path(job)  # built by either: the bytes come back intact
            assert path.read_bytes() == ids[0].encode() * 50_000
            assert {j.id for j in one.all()} == set(ids)
            assert one.expire(time.time() + one.ttl + 10) == sorted(ids)
            with store.engine.connect() as con:
                assert (
                    con.execute(text("SELECT count(*) FROM serve_export_chunks")).scalar_one() == 0
                )
            assert two.get(ids[0]) is None
            two.expire()
            assert not list((tmp_path / "two").glob("*.zip"))  # local copies go too
        finally:
            one.close()
            two.close()


def test_a_job_left_running_by_a_stopped_server_fails(pg_url: str, tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    with Store.open(pg_url, upgrade=True) as store:
        first = PgJobs(store.engine, tmp_path / "a", _builder(counts, threading.Lock()))
        first.close()  # its builder no longer runs: jobs stay where it left them
        for n in range(3):
            first.submit(_job(first, n))
        claimed = [first._claim() for _ in range(3)]
        assert None not in claimed
        mine, stale, busy = (j for j in claimed if j is not None)
        with store.engine.begin() as con:  # two jobs of another host: one silent for long
            con.execute(
                text(
                    "UPDATE serve_exports SET owner = 'elsewhere:1:x', heartbeat = :t WHERE id = :i"
                ),
                [{"t": 0.0, "i": stale.id}, {"t": time.time(), "i": busy.id}],
            )
        second = PgJobs(store.engine, tmp_path / "b", _builder(counts, threading.Lock()))
        try:
            for job in (mine, stale):  # a process of this host that is gone; a stale heartbeat
                failed = second.get(job.id)
                assert failed is not None
                assert failed.status == FAILED
                assert failed.error == STOPPED
            running = second.get(busy.id)
            assert running is not None
            assert running.status == RUNNING  # another host's live builder keeps its job
            assert counts == {}
        finally:
            second.close()


def test_leased_rate_limit_admits_within_its_bound(pg_url: str) -> None:
    with Store.open(pg_url, upgrade=True) as store:
        hosts = [PgRateLimiter(store.engine, rate=10.0, burst=40) for _ in range(2)]
        assert hosts[0].lease == 5
        # The burst is counted over the first 40 requests, not over what one second admits: a
        # loaded machine may not even ask 40 times (8 leases from PostgreSQL) within a second.
        start, admitted, asked, refused_in_burst = time.time(), 0, 0, 0
        while time.time() - start < 1.0 or asked < 40:
            for h in hosts:
                ok = h.allow("tok") is None
                admitted += ok
                asked += 1
                refused_in_burst += asked <= 40 and not ok
        elapsed = time.time() - start
        assert refused_in_burst == 0  # the burst, whichever host asked
        assert admitted <= 40 + 10.0 * elapsed + 2 * (5 - 1)  # ADR 0010's bound


def test_sessions_keep_their_limits(pg_url: str) -> None:
    now = [1000.0]
    with Store.open(pg_url, upgrade=True) as store:
        one = PgSessions(store.engine, idle=60.0, lifetime=300.0, clock=lambda: now[0])
        two = PgSessions(store.engine, idle=60.0, lifetime=300.0, clock=lambda: now[0])
        who = Principal("jti-1", "alice", "security", None, 10_000)
        s = one.create(who)
        with store.engine.connect() as con:  # only the hash of the id is stored
            assert not con.execute(
                text("SELECT 1 FROM serve_sessions WHERE id_hash = :i"), {"i": s.id}
            ).first()
        for _ in range(5):  # used every 50 s: alive on either host until the absolute limit
            now[0] += 50.0
            got = two.get(s.id)
            assert got is not None
            assert got.who == who
            assert got.csrf == s.csrf
        now[0] += 50.0
        assert one.get(s.id) is None  # 300 s after sign-in
        t = one.create(who)
        now[0] += 61.0
        assert two.get(t.id) is None  # idle
        u = one.create(who)
        two.drop(u.id)
        assert one.get(u.id) is None  # signed out on the other host
