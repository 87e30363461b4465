"""Inclusion proofs read from the store (tiles), random indices. Target: <= 100 us each.

python bench/bench_proof.py --db sqlite:////tmp/bench.db --n 20000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.store import Store

ORIGIN = "bench.example.net/append"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    rnd = random.Random(1)
    with Store.open(args.db) as store:
        log = store.log(ORIGIN)
        size = log.size
        with log.reader() as reader:
            root = reader.root(size)
            indices = [rnd.randrange(size) for _ in range(args.n)]
            times = []
            for i in indices:
                t = time.perf_counter()
                proof = reader.inclusion_proof(i, size)
                times.append(time.perf_counter() - t)
            for i in indices[:200]:  # the proofs are real: check a sample
                verify_inclusion(reader.entry(i)[1], i, size, reader.inclusion_proof(i, size), root)
    times.sort()
    us = [t * 1e6 for t in times]
    print(f"machine: {machine()}, backend {store.backend}, tree size {size}")
    print(
        f"inclusion proof from the store ({len(proof)} hashes), {args.n} random indices: "
        f"mean {statistics.fmean(us):.0f} us, p50 {us[len(us) // 2]:.0f} us, "
        f"p99 {us[int(len(us) * 0.99)]:.0f} us"
    )


if __name__ == "__main__":
    main()
