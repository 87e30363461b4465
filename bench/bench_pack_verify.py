"""verify PACK of one pack against the floor, read + SHA-256 of its files, in the same run.

    python bench/bench_pack_verify.py --ws DIR/ws --pack DIR/site-... [--rounds 3]
        [--base /tmp/base] [--process]

In process (``verify_pack``), and with ``--process`` also as a whole process (``edgeaudit
verify PACK --key ... --manifest-key ...``, one process and with the helper forced:
``EDGEAUDIT_VERIFY_WORKERS=1`` and ``=2``) against the floor as a process (a Python process
that reads and SHA-256-hashes the pack's files). ``--base DIR``: also the verifier of an older
commit unpacked there (``git archive C edgeaudit | tar -x -C DIR``), alternating with this one;
``--tree DIR``: the verifier timed as this one (e.g. a commit with only some changes applied,
while others work in the checkout).
Each tree is run as ``python -S -P -c`` with ``PYTHONPATH=TREE:SITE-PACKAGES`` from ``/``: the
same dependencies, and neither the working directory (a checkout there would shadow
``PYTHONPATH`` for ``python -c``) nor the editable install's import hook decides which
``edgeaudit`` runs. An older verifier may report problems it does not know are fine: its time
is still its time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_FLOOR = """
import hashlib, os, sys
for name in sorted(os.listdir(sys.argv[1])):
    h = hashlib.sha256()
    with open(os.path.join(sys.argv[1], name), "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
"""
_IN_PROCESS = """
import sys, time
from pathlib import Path
from edgeaudit.note.verifier import Verifier
from edgeaudit.verify.pack import verify_pack
from edgeaudit.verify.pack_key import ManifestKey
keys = [Verifier.parse(Path(sys.argv[2]).read_text().strip())]
mkey = ManifestKey.load(sys.argv[3])
t0, c0 = time.perf_counter(), time.process_time()
report = verify_pack(Path(sys.argv[1]), keys, mkey)
print(report.entries, report.ok, time.perf_counter() - t0, time.process_time() - c0)
"""
_CLI = (
    "import sys; from edgeaudit.cli.main import main; sys.argv[0] = 'edgeaudit'; sys.exit(main())"
)


def _python(tree: Path, code: str, *args: str, workers: str = "1") -> subprocess.Popen[bytes]:
    site = sysconfig.get_paths()["purelib"]
    env = {
        **os.environ,
        "PYTHONPATH": f"{tree}{os.pathsep}{site}",
        "EDGEAUDIT_VERIFY_WORKERS": workers,
    }
    return subprocess.Popen(
        [sys.executable, "-S", "-P", "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )


def _timed(proc: subprocess.Popen[bytes]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, its output)."""
    t0 = time.perf_counter()
    before = os.times()
    out, _ = proc.communicate()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return time.perf_counter() - t0, cpu, out.decode().strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ws", required=True)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", help="an older commit's edgeaudit, unpacked here")
    ap.add_argument("--tree", help="the edgeaudit timed as 'this' (default: this checkout)")
    ap.add_argument("--process", action="store_true", help="also time whole processes")
    args = ap.parse_args()
    ws, pack = Path(args.ws), Path(args.pack)
    vkey = ws.parent / "log.vkey"
    if not vkey.is_file():
        sys.path.insert(0, str(ROOT))
        from edgeaudit.workspace import config as cfg

        vkey.write_text(cfg.load(ws).verifier_key + "\n")
    mkey = ws / "keys" / "manifest.pub"
    sizes = {p.name: p.stat().st_size for p in pack.iterdir()}
    total, evidence = sum(sizes.values()), sizes.get("evidence.jsonl", 0)
    print(
        f"pack {total / 1e6:.1f} MB = {total / max(evidence, 1):.3f} x evidence.jsonl "
        f"({evidence / 1e6:.1f} MB); proofs.jsonl {sizes.get('proofs.jsonl', 0) / 1e6:.3f} MB; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    trees = [("this", Path(args.tree) if args.tree else ROOT)] + (
        [("base", Path(args.base))] if args.base else []
    )
    cli = [str(pack), "--key", str(vkey), "--manifest-key", str(mkey)]
    for r in range(args.rounds):
        floor, floor_cpu, _ = _timed(_python(ROOT, _FLOOR, str(pack)))
        line = [
            f"round {r + 1} (load {os.getloadavg()[0]:.1f}): floor (read + SHA-256 of the files "
            f"as a process) {floor:.2f} s (CPU {floor_cpu:.2f})"
        ]
        for name, tree in trees:
            wall, cpu, out = _timed(_python(tree, _IN_PROCESS, str(pack), str(vkey), str(mkey)))
            entries, ok, inner, inner_cpu = out.split()
            line.append(
                f"{name} verify_pack {float(inner):.2f} s (CPU {float(inner_cpu):.2f}, "
                f"{entries} entries, ok={ok})"
            )
            if args.process:
                for workers in ("1", "2") if name == "this" else ("1",):
                    wall, cpu, _ = _timed(_python(tree, _CLI, "verify", *cli, workers=workers))
                    line.append(
                        f"{name} process, workers {workers}: {wall:.2f} s (CPU {cpu:.2f}), "
                        f"{wall / floor:.1f} x floor"
                    )
        print("\n  ".join(line))


if __name__ == "__main__":
    main()
