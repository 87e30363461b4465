"""The parse worker on and off: `collect_file` of N syslog auth lines into a fresh SQLite store,
in-process parsing vs parsing in a forked worker while this process appends, alternating in
one run (the machine is shared: compare within a run).

    python bench/bench_collect_pipeline.py --lines 200000 --rounds 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from bench_collect import write_lines

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.inventory import load_inventory
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.store import Store

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", default="/tmp/bench-collect-pipeline")
    args = ap.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    log_file = base / "auth.log"
    write_lines(log_file, args.lines)
    ctx = ParseContext(
        source="auth.log",
        inventory=load_inventory(ROOT / "policies" / "inventory.yaml"),
        timezone=ZoneInfo("Asia/Kolkata"),
        year=2026,
    )
    print(f"machine: {machine()}, SQLite, {time.strftime('%Y-%m-%d %H:%M')}")
    for r in range(args.rounds):
        for pipeline in (False, True):
            db = base / f"store-{r}-{pipeline}.db"
            with Store.open(f"sqlite:///{db}", upgrade=True) as store:
                log = store.log("bench.example.net/pipeline", create=True)
                summary = CollectSummary()
                began = time.perf_counter()
                collect_file(log, SyslogAuthParser, log_file, ctx, summary, pipeline=pipeline)
                seconds = time.perf_counter() - began
            print(
                f"round {r + 1}, {'worker' if pipeline else 'in-process':>10}: {seconds:5.1f} s = "
                f"{summary.read / seconds:>7,.0f} lines/s ({summary.appended} appended)",
                flush=True,
            )


if __name__ == "__main__":
    main()
