"""Append N events through the public API (prepare + EvidenceLog.append), hashing and tree
included, on SQLite or PostgreSQL. Target: >= 100 k/s SQLite, >= 80 k/s PostgreSQL.
Generating the synthetic input dicts is not timed; validating, canonicalizing, hashing, the
tree and the database are.

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
        prep = total = 0.0
        for start in range(0, args.n, args.batch):
            batch = []
            end = min(start + args.batch, args.n)
            for chunk in range(start, end, 100):
                # Input comes in small chunks, as from a parser, and is prepared while it is
                # still in the CPU cache; making the synthetic dicts is not timed.
                raw = list(events(chunk, min(100, end - chunk)))
                with Timer() as t:
                    batch += [prepare(e) for e in raw]
                prep += t.seconds
            with Timer() as a:
                log.append(batch)
            total += a.seconds
        print(f"machine: {machine()}, backend {store.backend}")
        print(
            f"append {args.n} events in batches of {args.batch}: {prep + total:.2f} s = "
            f"{args.n / (prep + total):,.0f} events/s "
            f"(validate+canonicalize {prep:.2f} s, store {total:.2f} s)"
        )


if __name__ == "__main__":
    main()
