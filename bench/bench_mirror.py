"""``edgeaudit mirror sync`` of N entries from a real ``edgeaudit serve`` into PostgreSQL, every
hash checked, against a same-run append of the same entries into PostgreSQL.

Set-up (not timed): a pod workspace on SQLite holding N synthetic events (``bench_append``'s
events) and a signed checkpoint, served by a real ``edgeaudit serve`` process on loopback
(``--rate 0``: no per-token limit; no access log), and an auditor token.

Each round, on fresh databases created on the server of ``--pg`` (dropped afterwards):

1. baseline: ``bench_append``'s loop (prepare + ``EvidenceLog.append`` in batches of 10 000) of
   the same events into one database, in this process;
2. mirror: a central workspace on another database, ``mirror add`` (not timed), then
   ``edgeaudit mirror sync --rate 0`` as its own process, timed from start to exit: the
   checkpoint verified, the hash tiles authenticated against its root, every entry bundle
   fetched (gzip) with the token, every leaf hash checked against its tile, every entry stored
   (re-parsed, chain, tiles, COPY) and the checkpoint held.

The pod's server, PostgreSQL and both clients share the machine's CPUs: the mirror's wall time
includes the pod serving 1 bundle per 256 entries (and recording each read as an access.read
entry in its own log). The load average is printed.

    python bench/bench_mirror.py --n 1000000
    python bench/bench_mirror.py --n 200000 --rounds 2      # quick
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import Timer, events, machine
from sqlalchemy.engine import make_url

from edgeaudit.cli.main import main as cli
from edgeaudit.events import prepare
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.signing import sign_checkpoint

REPO = Path(__file__).resolve().parents[1]
BATCH = 10_000


def run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(list(argv))
    if code:
        sys.exit(f"edgeaudit {' '.join(argv)}: exit {code}")
    return out.getvalue()


@contextmanager
def database(admin: str) -> Iterator[str]:
    name = f"bench_mirror_{uuid.uuid4().hex[:10]}"
    url = make_url(admin)
    conn = psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def make_pod(ws: Path, n: int) -> cfg.WorkspaceConfig:
    run("--workspace", str(ws), "init", "--site", "bench-pod")
    shutil.copytree(REPO / "policies", ws / "policies")
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        for start in range(0, n, BATCH):
            log.append([prepare(e) for e in events(start, min(BATCH, n - start))])
        sign_checkpoint(config, log)
    return config


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(ws: Path) -> Iterator[tuple[str, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    argv = ["--workspace", str(ws), "serve", "--port", str(port), "--no-pdf"]
    argv += ["--rate", "0", "--no-access-log"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeaudit.cli.main", *argv], env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/checkpoint", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("serve did not start")
                time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def append_round(admin: str, n: int) -> float:
    with database(admin) as db, Store.open(db, upgrade=True) as store:
        log = store.log("bench.example.net/append", create=True)
        cpu = time.process_time()
        with Timer() as t:
            for start in range(0, n, BATCH):
                log.append([prepare(e) for e in events(start, min(BATCH, n - start))])
        assert log.size == n
        print(f"  append: process CPU {time.process_time() - cpu:.1f} s")
        return t.seconds


def mirror_round(
    admin: str, root: Path, pod: cfg.WorkspaceConfig, url: str, pid: int, n: int
) -> float:
    with database(admin) as db:
        ws = root / f"central-{uuid.uuid4().hex[:6]}"
        run("--workspace", str(ws), "init", "--site", "central", "--db", db)
        run("--workspace", str(ws), "mirror", "add", url, "--key", pod.verifier_key,
            "--token-env", "BENCH_POD_TOKEN")  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
        argv = ["--workspace", str(ws), "--json", "mirror", "sync", "--rate", "0"]
        server, children = cpu_of(pid), os.times()
        with Timer() as t:
            done = subprocess.run(
                [sys.executable, "-m", "edgeaudit.cli.main", *argv],
                env=env,
                capture_output=True,
                check=False,
            )
        if done.returncode:
            sys.exit(f"mirror sync: exit {done.returncode}: {done.stdout!r} {done.stderr[-500:]!r}")
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])["mirrors"][0]
        assert (result["status"], result["held_size"]) == ("synced", n), result
        after = os.times()
        sync_cpu = after.children_user + after.children_system
        sync_cpu -= children.children_user + children.children_system
        print(
            f"  mirror: {result['requests']} requests, {t.seconds:.2f} s; CPU: sync process "
            f"{sync_cpu:.1f} s, pod server {cpu_of(pid) - server:.1f} s"
        )
        shutil.rmtree(ws)
        return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--dir", help="scratch directory (default: a temporary one)")
    args = ap.parse_args()
    for var in (cfg.ENV_WORKSPACE, cfg.ENV_DB_URL):
        os.environ.pop(var, None)
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-mirror-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; load average {os.getloadavg()}")
    with Timer() as t:
        pod = make_pod(root / "pod", args.n)
    print(f"pod: {args.n:,} entries appended and signed on SQLite in {t.seconds:.1f} s (untimed)")
    token = run(
        "--workspace", str(root / "pod"), "token", "issue", "--role", "auditor", "--ttl", "1d"
    )
    os.environ["BENCH_POD_TOKEN"] = token.strip().splitlines()[-1]
    appends: list[float] = []
    mirrors: list[float] = []
    with serve(root / "pod") as (url, pid):
        for r in range(args.rounds):
            appends.append(append_round(args.pg, args.n))
            print(f"round {r + 1}: append {appends[-1]:.2f} s; load {os.getloadavg()}")
            mirrors.append(mirror_round(args.pg, root, pod, url, pid, args.n))
            print(f"round {r + 1}: mirror sync {mirrors[-1]:.2f} s; load {os.getloadavg()}")
    a, m = min(appends), min(mirrors)
    print(
        f"append into PostgreSQL: {a:.2f} s = {args.n / a:,.0f} entries/s (best of {args.rounds})"
    )
    print(
        f"mirror sync into PostgreSQL, every hash checked: {m:.2f} s = {args.n / m:,.0f} "
        f"entries/s (best of {args.rounds})"
    )
    print(f"mirror / append throughput: {a / m:.2f} x (goal >= 0.5 x)")
    if not args.dir:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
