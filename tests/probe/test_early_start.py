"""``probe run`` starts its engine (in a child process) before the store is imported and opened
(edgeaudit/cli/probe.py ``_run_early``): what must not change for it.

* A store that turns out damaged, empty or another workspace's once the probing has started
  fails the run as the store-first path does (same message, exit 2) and nothing is written.
* What must hold before the first packet still does: a missing store, a bad plan (also with a
  damaged store: the store's error comes first, as before) send nothing (a counter in the
  router counts the vantage's packets).
* The child's value or error comes back as itself (``probe/background.py``); the records are
  the bytes of :func:`edgeaudit.events.prepare`; an SQLite URL resolved without SQLAlchemy is
  what SQLAlchemy makes of it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.cli.main import main
from edgeaudit.errors import EdgeauditError, InputError
from edgeaudit.events import prepare
from edgeaudit.probe.background import start
from edgeaudit.probe.engine import ProbeError
from edgeaudit.probe.model import Answer, Probe, ScopeError
from edgeaudit.probe.records import RunInfo, prepared, run_events
from edgeaudit.probe.run import load_policies
from edgeaudit.probe.verdict import decide
from edgeaudit.workspace import config as cfg
from tests.cli import GOOD
from tests.probe.conftest import TOPO, Workspace, init_workspace
from tests.probe.netns import Topology, run

EDGEAUDIT = (sys.executable, "-m", "edgeaudit.cli.main")
C = "198.18.3.30"  # the vantage of plan from-c (tests/probe/data/topo)
COUNTER = f"""table inet eacount {{
  chain count {{
    type filter hook forward priority -10; policy accept;
    ip saddr {C} counter
  }}
}}
"""


@pytest.fixture
def counted(topo: Topology) -> Topology:
    """The router counts what c sends through it (from zero)."""
    run(
        "ip", "netns", "exec", topo.router, "nft", "delete", "table", "inet", "eacount", check=False
    )
    topo.nft(COUNTER)
    return topo


def sent(topo: Topology) -> int:
    text = run("ip", "netns", "exec", topo.router, "nft", "list", "table", "inet", "eacount")
    found = re.search(r"counter packets (\d+)", text)
    assert found, text
    return int(found[1])


@pytest.fixture
def ws(topo: Topology, tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    init_workspace(root)
    return Workspace(root, topo)


def store_file(ws: Workspace) -> Path:
    return Path(cfg.load(ws.root).db_url.removeprefix("sqlite:///"))


def files(db: Path) -> dict[str, str]:
    """The store's files (the database, its WAL and shared memory, if any) and their digests."""
    out = {}
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("edgeaudit: error:")]


def store_first_error(ws: Workspace) -> list[str]:
    """The error of a command that opens the store before anything else (append)."""
    assert ws.topo is not None
    done = ws.topo.exec("c", *EDGEAUDIT, "-w", str(ws.root), "append", str(GOOD))
    assert done.returncode == 2, done.stderr
    return errors(done.stderr)


