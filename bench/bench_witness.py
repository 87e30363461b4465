"""Witness throughput: cosignatures/s from a real `edgeaudit witness serve` on loopback.

Each log submits its own checkpoints one after the other (each extends the last cosigned one by
1-3 leaves, with its real consistency proof) over one keep-alive connection; the logs submit in
parallel, from one client process per log. The witness stores every new size durably (SQLite
WAL, synchronous=FULL) before answering, group-committing what arrives together. Targets
(issue 18): >= 500/s across 8 or more logs, >= 200/s for one log. Same-run baseline: one SQLite
transaction (fsync) per cosignature, the ceiling without group commit, measured for 2 s just
before and just after (the disk is shared and its fsync time varies).

python bench/bench_witness.py --logs 8 --per-log 250
python bench/bench_witness.py --logs 1 --per-log 1000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.canonical import leaf_hash
from edgeaudit.merkle.tree import MemoryTree, consistency_proof, root
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer
from edgeaudit.witness.client import WitnessClient
from edgeaudit.witness.protocol import format_add_checkpoint

Submission = tuple[int, list[bytes], bytes]  # old size, proof, signed note


def log_submissions(n: int, count: int) -> tuple[str, list[Submission]]:
    """A log's verifier key and ``count`` checkpoints, each with a proof from the previous."""
    signer = Ed25519Signer(f"bench.example/log{n}", Ed25519PrivateKey.generate())
    tree, old, out = MemoryTree(), 0, []
    for i in range(count):
        tree.extend(leaf_hash(f"log{n} entry {tree.size + j}".encode()) for j in range(1 + i % 3))
        cp = Checkpoint(signer.name, tree.size, root(tree.size, tree))
        proof = consistency_proof(old, tree.size, tree) if old else []
        out.append((old, proof, signer.sign_checkpoint(cp)))
        old = tree.size
    return signer.verifier_key, out


def submit(args: tuple[str, list[Submission]]) -> tuple[int, list[float]]:
    """Submit one log's checkpoints in order; (cosigned, latencies in seconds)."""
    url, subs = args
    client, lat = WitnessClient(url), []
    for old, proof, note in subs:
        t = time.perf_counter()
        client.add_checkpoint(note, old, proof)
        lat.append(time.perf_counter() - t)
    client.close()
    return len(subs), lat


def fsync_ceiling(path: Path, seconds: float = 2.0) -> float:
    """Transactions/s with one durable SQLite commit per cosignature (no group commit)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, size TEXT, root BLOB, note BLOB)")
    n, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO t VALUES ('o', ?, ?, ?) ON CONFLICT (k) DO UPDATE SET size=excluded.size",
            (str(n), os.urandom(32), os.urandom(300)),
        )
        db.execute("COMMIT")
        n += 1
    db.close()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--logs", type=int, default=8)
    ap.add_argument("--per-log", type=int, default=250)
    ap.add_argument("--dir", help="where the witness state goes (default: a temporary directory)")
    a = ap.parse_args()
    work = Path(a.dir or tempfile.mkdtemp(prefix="bench-witness-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = [log_submissions(n, a.per_log) for n in range(a.logs)]
    config = work / "witness.toml"
    cmd = [sys.executable, "-m", "edgeaudit.cli.main", "witness"]
    subprocess.run(
        [*cmd, "init", "--config", str(config), "--name", "bench.example/witness"]
        + [x for vkey, _ in logs for x in ("--log", vkey)],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [*cmd, "serve", "--config", str(config), "--port", "0"], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().rsplit(" ", 1)[1].strip()
        body_bytes = sum(len(format_add_checkpoint(*s)) for _, subs in logs for s in subs)
        before = fsync_ceiling(work / "ceiling-before.db")
        with multiprocessing.get_context("fork").Pool(a.logs) as pool:
            t = time.perf_counter()
            results = pool.map(submit, [(url, subs) for _, subs in logs])
            elapsed = time.perf_counter() - t
    finally:
        server.terminate()
        server.wait(timeout=10)
    total = sum(n for n, _ in results)
    lat = sorted(x for _, ls in results for x in ls)
    p50, p99 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
    after = fsync_ceiling(work / "ceiling-after.db")
    print(f"machine: {machine()}; witness state in {work} ({os.statvfs(work).f_bsize} B blocks)")
    print(
        f"{a.logs} log(s) x {a.per_log} checkpoints ({body_bytes / total:.0f} B requests): "
        f"{total} cosigned in {elapsed:.2f} s = {total / elapsed:.0f} cosignatures/s; "
        f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    print(
        f"baseline: one durable SQLite commit per cosignature (2 s just before / just after): "
        f"{before:.0f} / {after:.0f} commits/s"
    )


if __name__ == "__main__":
    main()
