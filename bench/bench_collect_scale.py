"""Collector throughput and peak memory at two input sizes, for this checkout and optionally a
baseline tree in the same run (the machine is shared and noisy: compare within one run).

Each measurement is a fresh `edgeaudit` process (its peak RSS from wait4, which covers the
parse worker too: Linux reports the largest of the process and its reaped children) on a
fresh SQLite workspace:

* syslog: `edgeaudit collect syslog` of N auth lines (bench_collect.py's generator);
* campus: `edgeaudit demo collect` of a demo campus of N events (all formats).

    git archive HEAD~3 | tar -x -C /tmp/base   # e.g. the commit before a change
    python bench/bench_collect_scale.py --sizes 200000 1000000 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from bench_collect import write_lines

ROOT = Path(__file__).resolve().parents[1]
# -P: no current directory in sys.path, so PYTHONPATH alone picks the tree under test
EDGEAUDIT = [sys.executable, "-P", "-c", "import sys; from edgeaudit.cli.main import main; "
             "sys.exit(main(sys.argv[1:]))"]  # fmt: skip


def run(argv: list[str], tree: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB, stdout) of one edgeaudit command run from ``tree``; the CPU
    seconds (user + system, the parse worker's included) go to ``run.cpu``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [*EDGEAUDIT, *argv], env=env, stdout=subprocess.PIPE, text=True, cwd=tree
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.cpu = usage.ru_utime + usage.ru_stime  # type: ignore[attr-defined]
    if proc.returncode != 0:
        sys.exit(f"edgeaudit {' '.join(argv)} failed with {proc.returncode}")
    return seconds, usage.ru_maxrss >> 10, out


def workspace(base: Path, tree: Path) -> str:
    ws = base / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    run(["--workspace", str(ws), "init", "--site", "bench"], tree)
    return str(ws)


def syslog(base: Path, tree: Path, n: int) -> str:
    log = base / f"auth-{n}.log"
    if not log.exists():
        write_lines(log, n)
    ws = workspace(base, tree)
    argv = ["--workspace", ws, "collect", "syslog", str(log), "--json", "--inventory",
            str(ROOT / "policies" / "inventory.yaml"), "--timezone", "Asia/Kolkata",
            "--year", "2026"]  # fmt: skip
    seconds, rss, out = run(argv, tree)
    s = json.loads(out)
    return (
        f"syslog {n:>9} lines: {seconds:6.1f} s = {n / seconds:>8,.0f} lines/s "
        f"({s['appended']} appended), CPU {run.cpu:.1f} s, peak RSS {rss} MiB"  # type: ignore[attr-defined]
    )


def campus(base: Path, tree: Path, n: int) -> str:
    out_dir = base / f"campus-{n}"
    if not (out_dir / "manifest.json").exists():
        run(["demo", "campus", "--out", str(out_dir), "--events", str(n)], ROOT)
    ws = workspace(base, tree)
    seconds, rss, out = run(["--workspace", ws, "demo", "collect", "--out", str(out_dir),
                             "--json"], tree)  # fmt: skip
    t = json.loads(out)["totals"]
    return (
        f"campus {n:>9} events: {seconds:6.1f} s = {t['appended'] / seconds:>8,.0f} events/s "
        f"({t['appended']} appended from {t['read']} records, {t['quarantined']} quarantined), "
        f"CPU {run.cpu:.1f} s, peak RSS {rss} MiB"  # type: ignore[attr-defined]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    ap.add_argument("--dir", default="/tmp/bench-collect-scale")
    ap.add_argument("--baseline", help="another source tree (e.g. from git archive) to compare")
    ap.add_argument("--only", choices=["syslog", "campus"])
    args = ap.parse_args()
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.append(("baseline", Path(args.baseline)))
    print(f"machine: {machine()}, SQLite, {time.strftime('%Y-%m-%d %H:%M')}")
    for n in args.sizes:
        for what in ("syslog", "campus"):
            if args.only and what != args.only:
                continue
            for label, tree in trees:
                line = (syslog if what == "syslog" else campus)(base, tree, n)
                print(f"{label:>9}: {line}", flush=True)


if __name__ == "__main__":
    main()
