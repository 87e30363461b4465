"""``edgeaudit collect syslog`` against ``edgeaudit append`` of the same events, whole processes,
in the same run; and the parse worker on against off under whatever load the machine has.

* collect, worker off / on: ``edgeaudit collect syslog FILE`` of N auth lines (the lines of
  ``bench_collect.py``) with the parse worker forced off or on (``EDGEAUDIT_COLLECT_WORKERS``
  ``1`` / ``2``), and as the CLI decides by itself ("collect, default");
* append: ``edgeaudit append`` of the events that collection stored (their canonical bytes,
  one per line, exported once from a first, untimed collection): the same events, prepared
  from JSON Lines instead of parsed from syslog.

Every run starts from a copy of one empty workspace. Rounds alternate the contenders; figures
are medians; the ratio is append seconds / collect seconds (collect's throughput as a fraction
of append's on the same events: higher is better). Wall, CPU (user + system of the process and
its children) and peak RSS from GNU time (``%e``, ``%U``, ``%S``, ``%M``: the largest process
of the tree).

    python bench/bench_collect_vs_append.py --lines 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from bench_collect import write_lines

ROOT = Path(__file__).resolve().parents[1]
EDGEAUDIT = [sys.executable, "-P", "-c", "import sys; from edgeaudit.cli.main import main; "
             "sys.exit(main(sys.argv[1:]))"]  # fmt: skip
TIME = "/usr/bin/time"
WORKERS_ENV = "EDGEAUDIT_COLLECT_WORKERS"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in MiB, stdout) of one process tree."""
    stats = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-cva-{os.getpid()}"
    began = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%U %S %M", "-o", str(stats), *argv], env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    user, system, rss = stats.read_text().split()[-3:]
    return seconds, float(user) + float(system), int(rss) >> 10, done.stdout


def collect_argv(ws: Path, log: Path) -> list[str]:
    return [*EDGEAUDIT, "--workspace", str(ws), "collect", "syslog", str(log), "--json",
            "--inventory", str(ROOT / "policies" / "inventory.yaml"), "--timezone",
            "Asia/Kolkata", "--year", "2026"]  # fmt: skip


def fresh(base: Path, template: Path) -> Path:
    """A copy of the empty workspace, its store at the current schema (others may add
    migrations while a long run goes on; not timed)."""
    ws = base / "run"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(template, ws)
    timed([*EDGEAUDIT, "--workspace", str(ws), "db", "upgrade"], {**os.environ,
          "PYTHONPATH": str(ROOT)})  # fmt: skip
    return ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/bench-collect-vs-append")
    ap.add_argument("--no-default", action="store_true", help="skip 'collect, default'")
    ap.add_argument("--no-append", action="store_true", help="worker on / off only")
    args = ap.parse_args()
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    template = base / "template"
    if not (template / "edgeaudit.toml").exists():
        shutil.rmtree(template, ignore_errors=True)
        timed([*EDGEAUDIT, "--workspace", str(template), "init", "--site", "bench"], env)
    log = base / f"auth-{args.lines}.log"
    if not log.exists():
        write_lines(log, args.lines)
    events = base / f"events-{args.lines}.jsonl"
    if not events.exists():  # the events collection stores, exported once (not timed)
        ws = fresh(base, template)
        timed(collect_argv(ws, log), env)
        with sqlite3.connect(ws / "evidence" / "store.db") as con, events.open("wb") as fh:
            for (body,) in con.execute("SELECT body FROM entries ORDER BY idx"):
                fh.write(bytes(body) + b"\n")
    n_events = sum(1 for _ in events.open("rb"))
    contenders = [
        ("collect, worker off", lambda ws: collect_argv(ws, log), {WORKERS_ENV: "1"}),
        ("collect, worker on", lambda ws: collect_argv(ws, log), {WORKERS_ENV: "2"}),
        ("append", lambda ws: [*EDGEAUDIT, "--workspace", str(ws), "append", "--json",
                               str(events)], {}),
    ]  # fmt: skip
    if args.no_append:
        contenders.pop()
    if not args.no_default:
        contenders.insert(2, ("collect, default", lambda ws: collect_argv(ws, log), {}))
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{args.lines} syslog lines ({log.stat().st_size >> 20} MiB) -> {n_events} events")
    results: dict[str, list[tuple[float, float, int]]] = {}
    for r in range(args.rounds):
        line = []
        for label, argv, extra in contenders:
            ws = fresh(base, template)
            load = os.getloadavg()[0]
            s, cpu, rss, out = timed(argv(ws), {**env, **extra})
            got = json.loads(out)["appended"]
            if got != n_events:
                sys.exit(f"{label}: appended {got}, expected {n_events}")
            results.setdefault(label, []).append((s, cpu, rss))
            line.append(f"{label} {s:.1f} s (CPU {cpu:.1f} s, {rss} MiB, load {load:.1f})")
        print(f"  round {r + 1}: " + " | ".join(line), flush=True)
    med = {k: statistics.median(s for s, _, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c, _ in v) for k, v in results.items()}
    peak = {k: max(m for _, _, m in v) for k, v in results.items()}
    print("  median: " + " | ".join(
        f"{k} {med[k]:.1f} s = {args.lines / med[k]:,.0f} lines/s (CPU {cpu[k]:.1f} s, "
        f"peak {peak[k]} MiB)" for k in med))  # fmt: skip
    if "append" in med:
        ratios = [f"{k} {med['append'] / med[k]:.2f}" for k in med if k != "append"]
        print("  ratio append seconds / collect seconds (same events): " + ", ".join(ratios))
        ratios = [f"{k} {cpu['append'] / cpu[k]:.2f}" for k in cpu if k != "append"]
        print("  ratio append CPU seconds / collect CPU seconds: " + ", ".join(ratios))
    off, on = results["collect, worker off"], results["collect, worker on"]
    wins = sum(b[0] < a[0] for a, b in zip(off, on, strict=True))
    print(f"  worker on faster than off (same round): {wins} of {len(on)} rounds")


if __name__ == "__main__":
    main()
