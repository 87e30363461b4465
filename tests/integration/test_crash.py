"""SIGKILL in the middle of a large batch, then recovery and a full re-run of the same input.

A child process commits a few small batches, writes a marker, then starts one ``append`` of
30 000 events; the parent kills it with SIGKILL after a randomized delay. Right before the kill
the parent checks, without blocking, whether the child's write transaction is open (SQLite:
``BEGIN IMMEDIATE`` is refused; PostgreSQL: the child's session holds the ``FOR UPDATE`` lock on
``logs``). A kill that found the transaction open and left the log at its pre-batch size landed
mid-transaction; at least one attempt must (extra attempts kill as soon as the writer is seen
inside its transaction).

After every kill: the log size is the pre-batch size or pre-batch + the whole batch, never in
between; everything committed earlier is there exactly once and ``verify_log`` passes.
PostgreSQL must end the killed session (and so release its lock) within seconds. On SQLite the
killed child was the only process with the database open, so its -wal/-shm files are left
behind; a new bare ``sqlite3`` process is the first to open the database after the kill and
must find it intact. Then a new appender process (the next attempt's child, finally the re-run)
must get its first batch in within seconds. At the end that fresh process re-runs every input
of every attempt: the log then holds every distinct event exactly once, and verifies with a new
checkpoint.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from edgeaudit.note.signer import Ed25519Signer, generate
from edgeaudit.store import Store
from edgeaudit.verify.store import verify_log
from tests.integration.appender import (
    check_log,
    distinct_entries,
    spawn,
    stderr_of,
    wait_for_files,
)

ORIGIN = "audit.example.net/integration-crash"
BIG = 30_000
PRE_BATCHES, PRE_SIZE = 3, 200
# Kill delays after the child announces the big append (seconds, drawn uniformly). The last
# window usually lets the batch commit first. If no kill has landed mid-transaction by then,
# up to EXTRA more attempts kill as soon as the writer is seen inside its transaction.
WINDOWS: list[tuple[float, float] | None] = [(0.0, 0.05), (0.05, 0.2), (0.6, 1.5)]
EXTRA = 3
LOCK_RELEASE_S = 5.0

# Run by a bare Python (no edgeaudit, no SQLAlchemy) as the first opener after a kill.
_SQLITE_OPENER = """
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
print(json.dumps({
    "journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
    "quick_check": con.execute("PRAGMA quick_check").fetchall(),
    "tree_size": con.execute("SELECT tree_size FROM logs").fetchone()[0],
    "entries": con.execute("SELECT count(*) FROM entries").fetchone()[0],
}))
"""


def attempt_plan(a: int) -> list[dict[str, Any]]:
    """Small committed batches, then the big one (which repeats a few committed events)."""
    plan: list[dict[str, Any]] = [
        {"tag": f"pre{a}", "start": b * PRE_SIZE, "stop": (b + 1) * PRE_SIZE, "shared": [a]}
        for b in range(PRE_BATCHES)
    ]
    plan.append({"tag": f"big{a}", "start": 0, "stop": BIG, "shared": [a, a + 1]})
    return plan


def child_url(db_url: str, name: str) -> str:
    """On PostgreSQL, tag the child's session so the parent can find it in pg_stat_activity."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return db_url
    return url.update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def sqlite_path(db_url: str) -> str:
    database = make_url(db_url).database
    assert database is not None
    return database


