"""`edgeaudit evaluate` of the full default rule set over a demo campus of N events (default
1 M) in a fresh SQLite workspace. Target (issue 11, sessions judged over their duration):
<= 4 x a same-run `edgeaudit verify` of the same store (issue 4: <= 30 s for 1 M).

    python bench/bench_evaluate.py --events 1000000 --dir /tmp/bench-evaluate
    python bench/bench_evaluate.py --dir /tmp/bench-evaluate --reuse --profile /tmp/ev.prof

With --profile the timed evaluation also runs under cProfile and its statistics are written to
FILE (read them with ``python -m pstats FILE``); its time is then not comparable.

The campus is generated and collected first (not timed). Timed: loading the policies, every
check (Cedar decisions batched and cached), the whole-store verification of the integrity rule,
and recording the results. The baseline in the same run is `edgeaudit verify` alone (the floor
set by the integrity rule, which re-hashes every entry) and a bare read of every entry.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from edgeaudit.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]


def quiet(*argv: str) -> tuple[int, float]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(list(argv))
    return rc, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-evaluate"))
    ap.add_argument("--reuse", action="store_true", help="reuse a workspace built earlier")
    ap.add_argument("--profile", type=Path, help="profile the evaluation into this file")
    args = ap.parse_args()
    ws = args.dir / "ws"
    if not args.reuse:
        shutil.rmtree(args.dir, ignore_errors=True)
        os.environ.setdefault("EDGEAUDIT_CARD_HASH_KEY", "bench-card-key")
        assert quiet("--workspace", str(ws), "init", "--site", "blr-pod-1")[0] == 0
        rc, t = quiet(
            "demo", "campus", "--out", str(args.dir / "campus"), "--events", str(args.events)
        )
        assert rc == 0
        rc, t = quiet("--workspace", str(ws), "demo", "collect", "--out", str(args.dir / "campus"))
        assert rc == 0
        print(f"collected the campus in {t:.1f} s")
        shutil.copytree(ROOT / "policies", ws / "policies")
        assert quiet("--workspace", str(ws), "checkpoint")[0] == 0
    from edgeaudit.store import Store
    from edgeaudit.workspace import config as cfg

    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        size = log.size
        start = time.perf_counter()
        with log.reader() as reader:
            n = sum(1 for _ in reader.iter_entries())
        read = time.perf_counter() - start
    rc, verify = quiet("--workspace", str(ws), "verify")
    assert rc == 0
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    rc, evaluate = quiet("--workspace", str(ws), "evaluate", "--quarter", "2026Q3")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    assert rc in (0, 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{machine()}; store of {size} entries ({n} read)")
    print(f"read every entry   {read:6.1f} s")
    print(f"verify (baseline)  {verify:6.1f} s")
    print(
        f"evaluate           {evaluate:6.1f} s   = {evaluate / verify:.2f} x verify "
        f"(target <= 4 x)   peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
