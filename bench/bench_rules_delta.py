"""What some rules add to `edgeaudit evaluate`: the full rule set of `policies/` against the same
set with the named rules switched off, alternating, beside a same-run `edgeaudit verify`, on a
workspace built by bench_evaluate.py (its store and policies are not changed; results are not
recorded). With no --rules it times only `verify` and the full `evaluate`. Each time is the
wall clock and, in brackets, the CPU seconds of the process and its children (the evaluation's
background verification included): on a shared, busy machine the CPU seconds compare runs
better than the wall clock.

    python bench/bench_rules_delta.py --ws /tmp/bench-evaluate/ws --rounds 3
    python bench/bench_rules_delta.py --ws /tmp/bench-evaluate/ws --rounds 3 \\
        --rules data-residency evidence-retention clock-sync log-review-daily \\
        key-administration vault-root-token leaver-activity tenant-access-review \\
        incident-reporting
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from edgeaudit.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> float:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(*argv: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command."""
    start, used = time.perf_counter(), cpu()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli(list(argv))
    return time.perf_counter() - start, cpu() - used


def said(t: tuple[float, float]) -> str:
    return f"{t[0]:.1f} s [{t[1]:.1f} s CPU]"


def without(policies: Path, rules: list[str], dest: Path) -> Path:
    shutil.copytree(policies, dest)
    text = (dest / "rules.yaml").read_text(encoding="utf-8")
    for rid in rules:
        pattern = rf"(?m)^  - id: {re.escape(rid)}\n"
        if not re.search(pattern, text):
            raise SystemExit(f"rule {rid} is not in {policies / 'rules.yaml'}")
        text = re.sub(pattern, f"  - id: {rid}\n    enabled: false\n", text)
    (dest / "rules.yaml").write_text(text, encoding="utf-8")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", type=Path, required=True)
    ap.add_argument("--rules", nargs="*", default=[])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policies", type=Path, default=ROOT / "policies")
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        off = without(args.policies, args.rules, Path(tmp) / "policies")
        ev = ["--workspace", str(args.ws), "evaluate", "--quarter", "2026Q3", "--no-record"]
        for r in range(args.rounds):
            v = timed("--workspace", str(args.ws), "verify")
            full = timed(*ev, "--policies", str(args.policies))
            line = (
                f"round {r + 1}: verify {said(v)}; evaluate {said(full)} ({full[0] / v[0]:.2f} x)"
            )
            if args.rules:
                rest = timed(*ev, "--policies", str(off))
                line += (
                    f"; without the {len(args.rules)} rules {said(rest)} "
                    f"({rest[0] / v[0]:.2f} x); they add {full[0] - rest[0]:+.1f} s"
                )
            print(line)


if __name__ == "__main__":
    main()
