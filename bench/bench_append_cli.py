"""``edgeaudit append FILE`` as a whole process against a floor process, in the same run.

* floor: a Python process that reads the same JSON Lines file, parses each line with orjson,
  writes its sorted-key bytes (``orjson.OPT_SORT_KEYS``), SHA-256-hashes them and inserts the
  rows with ``sqlite3`` ``executemany`` (batches of 10 000, one transaction) into an empty store
  of the edgeaudit schema (WAL, ``synchronous=NORMAL``, as edgeaudit opens it), with the
  store's dedupe key (8-byte time prefix + leaf hash; a random 32-byte key alone makes the
  unique index's inserts slower as the table grows, docs/adr/0004);
* append: ``edgeaudit append FILE`` on an empty workspace of this tree (strict validation, RFC
  8785 bytes, dedupe, hash chain, tree tiles, imports and all); and the same in one process
  (``EDGEAUDIT_APPEND_WORKERS=1``: no forked validation worker);
* optionally the same for a baseline tree (``git archive COMMIT | tar -x -C DIR``).

The CPU seconds (GNU time's ``%U + %S``, the forked worker's included) are printed too: on a
machine shared with other work they move less with the load than wall time does.
Every run starts from a fresh copy of an empty workspace made once per tree (not timed). Rounds
alternate floor / this tree / baseline; the figures are medians. Peak RSS is GNU time's ``%M``
of each process tree's largest process (``/usr/bin/time`` forks from a 2 MB image, so the
benchmark's own size does not leak into it, as it does through ``wait4`` after ``vfork``).
Input: ``bench/_common.py`` events, one compact JSON object per line (~335 bytes).

    python bench/bench_append_cli.py --events 200000 --rounds 3
    python bench/bench_append_cli.py --events 200000 1000000 --rounds 1 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from _common import event, machine

ROOT = Path(__file__).resolve().parents[1]
# -P: no current directory in sys.path, so PYTHONPATH alone picks the tree under test
EDGEAUDIT = [sys.executable, "-P", "-c", "import sys; from edgeaudit.cli.main import main; "
             "sys.exit(main(sys.argv[1:]))"]  # fmt: skip
TIME = "/usr/bin/time"

FLOOR = """\
import hashlib, sqlite3, sys
from datetime import datetime
import orjson
path, db = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
loads, dumps, sha, opt = orjson.loads, orjson.dumps, hashlib.sha256, orjson.OPT_SORT_KEYS
sql = ("INSERT INTO entries (log_id, idx, leaf_hash, chain_hash, fp_key, time, kind, tenant, "
       "source, body) VALUES (?,?,?,?,?,?,?,?,?,?)")
seconds = {}
def fp_key(t, leaf):  # as the store keys entries: 8-byte time (sortable) + 32 bytes
    s = seconds.get(t)
    if s is None:
        s = seconds[t] = int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    return (s + 2**63).to_bytes(8, "big") + leaf
rows = []
con.execute("BEGIN IMMEDIATE")
with open(path, "rb") as fh:
    for i, line in enumerate(fh):
        d = loads(line)
        body = dumps(d, option=opt)
        leaf = sha(b"\\x00" + body).digest()
        rows.append((1, i, leaf, leaf, fp_key(d["time"], leaf), d["time"], d["kind"],
                     d.get("tenant"), d.get("source"), body))
        if len(rows) == 10000:
            con.executemany(sql, rows)
            rows = []
