"""`edgeaudit pack build --campus` and `verify PACK` of a campus pack (``edgeaudit-pack/3``)
against the floor, read + SHA-256 of the pack's files, in the same run. Target (ADR 0018):
verify of parts totalling 200 k entries <= 3 x the floor, as whole processes.

    python bench/bench_campus_pack.py --events 66000 --dir /tmp/bench-campus-pack [--rounds 3]
    python bench/bench_campus_pack.py --events 13400 --tenant fintech-a   # a tenant campus pack

Three pods of N synthetic events each (bench/_common.py events, appended through the store
API, a checkpoint signed) are copied into the central store as mirrors holding their signed
checkpoints (the store API `mirror sync` uses) with a `[[mirror]]` table each; the central log
holds N/10 events (not timed). Timed: the pack build (site pack of every entry, no findings,
no PDF), then, alternating, `edgeaudit verify PACK --keys FILE --manifest-key FILE` and the
floor, each as a fresh Python process; the best of each is kept. Same run baseline: a /2 pack
of one log of as many entries (its own workspace), built and verified the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import events, machine
from bench_campus_evaluate import mirror_into

from edgeaudit.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]
PODS = ("harbour", "quay", "dock")
CENTRAL = "edge.example.org/campus-office"
PERIOD = ("--from", "2023-11-01T00:00:00Z", "--to", "2024-02-01T00:00:00Z")  # every event
_FLOOR = """
import hashlib, os, sys
for name in sorted(os.listdir(sys.argv[1])):
    h = hashlib.sha256()
    with open(os.path.join(sys.argv[1], name), "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
"""


def quiet(*argv: str) -> tuple[int, float]:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = cli(list(argv))
    return rc, time.perf_counter() - start


def workspace(ws: Path, origin: str, count: int, first: int) -> str:
    """A workspace whose log holds ``count`` synthetic events, signed; its verifier key."""
    argv = ["--workspace", str(ws), "init", "--site", origin.rsplit("/", 1)[1], "--origin", origin]
    assert quiet(*argv)[0] == 0
    from edgeaudit.events import prepare
    from edgeaudit.store import Store
    from edgeaudit.workspace import config as cfg

    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        for lo in range(first, first + count, 20_000):
            n = min(20_000, first + count - lo)
            log.append(
                [prepare(e, fingerprint=f"bench:{lo}:{j}") for j, e in enumerate(events(lo, n))]
            )
    assert quiet("--workspace", str(ws), "checkpoint")[0] == 0
    return config.verifier_key


def timed(argv: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd="/")
    took = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=66_000, help="synthetic events per pod")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-campus-pack"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tenant", help="a tenant campus pack (policies/inventory.yaml's tenants)")
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    central = args.dir / "central"
    keys = [workspace(central, CENTRAL, max(1, args.events // 10), 0)]
    for k, name in enumerate(PODS):
        pod = args.dir / name
        keys.append(workspace(pod, f"edge.example.org/{name}", args.events, (k + 1) * 10**7))
        mirror_into(central, pod)
    (args.dir / "campus.keys").write_text("".join(f"{k}\n" for k in keys))
    mkey = args.dir / "manifest.pub"
    assert quiet("--workspace", str(central), "pack", "key", "--out", str(mkey))[0] == 0
    out = args.dir / "campus-pack"
    tenant = (
        ["--tenant", args.tenant, "--inventory", str(ROOT / "policies" / "inventory.yaml")]
        if args.tenant
        else []
    )
    rc, build = quiet(
        "--workspace", str(central), "pack", "build", "--campus", *PERIOD, "--no-pdf",
        *tenant, "--out", str(out),
    )  # fmt: skip
    assert rc == 0
    size = sum(p.stat().st_size for p in out.iterdir())
    verify = [
        sys.executable, "-m", "edgeaudit.cli.main", "verify", str(out), "--keys",
        str(args.dir / "campus.keys"), "--manifest-key", str(mkey),
    ]  # fmt: skip
    floor = [sys.executable, "-c", _FLOOR, str(out)]
    # same-run baseline: a /2 pack of one log holding as many entries (its own workspace)
    entries = 3 * args.events + max(1, args.events // 10)
    single = args.dir / "single"
    single_key = workspace(single, "edge.example.org/single", entries, 0)
    pod = args.dir / "single-pack"
    rc, build2 = quiet(
        "--workspace", str(single), "pack", "build", *PERIOD, "--no-pdf", *tenant, "--out", str(pod)
    )
    mkey2 = args.dir / "single-manifest.pub"
    assert quiet("--workspace", str(single), "pack", "key", "--out", str(mkey2))[0] == 0
    verify2 = [
        sys.executable, "-m", "edgeaudit.cli.main", "verify", str(pod), "--key", single_key,
        "--manifest-key", str(mkey2),
    ]  # fmt: skip
    floor2 = [sys.executable, "-c", _FLOOR, str(pod)]
    best_v = best_f = best_v2 = best_f2 = float("inf")
    for _ in range(args.rounds):
        best_v = min(best_v, timed(verify))
        best_f = min(best_f, timed(floor))
        if rc == 0:
            best_v2 = min(best_v2, timed(verify2))
            best_f2 = min(best_f2, timed(floor2))
    print(f"{machine()}; load {os.getloadavg()[0]:.2f}")
    shown = sum(
        len(f.read_bytes().splitlines()) for f in out.iterdir() if f.name.endswith("evidence.jsonl")
    )
    print(
        f"campus pack{' of tenant ' + args.tenant if args.tenant else ''}: {shown} of {entries} "
        f"entries in 4 logs, {size / 1e6:.1f} MB; build {build:.2f} s"
    )
    print(
        f"verify PACK {best_v:.2f} s, floor (read + SHA-256 as a process) {best_f:.2f} s: "
        f"{best_v / best_f:.2f} x (target <= 3 x)"
    )
    if rc == 0:
        print(
            f"same run, a /2 pack{' of the tenant' if args.tenant else ''} of one log of "
            f"{entries} entries: build {build2:.2f} s, "
            f"verify {best_v2:.2f} s, floor {best_f2:.2f} s: {best_v2 / best_f2:.2f} x"
        )
    else:
        print(f"(no /2 baseline: its pack build exited {rc})")


if __name__ == "__main__":
    main()
