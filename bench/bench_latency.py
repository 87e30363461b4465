"""One event appended and covered by a signed checkpoint: latency per round. Target p99 <= 0.5 s.

Each round appends a single event and signs a checkpoint over it (one transaction each), as a
collector would for an urgent event, on an existing store.

    python bench/bench_latency.py --db sqlite:////tmp/bench-latency.db --rounds 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import event, machine

from edgeaudit.events import prepare
from edgeaudit.note.signer import generate
from edgeaudit.store import Store

ORIGIN = "bench.example.net/latency"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--prefill", type=int, default=100_000)
    args = ap.parse_args()
    signer = generate(ORIGIN)
    with Store.open(args.db, upgrade=True) as store:
        log = store.log(ORIGIN, create=True)
        start = log.size
        for s in range(start, args.prefill, 10_000):
            log.append(prepare(event(i)) for i in range(s, min(s + 10_000, args.prefill)))
        log.sign_checkpoint(signer)
        base = log.size
        times = []
        for r in range(args.rounds):
            t = time.perf_counter()
            log.append([prepare(event(base + r))])
            cp = log.sign_checkpoint(signer)
            times.append(time.perf_counter() - t)
            assert cp.tree_size == base + r + 1
    ms = sorted(t * 1000 for t in times)
    print(f"machine: {machine()}, backend {store.backend}, log of {base} entries")
    print(
        f"append 1 event + sign checkpoint, {args.rounds} rounds: p50 {ms[len(ms) // 2]:.1f} ms,"
        f" p99 {ms[int(len(ms) * 0.99)]:.1f} ms, max {ms[-1]:.1f} ms, "
        f"mean {statistics.fmean(ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