class Monitor:
    """The parent's view of the database while a child runs. On SQLite it holds no connection
    between calls, so the child is the only process with the database open when killed."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.token = uuid.uuid4().hex[:8]  # session names unique even across parallel runs
        self.postgres = make_url(db_url).get_backend_name() == "postgresql"
        self.store = Store.open(db_url) if self.postgres else None

    def app(self, attempt: int) -> str:
        """The application_name of attempt ``attempt``'s child on PostgreSQL."""
        return f"ea-crash-{self.token}-{attempt}"

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def writer_active(self, app: str) -> bool:
        """Is the child's write transaction open right now? Never blocks."""
        if self.store is None:
            con = sqlite3.connect(sqlite_path(self.db_url), timeout=0, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    return True
                raise
            else:
                con.execute("ROLLBACK")
                return False
            finally:
                con.close()
        return bool(
            self._scalar(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.datname = current_database() AND a.application_name = :app "
                "AND a.xact_start IS NOT NULL AND l.granted "
                "AND l.mode = 'RowShareLock' AND l.relation = 'logs'::regclass",
                app,
            )
        )

    def sessions(self, app: str) -> int:
        return self._scalar(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :app",
            app,
        )

    def _scalar(self, sql: str, app: str) -> int:
        assert self.store is not None
        with self.store.engine.connect() as conn:
            return int(conn.execute(text(sql), {"app": app}).scalar_one())

    def after_kill(self, app: str, killed: bool) -> str:
        """PostgreSQL: the server ends the killed session, and so its lock, within seconds.
        SQLite: the files left behind; a new process opens the database and finds it intact."""
        if self.postgres:
            started = time.monotonic()
            while self.sessions(app):
                assert time.monotonic() - started < LOCK_RELEASE_S, "the killed session lingers"
                time.sleep(0.005)
            return f"killed session gone after {1000 * (time.monotonic() - started):.0f} ms"
        db = sqlite_path(self.db_url)
        files = {x: os.path.getsize(db + x) for x in ("-wal", "-shm") if os.path.exists(db + x)}
        if killed:  # nobody closed the database cleanly: the files must still be there
            assert set(files) == {"-wal", "-shm"}, files
        opened = subprocess.run(
            [sys.executable, "-I", "-c", _SQLITE_OPENER, db],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        found = json.loads(opened.stdout)
        assert found["journal_mode"] == "wal"
        assert found["quick_check"] == [["ok"]]
        assert found["tree_size"] == found["entries"]
        return f"left behind {files}; a new process opened it: {found}"


def run_appender(
    tmp_path: Path, name: str, url: str, plan: list[dict[str, Any]], timeout: float
) -> dict[str, Any]:
    """Run a fresh appender process to completion; return its results."""
    (tmp_path / f"{name}.plan.json").write_text(json.dumps(plan))
    prefix = tmp_path / name
    args = ["append", "--url", url, "--origin", ORIGIN, "--plan", f"{prefix}.plan.json"]
    proc = spawn([*args, "--out", f"{prefix}.json"], prefix)
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, stderr_of(prefix)
    result: dict[str, Any] = json.loads(Path(f"{prefix}.json").read_text())
    return result


def kill_mid_append(
    monitor: Monitor, tmp_path: Path, a: int, window: tuple[float, float] | None, rng: random.Random
) -> tuple[int, float, bool, dict[str, Any]]:
    """Run attempt ``a``; SIGKILL the child a random delay in ``window`` after it starts the
    big append (``None``: as soon as its write transaction is seen open).

    Returns (return code, delay, writer transaction open right before the kill, the child's
    marker: pre-batch size and how long its first append took).
    """
    prefix, app = tmp_path / f"crash{a}", monitor.app(a)
    Path(f"{prefix}.plan.json").write_text(json.dumps(attempt_plan(a)))
    args = ["append", "--url", child_url(monitor.db_url, app), "--origin", ORIGIN]
    args += ["--plan", f"{prefix}.plan.json", "--out", f"{prefix}.json"]
    proc = spawn([*args, "--marker", f"{prefix}.marker"], prefix)
    try:
        wait_for_files([Path(f"{prefix}.marker")], [(proc, prefix)], timeout=60)
        started = time.monotonic()
        if window is None:
            while not monitor.writer_active(app) and time.monotonic() - started < 5:
                time.sleep(0.001)
        else:
            time.sleep(rng.uniform(*window))
        in_tx = monitor.writer_active(app)
        proc.send_signal(signal.SIGKILL)  # no-op if it already exited
        delay = time.monotonic() - started
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc in (-signal.SIGKILL, 0), stderr_of(prefix)
    marker: dict[str, Any] = json.loads(Path(f"{prefix}.marker").read_text())
    return rc, delay, in_tx, marker


def log_size(db_url: str) -> int:
    with Store.open(db_url) as store:
        return store.log(ORIGIN).size


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun(db_url: str, tmp_path: Path) -> None:
    signer: Ed25519Signer = generate(ORIGIN)
    verifier = signer.verifier()
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    with Store.open(db_url, upgrade=True) as store:
        store.log(ORIGIN, create=True)
        backend = store.backend
    committed: dict[bytes, bytes] = {}
    every_plan: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    windows = list(WINDOWS)
    monitor = Monitor(db_url)
    try:
        for a in itertools.count():
            if a == len(windows):
                if any(o["mid_tx"] for o in outcomes) or a >= len(WINDOWS) + EXTRA:
                    break
                windows.append(None)
            plan = attempt_plan(a)
            every_plan += plan
            rc, delay, in_tx, marker = kill_mid_append(monitor, tmp_path, a, windows[a], rng)
            # This child is also the new appender after the previous kill: it got in at once.
            assert marker["first_s"] < LOCK_RELEASE_S, "the next appender waited for the lock"
            released = monitor.after_kill(monitor.app(a), killed=rc == -signal.SIGKILL)

            # After the kill: earlier commits all there, the big batch absent or complete
            # (never partial), and the whole log verifies.
            pre = marker["pre"]
            committed.update(distinct_entries(plan[:-1]))
            assert pre == len(committed)
            new = {k: v for k, v in distinct_entries(plan[-1:]).items() if k not in committed}
            size = log_size(db_url)
            assert size in (pre, pre + len(new)), f"partial batch: size {pre} -> {size}"
            complete = size == pre + len(new)
            if complete:
                committed.update(new)
            check_log(db_url, ORIGIN, committed, verifier)

            outcome = {
                "kill_after_ms": round(delay * 1000),
                "rc": rc,
                "writer_active_at_kill": in_tx,
                "size": f"{pre} -> {size}",
                "batch": "complete" if complete else "absent",
                "mid_tx": rc == -signal.SIGKILL and in_tx and not complete,
            }
            outcomes.append(outcome)
            print(
                f"\n[{backend}] attempt {a}: {outcome}; {released}; "
                f"first append after the previous kill {marker['first_s'] * 1000:.0f} ms",
                end="",
            )
    finally:
        monitor.close()
    print(f"\n[{backend}] seed {seed}")
    assert any(o["mid_tx"] for o in outcomes), f"no kill landed mid-transaction: {outcomes}"

    # Re-run every input of every attempt in a fresh process: nothing is doubled.
    rerun = run_appender(tmp_path, "rerun", db_url, every_plan, 120)
    assert rerun["first_s"] < LOCK_RELEASE_S, "the appender after the last kill waited"
    everything = distinct_entries(every_plan)
    assert sum(r[0] for r in rerun["results"]) == len(everything) - len(committed)
    check_log(db_url, ORIGIN, everything, verifier)
    with Store.open(db_url) as store:
        log = store.log(ORIGIN)
        cp = log.sign_checkpoint(signer)
        assert cp.tree_size == len(everything)
        report = verify_log(log, [verifier], trusted=cp.note.encode())
    assert report.ok, [str(p) for p in report.problems]
