"""What the per-source daily summaries cost at append: ``summaries.summarize`` over N entries in
batches of 10 000, and appends of N events with the summaries kept and with them switched off
(alternating, in fresh SQLite stores).

    python bench/bench_source_days.py --n 200000 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import events, machine

from edgeaudit.events import prepare
from edgeaudit.store import Store, summaries

BATCH = 10_000


def append_rate(n: int, keep: bool) -> float:
    real = summaries.summarize, summaries.upsert
    if not keep:
        summaries.summarize = lambda rows: {}  # type: ignore[assignment]
        summaries.upsert = lambda conn, log_id, batch: None  # type: ignore[assignment]
    try:
        with (
            tempfile.TemporaryDirectory() as d,
            Store.open(f"sqlite:///{d}/store.db", upgrade=True) as store,
        ):
            log = store.log("bench.example/source-days", create=True)
            evs = list(events(0, n))
            start = time.perf_counter()
            for k in range(0, n, BATCH):
                log.append([prepare(e) for e in evs[k : k + BATCH]])
            return n / (time.perf_counter() - start)
    finally:
        summaries.summarize, summaries.upsert = real


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(machine())
    rows = [
        (i, f"2026-07-{1 + i * 30 // args.n:02d}T10:00:{i % 60:02d}Z", ("syslog", "vault")[i % 2])
        for i in range(args.n)
    ]
    start = time.perf_counter()
    for k in range(0, args.n, BATCH):
        summaries.summarize(rows[k : k + BATCH])
    took = time.perf_counter() - start
    print(f"summarize {args.n} entries: {took:.2f} s ({took / args.n * 1e6:.2f} us each)")
    for r in range(args.rounds):
        off, on = append_rate(args.n, False), append_rate(args.n, True)
        print(f"round {r + 1}: append without summaries {off:,.0f}/s, with {on:,.0f}/s")


if __name__ == "__main__":
    main()
