"""Append N events through the public API (prepare + EvidenceLog.append), hashing and tree
included, on SQLite or PostgreSQL. Target: >= 100 k/s SQLite, >= 80 k/s PostgreSQL.

    python bench/bench_append.py --db sqlite:////tmp/bench.db --n 1000000
    python bench/bench_append.py --db postgresql://postgres@127.0.0.1/bench --n 1000000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, events, machine

from edgeaudit.events import prepare
from edgeaudit.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, help="an EMPTY database (the schema is created)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    args = ap.parse_args()
    with Store.open(args.db, upgrade=True) as store:
        log = store.log("bench.example.net/append", create=True)
        if log.size:
            sys.exit("the benchmark needs an empty store")
        prep = 0.0
        with Timer() as total:
            for start in range(0, args.n, args.batch):
                with Timer() as t:
                    batch = [prepare(e) for e in events(start, min(args.batch, args.n - start))]
                prep += t.seconds
                log.append(batch)
        print(f"machine: {machine()}, backend {store.backend}")
        print(
            f"append {args.n} events in batches of {args.batch}: {total.seconds:.2f} s = "
            f"{args.n / total.seconds:,.0f} events/s "
            f"(validate+canonicalize {prep:.2f} s, store {total.seconds - prep:.2f} s)"
        )


if __name__ == "__main__":
    main()