con.executemany(sql, rows)
con.execute("COMMIT")
con.close()
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds (user + system, children included), peak RSS in MiB, stdout)
    of one process."""
    stats = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-append-rss-{os.getpid()}"
    began = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%U %S %M", "-o", str(stats), *argv], env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    user, system, rss = stats.read_text().split()[-3:]
    return seconds, float(user) + float(system), int(rss) >> 10, done.stdout


def write_events(path: Path, n: int) -> None:
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps(event(i)) + b"\n")
    tmp.rename(path)


def template(base: Path, label: str, tree: Path) -> Path:
    ws = base / f"template-{label}"
    if not (ws / "edgeaudit.toml").exists():
        shutil.rmtree(ws, ignore_errors=True)
        env = {**os.environ, "PYTHONPATH": str(tree)}
        timed([*EDGEAUDIT, "--workspace", str(ws), "init", "--site", "bench"], env)
    return ws


def fresh(base: Path, tmpl: Path, tree: Path = ROOT) -> Path:
    """A copy of the empty workspace, its store at ``tree``'s schema (migrations may land while
    a long run goes on; not timed)."""
    ws = base / "run"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(tmpl, ws)
    timed([*EDGEAUDIT, "--workspace", str(ws), "db", "upgrade"],
          {**os.environ, "PYTHONPATH": str(tree)})  # fmt: skip
    return ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, nargs="+", default=[200_000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/bench-append-cli")
    ap.add_argument("--baseline", help="another source tree (e.g. from git archive) to compare")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor (memory runs)")
    ap.add_argument(
        "--no-single", action="store_true", help="skip this tree with EDGEAUDIT_APPEND_WORKERS=1"
    )
    args = ap.parse_args()
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    floor_py = base / "floor.py"
    floor_py.write_text(FLOOR)
    trees: list[tuple[str, Path, dict[str, str]]] = [("this", ROOT, {})]
    if not args.no_single:
        trees.append(("this 1 process", ROOT, {"EDGEAUDIT_APPEND_WORKERS": "1"}))
    if args.baseline:
        trees.append(("baseline", Path(args.baseline).resolve(), {}))
    templates = {label: template(base, label, tree) for label, tree, _ in trees}
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f}")
    for n in args.events:
        path = base / f"events-{n}.jsonl"
        write_events(path, n)
        print(f"{n} events, {path.stat().st_size / 1e6:.0f} MB: {path}")
        results: dict[str, list[tuple[float, int]]] = {}
        cpu: dict[str, list[float]] = {}
        for r in range(args.rounds):
            line = [f"round {r + 1}:"]
            if not args.no_floor:
                ws = fresh(base, templates["this"])
                s, c, rss, _ = timed([sys.executable, str(floor_py), str(path),
                                   str(ws / "evidence" / "store.db")])  # fmt: skip
                results.setdefault("floor", []).append((s, rss))
                cpu.setdefault("floor", []).append(c)
                line.append(f"floor {s:.2f} s (CPU {c:.2f} s) {rss} MiB")
            for label, tree, extra in trees:
                ws = fresh(base, templates[label], tree)
                env = {**os.environ, "PYTHONPATH": str(tree), **extra}
                argv = [*EDGEAUDIT, "--workspace", str(ws), "append", "--json", str(path)]
                s, c, rss, out = timed(argv, env)
                got = orjson.loads(out)["appended"]
                if got != n:
                    sys.exit(f"{label}: appended {got} of {n}")
                results.setdefault(label, []).append((s, rss))
                cpu.setdefault(label, []).append(c)
                line.append(f"{label} {s:.2f} s (CPU {c:.2f} s) {rss} MiB")
            line.append(f"load {os.getloadavg()[0]:.1f}")
            print("  " + " | ".join(line), flush=True)
        med = {k: statistics.median(s for s, _ in v) for k, v in results.items()}
        peak = {k: max(m for _, m in v) for k, v in results.items()}
        summary = [f"{k} {med[k]:.2f} s ({n / med[k]:,.0f} events/s, peak {peak[k]} MiB)"
                   for k in results]  # fmt: skip
        print("  median: " + " | ".join(summary))
        if "floor" in med:
            ratios = [f"{k} {med['floor'] / med[k]:.2f} x floor" for k in med if k != "floor"]
            print("  throughput ratio (floor seconds / append seconds): " + ", ".join(ratios))
            cmed = {k: statistics.median(v) for k, v in cpu.items()}
            ratios = [f"{k} {cmed['floor'] / cmed[k]:.2f}" for k in cmed if k != "floor"]
            print("  CPU ratio (floor CPU seconds / append CPU seconds): " + ", ".join(ratios))


if __name__ == "__main__":
    main()
