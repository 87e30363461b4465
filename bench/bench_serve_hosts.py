"""`edgeaudit serve` on a PostgreSQL store: the cost of the shared rate limit per request.

    python bench/bench_serve_hosts.py --requests 3000 --repeat 3

Creates a scratch database on ``$EDGEAUDIT_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test; the user must be allowed to create databases),
migrates it and drops it afterwards. Times ``allow()`` in process, one key, a bucket that never
runs dry, for:

* the PostgreSQL limiter with leases of 1 (a database round trip per request) and the default
  lease (burst 40, rate 10: 5 tokens a take);
* baseline in the same run: the SQLite limiter of ``serve --workers N`` on one host
  (``serve/state.db``, one short write transaction per request).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from edgeaudit.serve.state import SharedRateLimiter, StateDb
from edgeaudit.serve.state_pg import PgRateLimiter
from edgeaudit.store import Store

PG = "postgresql://postgres@127.0.0.1:5432/test"


def rate(allow: Callable[[str], float | None], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        assert allow("k") is None
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    admin_url = make_url(os.environ.get("EDGEAUDIT_TEST_PG_URL", PG))
    name = f"edgeaudit_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        host=admin_url.host, port=admin_url.port, user=admin_url.username,
        password=admin_url.password, dbname=admin_url.database, autocommit=True,
    )  # fmt: skip
    admin.execute(f'CREATE DATABASE "{name}"')
    results: dict[str, list[float]] = {"pg lease 1": [], "pg lease 5": [], "sqlite": []}
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        with Store.open(url, upgrade=True) as store, tempfile.TemporaryDirectory() as tmp:
            db = StateDb(Path(tmp) / "state.db")
            for _ in range(args.repeat):
                big = 10**9
                results["pg lease 1"].append(
                    rate(PgRateLimiter(store.engine, 1e6, big, lease=1).allow, args.requests)
                )
                results["pg lease 5"].append(
                    rate(PgRateLimiter(store.engine, 1e6, big, lease=5).allow, args.requests)
                )
                results["sqlite"].append(rate(SharedRateLimiter(db, 1e6, big).allow, args.requests))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for k, v in results.items():
        print(
            f"{k:12} median {statistics.median(v):7.0f} requests/s",
            "(" + ", ".join(f"{x:.0f}" for x in v) + ")",
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
