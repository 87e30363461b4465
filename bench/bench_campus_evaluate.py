"""`edgeaudit evaluate --campus` over three pods' logs and the central log in one store, against
the same-run sum of single-log evaluations of each (`evaluate --no-record --log POD` per pod,
`evaluate --no-record` of the central log). Target (ADR 0018): <= 1.25 x that sum.

    python bench/bench_campus_evaluate.py --events 30000 --dir /tmp/bench-campus-eval

Three pods (demo campuses of N events each, other seeds) are generated and collected in their
own workspaces, their entries copied into the central store as mirrors with their signed
checkpoints held (the store API `mirror sync` uses), and a `[[mirror]]` table written for
each (not timed). The central log holds a demo campus of N/10 events. Timed, each twice in
alternation (the best of each is kept): the campus evaluation (without recording) and the
four single-log evaluations.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from edgeaudit.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]
PODS = ("harbour", "quay", "dock")
CENTRAL = "edge.example.org/campus-office"
QUARTER = "2026Q3"


def quiet(*argv: str) -> tuple[int, float]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(list(argv))
    return rc, time.perf_counter() - start


def workspace(ws: Path, origin: str, events: int, seed: int, db: str | None = None) -> None:
    argv = ["--workspace", str(ws), "init", "--site", origin.rsplit("/", 1)[1], "--origin", origin]
    assert quiet(*argv, *(["--db", db] if db else []))[0] == 0
    from edgeaudit.demo import generate_campus

    generate_campus(ws / "campus", events, seed=seed)
    assert quiet("--workspace", str(ws), "demo", "collect", "--out", str(ws / "campus"))[0] == 0
    shutil.copytree(ROOT / "policies", ws / "policies")
    assert quiet("--workspace", str(ws), "checkpoint")[0] == 0


def mirror_into(central: Path, pod: Path) -> None:
    """Copy the pod's log into the central store as a mirror holding its latest checkpoint."""
    from edgeaudit.store import Store
    from edgeaudit.workspace import config as cfg
    from edgeaudit.workspace.mirrors import append_mirror, make_source

    pc, cc = cfg.load(pod), cfg.load(central)
    with Store.open(pc.db_url) as ps, Store.open(cc.db_url) as cs:
        log = ps.log(pc.origin)
        cp = log.latest_checkpoint()
        assert cp is not None
        mirror = cs.mirror(pc.origin, create=True)
        with log.reader() as reader:
            for lo in range(0, cp.tree_size, 20_000):
                bodies = reader.entry_bodies(lo, min(cp.tree_size, lo + 20_000))
                mirror.extend(lo, bodies)
        mirror.hold_checkpoint(cp.tree_size, cp.root_hash, cp.note)
    append_mirror(cc, make_source("http://127.0.0.1:9", pc.verifier_key, None, "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30_000, help="demo events per pod")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-campus-eval"))
    ap.add_argument("--db", help="the central store's URL (default: SQLite in the workspace)")
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    os.environ.setdefault("EDGEAUDIT_CARD_HASH_KEY", "bench-card-key")
    t0 = time.perf_counter()
    central = args.dir / "central"
    workspace(central, CENTRAL, max(args.events // 10, 1000), seed=100, db=args.db)
    for i, name in enumerate(PODS):
        pod = args.dir / name
        workspace(pod, f"edge.example.org/{name}", args.events, seed=101 + i)
        mirror_into(central, pod)
    print(f"built in {time.perf_counter() - t0:.0f} s; {machine()}; load {os.getloadavg()}")
    ws = ("--workspace", str(central))
    base = ("evaluate", "--quarter", QUARTER, "--no-record")
    campus: list[float] = []
    single: list[float] = []
    for _ in range(2):
        rc, t = quiet(*ws, *base, "--campus")
        assert rc in (0, 1), rc
        campus.append(t)
        total = 0.0
        for origin in (CENTRAL, *(f"edge.example.org/{n}" for n in PODS)):
            rc, t = quiet(*ws, "--log", origin, *base)
            assert rc in (0, 1), (origin, rc)
            total += t
        single.append(total)
    c, s = min(campus), min(single)
    print(f"load after: {os.getloadavg()}")
    print(f"evaluate --campus (3 pods x {args.events} events + central): {c:6.2f} s  {campus}")
    print(f"sum of 4 single-log evaluate --no-record:               {s:6.2f} s  {single}")
    print(f"ratio {c / s:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
