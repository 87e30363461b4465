"""``edgeaudit verify`` as a whole process against reading and hashing the store, same run.

* floor: a Python process that reads every entry's bytes from the SQLite store in index order
  (``sqlite3``, one query) and SHA-256-hashes each: the least any verifier must do;
* three hashes: the same read of all four columns verify needs (bytes, stored leaf and chain
  hash) and the three SHA-256 per entry verify computes (leaf, chain, frontier merge), nothing
  else (no tiles, no page check, no imports, no comparisons): the least a verifier of this
  store format must do in one Python process;
* verify: ``edgeaudit verify`` of the workspace (imports, store checks, every leaf, chain and
  tree hash, every stored tile, every checkpoint signature), as the CLI runs it (a second
  process verifies half of a large SQLite log when a second CPU is idle);
* verify, helper: the same with the helper forced (``EDGEAUDIT_VERIFY_WORKERS=2``);
* verify, one process: the same with ``EDGEAUDIT_VERIFY_WORKERS=1``;
* verify, pages alongside: what ``cmd_verify`` does, with its page check (SQLite
  ``quick_check``, ~1 s at 1 M entries) run beside the verification instead of before it
  (a thread running ``store.check_pages`` beside ``verify_log``): a proposal, measured no
  better, not what the CLI does;
* verify, no page check: the same without the page check (what ``verify_log`` itself costs);
* imports: ``python -c "import edgeaudit.cli.commands, edgeaudit.verify.store"``;
* optionally ``edgeaudit verify`` of a baseline tree (``git archive COMMIT | tar -x -C DIR``).

The workspace is copied once into ``--dir`` (SQLite creates its ``-wal``/``-shm`` files next
to the store even to read it; the source is left alone). Rounds alternate the contenders; the
figures are medians; the ratio is floor seconds / verify seconds (higher is better). Peak RSS
is GNU time's ``%M`` (the largest process of the tree); CPU seconds are its ``%U + %S`` (the
helper's included), which move less with the machine's load than wall time does.

    python bench/bench_verify_cli.py --ws /tmp/bench-ev1m/ws --rounds 3
    python bench/bench_verify_cli.py --ws /tmp/bench-ev1m/ws --rounds 3 --baseline /tmp/base
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

from _common import machine

ROOT = Path(__file__).resolve().parents[1]
EDGEAUDIT = [sys.executable, "-P", "-c", "import sys; from edgeaudit.cli.main import main; "
             "sys.exit(main(sys.argv[1:]))"]  # fmt: skip
TIME = "/usr/bin/time"

FLOOR = """\
import hashlib, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
log_id = con.execute("SELECT min(id) FROM logs").fetchone()[0]
sha = hashlib.sha256
n = 0
for (body,) in con.execute(
    "SELECT body FROM entries WHERE log_id = ? ORDER BY idx", (log_id,)
):
    sha(body).digest()
    n += 1
print(n)
"""

THREE_HASHES = """\
import hashlib, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
log_id = con.execute("SELECT min(id) FROM logs").fetchone()[0]
sha = hashlib.sha256
prev, stack, n = bytes(32), [], 0
for idx, body, stored_leaf, stored_chain in con.execute(
    "SELECT idx, body, leaf_hash, chain_hash FROM entries WHERE log_id = ? ORDER BY idx", (log_id,)
):
    leaf = sha(b"\\x00" + body).digest()
    sha(b"edgeaudit/chain/v1\\x00" + prev + leaf).digest()
    prev = stored_chain
    h, bits = leaf, n
    while bits & 1:
        h = sha(b"\\x01" + stack.pop() + h).digest()
        bits >>= 1
    stack.append(h)
    n += 1
print(n)
"""

IMPORTS = "import edgeaudit.cli.commands, edgeaudit.verify.store"

# What ``cmd_verify`` does, but with the page check (``Store.check_pages``, SQLite's
# quick_check) run in a thread beside the verification instead of before it ("alongside"), or
# not at all ("none").
ALONGSIDE = """\
import sys
import threading
from edgeaudit.cli import commands
from edgeaudit.note.verifier import Verifier
from edgeaudit.verify import verify_log
from edgeaudit.workspace import config as cfg
config = cfg.load(cfg.find_root(sys.argv[1]))
store, log = commands._open(config)
with store:
    keys = [Verifier.parse(config.verifier_key)]
    beside = None
    if sys.argv[2] == "alongside":
        beside = threading.Thread(target=store.check_pages)
        beside.start()
    report = verify_log(log, keys)
    if beside is not None:
        beside.join()
