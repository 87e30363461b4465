"""Probe engine vs nmap on the namespace topology of the probe tests (issue 5, Performance).

A vantage namespace and a target namespace on two segments, routed by a router namespace
whose nftables forward policy accepts everything except a few dropped ports; the target
listens on a few ports (the rest are closed: the host answers RST).

1. 1000 TCP ports of the target, 3 probes per port at most: the engine (process wall time,
   and the engine alone) vs ``nmap -sS -Pn -n --max-retries 2 --min-rate 5000``, alternating,
   ``--rounds`` times each; verdicts must be identical (nmap open/closed = reachable,
   filtered = blocked).
2. All 65 535 ports at the default rate cap (10 000 packets/s), once, and nmap with
   ``--min-rate 10000`` for reference.

The engine runs with its bytecode cached, as an installed package's is (pip compiles it at
install time): a shell with ``PYTHONDONTWRITEBYTECODE`` set would make every start compile the
modules again (``--compile-each-start`` measures that). ``--base DIR`` also runs, alternating
in the same rounds, the engine of another tree (a directory holding an ``edgeaudit`` package,
e.g. ``git archive HEAD~3 edgeaudit | tar -x -C DIR``), for a before/after at equal load;
``--head DIR`` runs such a tree instead of the checkout.

``--cli N`` also times the real command, ``edgeaudit probe run`` of a plan with the same 1000
TCP ports (plus the matrix's built-in management ports, so 1002 TCP and 2 UDP probes) in a new
SQLite workspace, N times, with nmap's 1000 ports in the same rounds: the whole process, and
how much of it the engine's run took (the run's recorded start and end), the rest being
start-up, loading the policy files, opening the store and recording.

Needs root, iproute2, nftables and nmap (``scripts/_venv.sh``: ``ensure_probe_tools bench``).
Run from the repository root: ``.venv/bin/python bench/bench_probe.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import machine  # noqa: E402
from tests.probe.netns import Topology  # noqa: E402

TARGET = "198.18.20.20"
OPEN = [22, 80, 443]
DROPPED = [135, 139, 445, 3389]
RULES = f"""flush ruleset
table inet bench {{
  chain forward_policy {{
    type filter hook forward priority 0; policy accept;
    tcp dport {{ {", ".join(map(str, DROPPED))} }} drop
  }}
}}
"""


def build() -> Topology:
    t = Topology()
    t.create_router()
    t.segment("v", "198.18.10.1/24")
    t.segment("t", "198.18.20.1/24")
    t.host("v", "v", "198.18.10.10/24")
    t.host("t", "t", f"{TARGET}/24")
    t.nft(RULES)
    t.listen("t", tcp=OPEN, udp=[])
    return t


@contextlib.contextmanager
def tree(path: str | None) -> Iterator[None]:
    """Run the engine from ``path`` (an edgeaudit package's parent directory), if given."""
    before = os.environ.get("PYTHONPATH")
    if path:
        os.environ["PYTHONPATH"] = path
    try:
        yield
    finally:
        if path:
            if before is None:
                os.environ.pop("PYTHONPATH")
            else:
                os.environ["PYTHONPATH"] = before


def ours(t: Topology, first: int, last: int, rate: int) -> tuple[float, dict]:
    start = time.perf_counter()
    done = t.exec(
        "v",
        sys.executable,
        str(ROOT / "bench" / "_probe_engine.py"),
        TARGET,
        str(first),
        str(last),
        str(rate),
        "3",
        timeout=300,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(done.stderr)
    return wall, json.loads(done.stdout)


def nmap(t: Topology, ports: str, min_rate: int) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    done = t.exec(
        "v",
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "--max-retries",
        "2",
        "--min-rate",
        str(min_rate),
        "-p",
        ports,
        TARGET,
        "-oX",
        "-",
        timeout=300,
    )
    wall = time.perf_counter() - start
    root = ElementTree.fromstring(done.stdout.encode())
    verdicts: dict[str, str] = {}
    for host in root.findall("host"):
        for extra in host.findall("ports/extraports"):
            for why in extra.findall("extrareasons"):
                for part in why.get("ports", "").split(","):
                    lo, _, hi = part.partition("-")
                    for p in range(int(lo), int(hi or lo) + 1):
                        verdicts[str(p)] = extra.get("state", "")
        for port in host.findall("ports/port"):
            verdicts[port.get("portid", "")] = port.find("state").get("state", "")
    mapped = {p: "blocked" if s == "filtered" else "reachable" for p, s in verdicts.items()}
    return wall, mapped


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip-full", action="store_true", help="skip the 65 535-port sweep")
    p.add_argument("--cli", type=int, default=0, metavar="N", help="time probe run N times")
    p.add_argument("--base", metavar="DIR", help="also run the engine of the tree in DIR")
    p.add_argument("--head", metavar="DIR", help="run this tree, not the checkout's")
    p.add_argument(
        "--compile-each-start",
        action="store_true",
        help="no bytecode cache: every engine start compiles its modules (as before)",
    )
    args = p.parse_args()
    missing = [t for t in ("ip", "nft", "nmap") if shutil.which(t) is None]
    if missing:
        raise SystemExit(
            f"needs {', '.join(missing)}: as root, `. scripts/_venv.sh; ensure_probe_tools bench`"
        )
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    cache = tempfile.mkdtemp(prefix="bench-probe-pyc-")
    if not args.compile_each_start:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = cache
    t = build()
    try:
        for path in (args.base, args.head):  # warm-up: the bytecode cache, the page cache
            with tree(path):
                ours(t, 1, 1000, 10_000)
        ours_wall, ours_engine, nmap_wall = [], [], []
        ours_import: list[float] = []
        base_wall, base_engine, base_import = [], [], []
        for _ in range(args.rounds):
            if args.base:
                with tree(args.base):
                    w, r = ours(t, 1, 1000, 10_000)
                base_wall.append(w)
                base_engine.append(r["engine_s"])
                base_import.append(r["import_s"])
                base_verdicts = r["verdicts"]
            with tree(args.head):
                w, r = ours(t, 1, 1000, 10_000)
            ours_wall.append(w)
            ours_engine.append(r["engine_s"])
            ours_import.append(r["import_s"])
            nw, nv = nmap(t, "1-1000", 5000)
            nmap_wall.append(nw)
            check(nv, r["verdicts"], "nmap")
            if args.base:
                check(base_verdicts, r["verdicts"], "the base tree")
        med = statistics.median
        print(
            f"1000 ports x {args.rounds} rounds, identical verdicts in every round "
            f"({sum(v == 'blocked' for v in r['verdicts'].values())} blocked, "
            f"{sum(v == 'reachable' for v in r['verdicts'].values())} reachable); "
            f"{r['packets']} packets"
        )
        print(
            f"  edgeaudit process wall: median {med(ours_wall):.3f} s "
            f"(min {min(ours_wall):.3f}, max {max(ours_wall):.3f}); "
            f"engine alone median {med(ours_engine):.3f} s; imports median {med(ours_import):.3f} s"
            + ("" if args.compile_each_start else " (bytecode cached)")
        )
        if args.base:
            print(
                f"  before ({args.base}): process wall: median {med(base_wall):.3f} s "
                f"(min {min(base_wall):.3f}, max {max(base_wall):.3f}); engine alone median "
                f"{med(base_engine):.3f} s; imports median {med(base_import):.3f} s; "
                f"ratio process/nmap {med(base_wall) / med(nmap_wall):.2f}"
            )
        print(
            f"  nmap wall:              median {med(nmap_wall):.3f} s "
            f"(min {min(nmap_wall):.3f}, max {max(nmap_wall):.3f})"
        )
        print(
            f"  ratio process/nmap {med(ours_wall) / med(nmap_wall):.2f}, "
            f"engine/nmap {med(ours_engine) / med(nmap_wall):.2f} (target <= 1.2, issue 17)"
        )
        if args.cli:
            cli(t, args.cli, [args.base, args.head] if args.base else [args.head])
        if not args.skip_full:
            with tree(args.head):
                w, r = ours(t, 1, 65535, 10_000)
            nw, nv = nmap(t, "1-65535", 10_000)
            same = "identical" if nv == r["verdicts"] else "DIFFERENT"
            print(
                f"65535 ports, default rate cap 10 000/s: edgeaudit process {w:.2f} s "
                f"(engine {r['engine_s']:.2f} s, {r['packets']} packets); "
                f"nmap --min-rate 10000 {nw:.2f} s; verdicts {same} (target <= 10 s)"
            )
    finally:
        t.destroy()
        shutil.rmtree(cache, ignore_errors=True)


INVENTORY = f"""site: {{name: bench}}
tenants:
  - {{id: tenant-v, name: V}}
  - {{id: tenant-t, name: T}}
segments:
  - {{id: seg-v, owner: tenant-v, cidr: 198.18.10.0/24}}
  - {{id: seg-t, owner: tenant-t, cidr: 198.18.20.0/24}}
assets:
  - {{hostname: v, kind: host, owner: tenant-v, segment: seg-v, address: 198.18.10.10}}
  - {{hostname: t, kind: host, owner: tenant-t, segment: seg-t, address: {TARGET}}}
"""
ISOLATION = f"""version: "bench"
default: deny
allow:
  - {{from: seg-v, to: seg-t, tcp: [{", ".join(map(str, OPEN))}], reason: bench}}
"""
PLANS = """plans:
  - {name: bench, vantage: seg-v, targets: [seg-t], extra_ports: {tcp: ["1-1000"]},
     icmp: false, rate: 10000, tries: 3, timeout: 1.0}
"""


def cli(t: Topology, rounds: int, trees: list[str | None]) -> None:
    """``edgeaudit probe run`` itself: whole process vs the engine's part of it, for each tree
    (None: the checkout), alternating."""
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-probe-cli-") as tmp:
        d = Path(tmp)
        os.chdir(d)  # ``-m`` puts the working directory first on sys.path: not the checkout
        try:
            for name, text in (
                ("inventory.yaml", INVENTORY),
                ("isolation.yaml", ISOLATION),
                ("probes.yaml", PLANS),
            ):
                (d / name).write_text(text, encoding="utf-8")
            ws = d / "ws"
            init = [sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(ws)]
            done = subprocess.run([*init, "init", "--site", "bench"], capture_output=True)
            if done.returncode:
                raise RuntimeError(done.stderr)
            argv = [*init, "--json", "probe", "run", "--plan", "bench"]
            argv += [f"--{n}={d / n}.yaml" for n in ("inventory", "isolation")]
            argv += [f"--plans={d / 'probes.yaml'}"]
            walls: dict[str | None, list[float]] = {p: [] for p in trees}
            engines: dict[str | None, list[float]] = {p: [] for p in trees}
            nmaps: list[float] = []
            cpus: dict[str | None, list[float]] = {p: [] for p in trees}
            probes = 0
            for i in range(rounds + 1):  # the first round warms the caches up
                for path in trees:
                    with tree(path):
                        used = cpu_of_children()
                        start = time.perf_counter()
                        done = t.exec("v", *argv, timeout=300)
                        wall = time.perf_counter() - start
                        used = cpu_of_children() - used
                    if done.returncode not in (0, 1, 3):
                        raise RuntimeError(done.stderr)
                    r = json.loads(done.stdout)
                    if i:
                        walls[path].append(wall)
                        engines[path].append(seconds(r["finished"]) - seconds(r["started"]))
                        cpus[path].append(used)
                    probes = r["params"]["probes"]
                if i:  # nmap in the same rounds: the same ports, as in the engine's rounds
                    nmaps.append(nmap(t, "1-1000", 5000)[0])
        finally:
            os.chdir(here)
    med = statistics.median
    print(
        f"nmap (1000 ports) in the same rounds, x {rounds}: median {med(nmaps):.3f} s "
        f"(min {min(nmaps):.3f}, max {max(nmaps):.3f})"
    )
    for path in trees:
        w, e = walls[path], engines[path]
        print(
            f"edgeaudit probe run ({probes} probes, SQLite workspace), {path or 'checkout'}, "
            f"x {rounds}: process wall median {med(w):.3f} s (min {min(w):.3f}, max "
            f"{max(w):.3f}) = {med(w) / med(nmaps):.2f} x nmap; the engine's run median "
            f"{med(e):.3f} s; the rest (start-up, policy files, store, records; since the "
            f"engine starts before the store is opened, partly while it probes) "
            f"{med(w) - med(e):.3f} s; CPU (user+sys, every process of the command) median "
            f"{med(cpus[path]):.3f} s"
        )


def cpu_of_children() -> float:
    """User + system CPU seconds of the waited-for child processes so far (a command's own
    children, e.g. the engine's process, count once the command has waited for them)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def seconds(rfc3339: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def check(theirs: dict[str, str], ours_: dict[str, str], who: str) -> None:
    if theirs != ours_:
        diff = {
            k: (ours_.get(k), theirs.get(k))
            for k in set(theirs) | set(ours_)
            if theirs.get(k) != ours_.get(k)
        }
        raise SystemExit(f"verdicts differ (ours, {who}): {diff}")


if __name__ == "__main__":
    main()