def empty_database(db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(b"")


def truncated(db: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    os.truncate(db, db.stat().st_size // 2)


def noise_on_an_index_page(db: Path) -> None:
    """Damage only a page check finds (every first write makes one): an index page no read
    touches (tests/cli/test_damaged_store.py)."""
    from tests.cli.test_damaged_store import _settle, noise_on_index

    _settle(db)
    noise_on_index(db)


@pytest.mark.parametrize("damage", ["empty", "truncated", "another workspace's", "index page"])
def test_a_store_found_bad_once_probing_started_fails_as_before_and_writes_nothing(
    ws: Workspace, tmp_path: Path, damage: str
) -> None:
    db = store_file(ws)
    if damage == "empty":
        empty_database(db)
    elif damage == "truncated":
        truncated(db)
    elif damage == "index page":
        assert ws.topo is not None
        done = ws.topo.exec("c", *EDGEAUDIT, "-w", str(ws.root), "append", str(GOOD))
        assert done.returncode == 0, done.stderr
        noise_on_an_index_page(db)
    else:
        other = tmp_path / "other"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--workspace", str(other), "init", "--site", "other-lab"]) == 0
        db.write_bytes(store_file(Workspace(other, None)).read_bytes())
    assert db.is_file()  # so the engine starts before the store is opened
    before = files(db)
    done = ws.probe("c", "run", "--plan", "from-c", "--json")
    assert done.returncode == 2, done.stderr
    assert files(db) == before  # nothing written, nothing created
    assert errors(done.stderr) == store_first_error(ws) != []
    assert '"exit_code": 2' in done.stdout  # --json: the error on stdout too


def test_a_missing_store_sends_nothing(ws: Workspace, counted: Topology) -> None:
    db = store_file(ws)
    db.unlink()
    done = ws.probe("c", "run", "--plan", "from-c")
    assert done.returncode == 2
    assert "the file does not exist" in done.stderr
    assert errors(done.stderr) == store_first_error(ws)
    assert sent(counted) == 0
    assert not db.exists()  # never re-created


def test_a_bad_plan_sends_nothing_and_a_bad_store_is_still_reported_first(
    ws: Workspace, counted: Topology
) -> None:
    done = ws.probe("c", "run", "--plan", "nope")
    assert done.returncode == 2
    assert "no plan 'nope'" in done.stderr
    empty_database(store_file(ws))
    done = ws.probe("c", "run", "--plan", "nope")
    assert done.returncode == 2
    assert errors(done.stderr) == store_first_error(ws)
    assert "no plan" not in done.stderr
    assert sent(counted) == 0


def test_a_good_run_probes_and_records(ws: Workspace, counted: Topology) -> None:
    done = ws.probe("c", "run", "--plan", "from-c", "--json")
    assert done.returncode == 0, done.stderr
    assert sent(counted) > 0
    runs = ws.records("probe.run")
    assert len(runs) == 1
    assert len(ws.records("probe.result")) == runs[0]["attrs"]["params"]["probes"]


# -- the child process -------------------------------------------------------------------------


class Unpicklable(EdgeauditError):
    exit_code = 3

    def __init__(self, message: str, extra: object) -> None:  # pickle cannot rebuild it
        super().__init__(message)
        self.extra = extra


def raise_(exc: BaseException) -> None:
    raise exc


def test_the_childs_value_comes_back() -> None:
    running = start(lambda: {"pid": os.getpid(), "big": b"x" * (1 << 20)})
    value = running.result()
    assert isinstance(value, dict)
    assert value["pid"] == running.pid != os.getpid()
    assert len(value["big"]) == 1 << 20  # more than a pipe holds


@pytest.mark.parametrize(
    "exc",
    [
        ProbeError("raw sockets need root or CAP_NET_RAW"),
        ScopeError("scope guard: 198.19.7.7 is outside every segment"),
        InputError("bad"),
        ValueError("a bug"),
    ],
)
def test_the_childs_error_comes_back_as_itself(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as raised:
        start(lambda: raise_(exc)).result()
    assert type(raised.value) is type(exc)
    assert str(raised.value) == str(exc)


def test_an_error_that_does_not_pickle_keeps_its_name_message_and_exit_code() -> None:
    with pytest.raises(EdgeauditError) as raised:
        start(lambda: raise_(Unpicklable("no route", object))).result()
    assert type(raised.value).__name__ == "Unpicklable"
    assert str(raised.value) == "no route"
    assert raised.value.exit_code == 3


def test_a_child_that_dies_is_an_internal_error_and_stop_ends_a_running_one() -> None:
    with pytest.raises(RuntimeError, match="killed by signal 9"):
        start(lambda: os.kill(os.getpid(), signal.SIGKILL)).result()
    running = start(lambda: time.sleep(60))
    began = time.monotonic()
    running.stop()
    assert time.monotonic() - began < 10
    with pytest.raises(ChildProcessError):  # collected: no zombie left
        os.waitpid(running.pid, 0)


PARENT = """
import os, sys, time
from edgeaudit.probe.background import start
ready = sys.argv[1]
running = start(lambda: (open(ready, "w").close(), time.sleep(30)))
while not os.path.exists(ready):  # the child is at its work (probing, in a real run)
    time.sleep(0.01)
print(running.pid, flush=True)
time.sleep(30)
"""
REAPER = """
import ctypes, os, signal, subprocess, sys, time
# orphans come to this process, not to PID 1 (which may end them itself, whatever they do)
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1) == 0  # PR_SET_CHILD_SUBREAPER
parent = subprocess.Popen([sys.executable, *sys.argv[1:]], stdout=subprocess.PIPE, text=True)
child = int(parent.stdout.readline())
parent.kill()
parent.wait()
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    pid, status = os.waitpid(child, os.WNOHANG)
    if pid:
        print("killed" if os.WIFSIGNALED(status) else "ended", flush=True)
        break
    time.sleep(0.05)
else:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    print("still running", flush=True)
"""


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A command killed (SIGKILL) while its child probes leaves no child probing."""
    (tmp_path / "parent.py").write_text(PARENT)
    (tmp_path / "reaper.py").write_text(REAPER)
    done = subprocess.run(
        [sys.executable, *(str(tmp_path / n) for n in ("reaper.py", "parent.py", "ready"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "killed", done.stdout + done.stderr


# -- the records and the store URL -------------------------------------------------------------


def test_records_are_the_bytes_prepare_makes() -> None:
    policies = load_policies(TOPO / "inventory.yaml", TOPO / "isolation.yaml", TOPO / "probes.yaml")
    probes = [
        Probe("198.18.2.20", "tcp", 22, "seg-b", "b-app", "tenant-b", "deny"),
        Probe("198.18.2.20", "udp", 623, "seg-b", "b-bmc", "tenant-b", "deny", ("rmcp",)),
        Probe("198.18.3.30", "icmp", None, "seg-c", None, None, "allow"),
    ]
    answers = {("198.18.2.20", "tcp", 22): [Answer("syn-ack", "198.18.2.20", ttl=63)]}
    sent = {(p.address, p.protocol, p.port): 3 for p in probes}
    results, ok = decide(probes, answers, sent, {p.address: True for p in probes})
    info = RunInfo(
        "0b5e4f7e-0000-4000-8000-000000000001",
        "main",
        "seg-v",
        policies.matrix.version,
        "edgeaudit-probe/1",
        {"rate": 5000, "rtt_max_ms": 0.123, "loss_seen": False, "probes": 3},
        "2026-12-07T16:00:00.123456Z",
        "2026-12-07T16:00:01.5Z",
        "change:CHG-42",
    )
    events = run_events(info, results, ok, policies.inventory)
    fast = prepared(events)
    assert fast == [prepare(e.to_record(), fingerprint=e.fingerprint()) for e in events]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///evidence/store.db",
        "sqlite:////var/lib/edgeaudit/store.db",
        "sqlite:///./a/../b.db",
        "sqlite:///a//b.db",
        "sqlite:///.",
        "sqlite:///a b.db",
        "sqlite:///a%20b.db",
        "sqlite:///a@b:c.db",
        "sqlite:///store.db?mode=ro",
        "sqlite+pysqlite:///store.db",
        "postgresql://postgres@127.0.0.1/test",
    ],
)
def test_a_store_url_resolves_as_sqlalchemy_resolves_it(url: str) -> None:
    root = Path("/srv/ws")
    parsed = make_url(url)
    expected = url
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        path = path if path.is_absolute() else root / path
        expected = parsed.set(database=str(path)).render_as_string(hide_password=False)
    assert cfg.resolve_db_url(url, root) == expected


def test_the_engine_starts_early_only_into_an_sqlite_file_that_exists(
    workspace_nonet: Workspace,
) -> None:
    from edgeaudit.cli.probe import _early

    config = cfg.load(workspace_nonet.root)

    def args(**kw: object) -> argparse.Namespace:
        return argparse.Namespace(**{"action": "run", "plan": ["main"], "log": None, **kw})

    assert _early(args(), config)
    assert _early(args(log=config.origin), config)
    assert not _early(args(log="other.example/pod"), config)
    assert not _early(args(plan=None), config)
    assert not _early(args(plan=["a", "b"]), config)
    assert not _early(args(action="schedule"), config)
    store_file(workspace_nonet).unlink()
    assert not _early(args(), config)


def test_the_childs_log_lines_are_printed_once_before_its_error(
    workspace_nonet: Workspace, tmp_path: Path
) -> None:
    plans = tmp_path / "p.yaml"
    plans.write_text(
        "plans:\n  - {name: lonely, vantage: seg-b, targets: [seg-v]}\n"
        "  - {name: bad, vantage: seg-v, tries: 99}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    argv = ["-w", str(workspace_nonet.root), "probe", "run", "--plan", "bad"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main([*argv, *workspace_nonet.policy_args(plans)]) == 2
    lines = err.getvalue().splitlines()
    assert [line.split(":")[1] for line in lines] == [" WARNING", " ERROR", " error"], lines
    assert "plan 'lonely'" in lines[0]
    assert "no positive control" in lines[0]
    assert lines[1].startswith("edgeaudit: ERROR: plan bad skipped: ")
    assert lines[2] == f"edgeaudit: error: {plans}:3: tries must be at most 10, not 99"
