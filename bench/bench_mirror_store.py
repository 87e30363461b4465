"""The store side of a mirror sync against a same-run append, both into PostgreSQL.

1. Baseline: ``bench_append``'s loop (the same synthetic events, prepare + EvidenceLog.append in
   batches of 10 000) into a fresh database: the pod.
2. Mirror: the pod's stored entry bytes, read back ``--batch`` at a time (not timed: the mirror
   client fetches them over HTTP), stored through ``MirroredLog.extend`` into a second fresh
   database: every entry re-parsed and checked canonical, leaf and chain hashes, tiles, source
   days and the rows (COPY) in one transaction per batch. Then the pod's checkpoint is held,
   which recomputes its root from the mirror's tiles.

Each round runs both on fresh databases created on the server of ``--pg`` (dropped
afterwards), so rounds interleave append and mirror. Only this process's calls are timed; the
PostgreSQL server works meanwhile on the same CPUs (the load average is printed).

    python bench/bench_mirror_store.py --pg postgresql://postgres@127.0.0.1/postgres --n 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import Timer, events, machine
from sqlalchemy.engine import make_url

from edgeaudit.events import prepare
from edgeaudit.note.signer import generate
from edgeaudit.store import Store

ORIGIN = "bench.example.net/append"


@contextmanager
def scratch_database(server: str, suffix: str) -> Iterator[str]:
    url = make_url(server)
    name = f"edgeaudit_bench_{uuid.uuid4().hex[:8]}_{suffix}"
    admin = psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    )
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def server_cpu(url: str) -> float:
    """CPU seconds (user + system) of the PostgreSQL backends serving the database of ``url``
    so far (their process titles name it; a local server only, else 0)."""
    name = make_url(url).database or ""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes()
            if b"postgres" not in title or f" {name} ".encode() not in title:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_append(store: Store, n: int, batch_size: int) -> float:
    """``bench_append``'s loop; returns the timed seconds (prepare + append)."""
    log = store.log(ORIGIN, create=True)
    total = 0.0
    for start in range(0, n, batch_size):
        batch = []
        end = min(start + batch_size, n)
        for chunk in range(start, end, 100):
            raw = list(events(chunk, min(100, end - chunk)))
            with Timer() as t:
                batch += [prepare(e) for e in raw]
            total += t.seconds
        with Timer() as a:
            log.append(batch)
        total += a.seconds
    return total


def bench_mirror(pod: Store, central: Store, n: int, batch_size: int) -> tuple[float, float, float]:
    """Mirror the pod's log; returns (seconds in extend, process CPU seconds in extend,
    seconds holding the checkpoint)."""
    mirror = central.mirror(ORIGIN, create=True)
    total = cpu = 0.0
    with pod.log(ORIGIN).reader() as reader:
        for start in range(0, n, batch_size):
            bodies = reader.entry_bodies(start, min(start + batch_size, n))
            c = time.process_time()
            with Timer() as t:
                mirror.extend(start, bodies)
            cpu += time.process_time() - c
            total += t.seconds
    cp = pod.log(ORIGIN).sign_checkpoint(generate(ORIGIN))
    with Timer() as h:
        mirror.hold_checkpoint(cp.tree_size, cp.root_hash, cp.note)
    if mirror.log.head() != pod.log(ORIGIN).head():
        sys.exit("the mirror's chain head differs from the pod's")
    return total, cpu, h.seconds


def one_round(server: str, n: int, batch: int, append_batch: int) -> tuple[float, float]:
    """(append seconds, mirror extend seconds) of one round on fresh databases."""
    with (
        scratch_database(server, "pod") as pod_url,
        scratch_database(server, "central") as central_url,
        Store.open(pod_url, upgrade=True) as pod,
        Store.open(central_url, upgrade=True) as central,
    ):
        cpu, server = time.process_time(), server_cpu(pod_url)
        appended = bench_append(pod, n, append_batch)
        cpu_append = time.process_time() - cpu
        server = server_cpu(pod_url) - server
        print(
            f"  append {n} events in batches of {append_batch}: {appended:.2f} s = "
            f"{n / appended:,.0f} events/s (process CPU {cpu_append:.2f} s, its PostgreSQL "
            f"backend {server:.2f} s); load {load()}"
        )
        server = server_cpu(central_url)
        mirrored, cpu_mirror, held = bench_mirror(pod, central, n, batch)
        server = server_cpu(central_url) - server
        print(
            f"  mirror extend {n} entries in batches of {batch}: {mirrored:.2f} s = "
            f"{n / mirrored:,.0f} entries/s (process CPU {cpu_mirror:.2f} s, its PostgreSQL "
            f"backend {server:.2f} s); hold_checkpoint {held * 1000:.1f} ms; load {load()}"
        )
    return appended, mirrored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pg", required=True, help="a PostgreSQL server URL (CREATE DATABASE)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=20_000, help="entries per extend call")
    ap.add_argument("--append-batch", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=2, help="append then mirror, this many times")
    args = ap.parse_args()
    print(f"machine: {machine()}; load before: {load()}")
    ratios = []
    for r in range(args.rounds):
        print(f"round {r + 1}:")
        appended, mirrored = one_round(args.pg, args.n, args.batch, args.append_batch)
        ratios.append(appended / mirrored)
        print(f"  mirror / append: {ratios[-1]:.2f} x")
    print(f"mirror / append, median of {args.rounds}: {statistics.median(ratios):.2f} x")


if __name__ == "__main__":
    main()