print(f"OK: {report.entries_checked}" if report.ok else f"FAILED: {report.problems}")
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds (user + system, children included), peak RSS in MiB, stdout)
    of one process."""
    stats = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-verify-rss-{os.getpid()}"
    began = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%U %S %M", "-o", str(stats), *argv], env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    user, system, rss = stats.read_text().split()[-3:]
    return seconds, float(user) + float(system), int(rss) >> 10, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ws", default="/tmp/bench-ev1m/ws", help="a workspace with a SQLite store")
    ap.add_argument("--dir", default="/tmp/bench-verify-cli")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", help="another source tree (e.g. from git archive) to compare")
    args = ap.parse_args()
    base = Path(args.dir)
    ws = base / "ws"
    if not (ws / "edgeaudit.toml").exists():
        base.mkdir(parents=True, exist_ok=True)
        shutil.copytree(args.ws, ws)
    store = ws / "evidence" / "store.db"
    floor_py = base / "floor.py"
    floor_py.write_text(FLOOR)
    three_py = base / "three_hashes.py"
    three_py.write_text(THREE_HASHES)
    this = {**os.environ, "PYTHONPATH": str(ROOT)}
    contenders: list[tuple[str, list[str], dict[str, str]]] = [
        ("floor", [sys.executable, str(floor_py), str(store)], dict(os.environ)),
        ("three hashes", [sys.executable, str(three_py), str(store)], dict(os.environ)),
        ("verify", [*EDGEAUDIT, "--workspace", str(ws), "verify"], this),
        ("verify 1 process", [*EDGEAUDIT, "--workspace", str(ws), "verify"],
         {**this, "EDGEAUDIT_VERIFY_WORKERS": "1"}),
        ("verify, helper", [*EDGEAUDIT, "--workspace", str(ws), "verify"],
         {**this, "EDGEAUDIT_VERIFY_WORKERS": "2"}),
        ("verify, pages alongside", [sys.executable, "-P", "-c", ALONGSIDE, str(ws), "alongside"],
         this),
        ("verify, no page check", [sys.executable, "-P", "-c", ALONGSIDE, str(ws), "none"], this),
        ("imports", [sys.executable, "-P", "-c", IMPORTS], this),
    ]  # fmt: skip
    if args.baseline:
        env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
        contenders.append(("baseline", [*EDGEAUDIT, "--workspace", str(ws), "verify"], env))
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f}")
    results: dict[str, list[tuple[float, int]]] = {}
    cpu: dict[str, list[float]] = {}
    for r in range(args.rounds):
        line = []
        for label, argv, env in contenders:
            s, c, rss, out = timed(argv, env)
            if label.startswith(("verify", "baseline")) and not out.startswith("OK: "):
                sys.exit(f"{label}: {out}")
            if label == "floor" and r == 0:
                print(f"{out.strip()} entries: {store}")
            results.setdefault(label, []).append((s, rss))
            cpu.setdefault(label, []).append(c)
            line.append(f"{label} {s:.2f} s (CPU {c:.2f} s) {rss} MiB")
        print(f"  round {r + 1} (load {os.getloadavg()[0]:.1f}): " + " | ".join(line), flush=True)
    med = {k: statistics.median(s for s, _ in v) for k, v in results.items()}
    peak = {k: max(m for _, m in v) for k, v in results.items()}
    print("  median: " + " | ".join(f"{k} {med[k]:.2f} s ({peak[k]} MiB)" for k in med))
    ratios = [f"{k} {med['floor'] / med[k]:.2f}" for k in med if k not in ("floor", "imports")]
    print("  ratio floor seconds / seconds: " + ", ".join(ratios))
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    ratios = [f"{k} {cmed['floor'] / cmed[k]:.2f}" for k in cmed if k not in ("floor", "imports")]
    print("  CPU: " + " | ".join(f"{k} {v:.2f} s" for k, v in cmed.items()))
    print("  ratio floor CPU seconds / CPU seconds: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
