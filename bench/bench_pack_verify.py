"""verify PACK of one pack against the floor, read + SHA-256 of its files, in the same run.

    python bench/bench_pack_verify.py --ws DIR/ws --pack DIR/site-... [--rounds 3]

Run it twice, once with ``PYTHONPATH`` at an unpacked older commit (``git archive C edgeaudit |
tar -x -C /tmp/base``), alternating, to compare two verifiers on the same pack and machine load
(an older verifier may report problems it does not know are fine: its time is still its time).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from edgeaudit.note.verifier import Verifier
from edgeaudit.verify.pack import verify_pack
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.workspace import config as cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ws", required=True)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    config = cfg.load(Path(args.ws))
    keys = [Verifier.parse(config.verifier_key)]
    mkey = ManifestKey.load(str(Path(args.ws) / "keys" / "manifest.pub"))
    pack = Path(args.pack)
    sizes = {p.name: p.stat().st_size for p in pack.iterdir()}
    total, evidence = sum(sizes.values()), sizes.get("evidence.jsonl", 0)
    print(
        f"pack {total / 1e6:.1f} MB = {total / max(evidence, 1):.3f} x evidence.jsonl "
        f"({evidence / 1e6:.1f} MB); proofs.jsonl {sizes.get('proofs.jsonl', 0) / 1e6:.3f} MB"
    )
    for r in range(args.rounds):
        t0 = time.perf_counter()
        for p in sorted(pack.iterdir()):
            h = hashlib.sha256()
            with p.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify_pack(pack, keys, mkey)
        secs = time.perf_counter() - t0
        print(
            f"round {r + 1}: verify {report.entries} entries {secs:.2f} s (ok={report.ok}), "
            f"read + SHA-256 of the files {floor:.2f} s, ratio {secs / floor:.1f}"
        )


if __name__ == "__main__":
    main()
