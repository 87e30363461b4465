"""Full verify of a store vs merely SHA-256-hashing the same entry bytes, in the same run.

Target: verify within 1.5x of the baseline that reads every entry's bytes from the same store
and hashes them (the least any verifier must do). The in-memory hashing time is printed too.

    python bench/bench_verify.py --db sqlite:////tmp/bench.db          # filled by bench_append
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, machine

from edgeaudit.note.signer import generate
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import Store
from edgeaudit.verify import verify_log

ORIGIN = "bench.example.net/append"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with Store.open(args.db) as store:
        log = store.log(ORIGIN)
        signer = generate(ORIGIN)  # a bench-only key: sign the current tree so verify checks it
        for cp in log.checkpoints():
            sys.exit(f"store already has a checkpoint of size {cp.tree_size}; use a fresh one")
        log.sign_checkpoint(signer)
        verifiers = [Verifier.parse(signer.verifier_key)]
        n = log.size
        print(f"machine: {machine()}, backend {store.backend}, {n} entries")
        for r in range(args.rounds):
            bodies: list[bytes] = []
            with Timer() as read_hash, log.reader() as reader:
                sha = hashlib.sha256
                for _idx, body, _leaf, _chain in reader.iter_entries():
                    sha(body).digest()
                    if r == 0 and len(bodies) < 1_000_000:
                        bodies.append(body)
            if r == 0:
                mem_bodies = bodies
            with Timer() as mem:
                for body in mem_bodies:
                    hashlib.sha256(body).digest()
            with Timer() as full:
                report = verify_log(log, verifiers)
            assert report.ok, report.problems
            print(
                f"round {r + 1}: verify {full.seconds:.2f} s | baseline read+SHA-256 "
                f"{read_hash.seconds:.2f} s -> ratio {full.seconds / read_hash.seconds:.2f} | "
                f"SHA-256 of the bytes in memory {mem.seconds:.2f} s"
            )


if __name__ == "__main__":
    main()
