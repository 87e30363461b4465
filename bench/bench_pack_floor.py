"""What ``verify PACK`` of a site pack cannot skip, each stage alone, against 3 x the floor.

    python bench/bench_pack_floor.py --pack DIR/site-... [--rounds 3] [--tree DIR]

The floor (issue 14) is a Python process that reads and SHA-256-hashes the pack's files. Every
check of ``evidence.jsonl`` needs at least these stages, each timed here alone, in this process,
as C calls over the whole file (one call, or one ``map`` of a C function over its entries: no
Python code per entry), best of ``--rounds``, CPU seconds:

* read the file; SHA-256 of it (the manifest's digest);
* cut it into lines and fields (``bytes.split``: the least a check of each line's form does);
* base64-decode each entry (strict); SHA-256 of each entry's leaf (``0x00 || entry``);
* parse each entry (``orjson.loads``, the collector off), re-encode them all in one
  ``orjson.dumps`` call with sorted keys (the RFC 8785 check compares these bytes), and free
  the parsed values;
* the imports of ``edgeaudit verify``: the CPU time of a process that imports what the
  command imports and stops, less an empty interpreter's (which the floor pays too).

Their sum is what one CPU needs at the least; on two CPUs, if every stage split perfectly in
two, half of it (the imports do not split: both processes pay them). Compared with 3 x the
floor measured in the same run, this says whether the goal is reachable with these C calls.
"""

from __future__ import annotations

import argparse
import binascii
import gc
import hashlib
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from functools import partial
from itertools import repeat
from operator import add, methodcaller
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
_FLOOR = """
import hashlib, os, sys
for name in sorted(os.listdir(sys.argv[1])):
    h = hashlib.sha256()
    with open(os.path.join(sys.argv[1], name), "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
"""
_IMPORTS = "import edgeaudit.cli.main, edgeaudit.cli.pack, edgeaudit.verify.pack"


def _process(tree: Path, code: str, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a Python process running ``code``."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    t0, before = time.perf_counter(), os.times()
    subprocess.run([sys.executable, "-S", "-P", "-c", code, *args], env=env, cwd="/", check=True)
    after = os.times()
    cpu = after.children_user - before.children_user
    cpu += after.children_system - before.children_system
    return time.perf_counter() - t0, cpu


def _cpu(rounds: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        out = None
        c0 = time.process_time()
        out = work()
        best = min(best, time.process_time() - c0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree", default=str(ROOT), help="the edgeaudit whose imports are timed")
    args = ap.parse_args()
    pack, tree, rounds = Path(args.pack), Path(args.tree), args.rounds
    evidence = pack / "evidence.jsonl"
    print(f"load average {os.getloadavg()[0]:.1f}; {evidence.stat().st_size / 1e6:.1f} MB")
    floors = [_process(tree, _FLOOR, str(pack)) for _ in range(rounds)]
    floor, floor_cpu = min(w for w, _ in floors), min(c for _, c in floors)
    empty = min(_process(tree, "pass")[1] for _ in range(rounds))
    imports = min(_process(tree, _IMPORTS)[1] for _ in range(rounds)) - empty

    rows: list[tuple[str, float]] = []
    read, data = _cpu(rounds, evidence.read_bytes)
    rows.append(("read the file", read))
    rows.append(("SHA-256 of the file", _cpu(rounds, lambda: hashlib.sha256(data).digest())[0]))
    cut, fields = _cpu(rounds, lambda: data.split(b'"'))
    rows.append(("cut into fields (split at quotes)", cut))
    texts = fields[3::10]
    a2b = partial(binascii.a2b_base64, strict_mode=True)
    decode, bodies = _cpu(rounds, lambda: list(map(a2b, texts)))
    rows.append((f"base64 decode of {len(texts)} entries (strict)", decode))
    digest = methodcaller("digest")
    leaf = _cpu(
        rounds,
        lambda: b"".join(map(digest, map(hashlib.sha256, map(add, repeat(b"\x00"), bodies)))),
    )[0]
    rows.append(("leaf SHA-256 of each entry", leaf))
    # parsed, re-encoded and freed a piece of about 1 MiB (1 400 entries) at a time, as the
    # verifier does (all 200 k parsed entries alive at once cost more)
    per = max(1, len(bodies) * (1 << 20) // max(len(data), 1))
    pieces = [bodies[i : i + per] for i in range(0, len(bodies), per)]
    option = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
    best = [float("inf")] * 3
    gc.disable()
    for _ in range(rounds):
        spent = [0.0, 0.0, 0.0]
        for piece in pieces:
            c0 = time.process_time()
            parsed = list(map(orjson.loads, piece))
            c1 = time.process_time()
            orjson.dumps(parsed, option=option)
            c2 = time.process_time()
            del parsed
            c3 = time.process_time()
            spent[0], spent[1], spent[2] = (
                spent[0] + c1 - c0,
                spent[1] + c2 - c1,
                spent[2] + c3 - c2,
            )
        best = [min(b, s) for b, s in zip(best, spent, strict=True)]
    gc.enable()
    rows.append(("orjson parse of each entry (collector off)", best[0]))
    rows.append(("orjson re-encode, one call a piece", best[1]))
    rows.append(("freeing the parsed entries", best[2]))
    rows.append(("imports of edgeaudit verify (CPU of a process, less an empty one)", imports))
    total = sum(seconds for _, seconds in rows)
    two = (total - imports) / 2 + imports
    width = max(len(name) for name, _ in rows) + 2
    for name, seconds in rows:
        print(f"  {name:<{width}} {seconds:.3f} s")
    print(f"  {'sum (one CPU)':<{width}} {total:.3f} s")
    print(f"  {'on two CPUs, every stage split in two':<{width}} {two:.3f} s")
    print(
        f"floor (read + SHA-256 of the files, a process): {floor:.3f} s wall, {floor_cpu:.3f} s "
        f"CPU (an empty interpreter {empty:.3f} s CPU); 3 x floor = {3 * floor:.3f} s; the "
        f"stages on two CPUs = {two / floor:.1f} x the floor's wall, {two / floor_cpu:.1f} x "
        "its CPU"
    )


if __name__ == "__main__":
    main()
