"""Full verify of a store vs merely SHA-256-hashing the same entry bytes, in the same run.

Target: verify within 1.5x of the baseline that reads every entry's bytes from the same store
and hashes them (the least any verifier must do). The in-memory hashing time is printed too.

    python bench/bench_verify.py --db sqlite:////tmp/bench.db          # filled by bench_append
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.note.signer import Ed25519Signer
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import Store
from edgeaudit.verify import verify_log

ORIGIN = "bench.example.net/append"


def _bench_signer(path: Path) -> Ed25519Signer:
    """A throwaway key for benchmark stores, kept so a store can be verified again."""
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return Ed25519Signer(ORIGIN, key)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--key-file",
        default=str(Path(tempfile.gettempdir()) / "edgeaudit-bench-key.pem"),
        help="bench-only signing key, created (mode 0600) on first use",
    )
    args = ap.parse_args()
    with Store.open(args.db) as store:
        log = store.log(ORIGIN)
        signer = _bench_signer(Path(args.key_file))
        log.sign_checkpoint(signer)  # verify then checks a real signed checkpoint
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
