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

Needs root, iproute2, nftables and nmap (``scripts/_venv.sh``: ``ensure_probe_tools bench``).
Run from the repository root: ``.venv/bin/python bench/bench_probe.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
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
    args = p.parse_args()
    missing = [t for t in ("ip", "nft", "nmap") if shutil.which(t) is None]
    if missing:
        raise SystemExit(
            f"needs {', '.join(missing)}: as root, `. scripts/_venv.sh; ensure_probe_tools bench`"
        )
    print(f"# {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    t = build()
    try:
        ours_wall, ours_engine, nmap_wall = [], [], []
        for _ in range(args.rounds):
            w, r = ours(t, 1, 1000, 10_000)
            ours_wall.append(w)
            ours_engine.append(r["engine_s"])
            nw, nv = nmap(t, "1-1000", 5000)
            nmap_wall.append(nw)
            if nv != r["verdicts"]:
                diff = {
                    k: (r["verdicts"].get(k), nv.get(k))
                    for k in set(nv) | set(r["verdicts"])
                    if nv.get(k) != r["verdicts"].get(k)
                }
                raise SystemExit(f"verdicts differ (ours, nmap): {diff}")
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
            f"engine alone median {med(ours_engine):.3f} s; imports {r['import_s']:.3f} s"
        )
        print(
            f"  nmap wall:              median {med(nmap_wall):.3f} s "
            f"(min {min(nmap_wall):.3f}, max {max(nmap_wall):.3f})"
        )
        print(
            f"  ratio process/nmap {med(ours_wall) / med(nmap_wall):.2f}, "
            f"engine/nmap {med(ours_engine) / med(nmap_wall):.2f} (target <= 1.2, issue 17)"
        )
        if not args.skip_full:
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


if __name__ == "__main__":
    main()
