"""Audit packs: build a pack of a 1 M-event period and verify a tenant pack of 10 k entries.

Targets (issue 6): the 1 M-event pack in <= 20 s with <= 500 MB peak RSS; verifying a tenant
pack of 10 k entries in <= 1 s. Baselines measured in the same run: reading every entry from
the store and SHA-256-hashing it (the least a pack builder must do), and reading + SHA-256 of
the tenant pack's files (the least a verifier must do).

    python bench/bench_pack.py --dir /tmp/bench-pack --n 1000000

The workspace (SQLite) is created and filled once in DIR/ws; later runs reuse it. Builds run in
a child process (the CLI, as a user runs it) so their peak RSS is measured alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, events, machine

from edgeaudit.canonical import leaf_hash
from edgeaudit.events import prepare
from edgeaudit.note.verifier import Verifier
from edgeaudit.pack.period import _iso
from edgeaudit.store import Store
from edgeaudit.verify.pack import verify_pack
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.setup import init_workspace

START = 1_700_000_000  # bench/_common.py: event i happens at START + i // 10
INVENTORY = """site: {name: bench, timezone: UTC}
tenants:
  - {id: fintech-a, name: Fintech A}
  - {id: media-b, name: Media B}
  - {id: ai-c, name: AI C}
"""


def fill(ws: Path, n: int) -> None:
    if (ws / cfg.CONFIG_NAME).exists():
        return
    config = init_workspace(ws, site="bench")
    with Store.open(config.db_url) as store, Timer() as t:
        log = store.log(config.origin)
        batch: list = []
        for i, e in enumerate(events(0, n)):
            batch.append(prepare(e, fingerprint=f"bench:{i}"))
            if len(batch) == 10_000:
                log.append(batch)
                batch = []
        if batch:
            log.append(batch)
    print(f"filled {n} events in {t.seconds:.1f} s (not part of the figures)")


def baseline_and_findings(ws: Path, every: int, n: int) -> tuple[float, dict]:
    """Read + SHA-256 every entry (timed); a synthetic assessment citing every N-th entry."""
    config = cfg.load(ws)
    results = []
    with Store.open(config.db_url) as store, Timer() as t:
        log = store.log(config.origin)
        with log.reader() as reader:
            for index, body, _, _ in reader.iter_entries(0):
                if index >= n:  # the recorded assessment of an earlier run
                    break
                leaf = leaf_hash(body)
                if index % every == 0:
                    results.append(
                        {
                            "id": f"F-{index:016x}",
                            "rule": "bench-rule",
                            "title": "bench finding",
                            "status": "fail" if index % 3 else "pass",
                            "severity": "high",
                            "controls": ["iso27001-2022:a.8.2", "pci-dss-4.0.1:7.2.1"],
                            "scope": {"tenant": "fintech-a"},
                            "reason": f"entry {index}",
                            "evidence": [{"index": index, "leaf_hash": leaf.hex()}],
                        }
                    )
    doc = {
        "assessment": {
            "id": "00000000-0000-4000-8000-000000000001",
            "from": _iso(START),
            "to": _iso(START + (n + 9) // 10),  # the site pack's period
            "tenant": None,
            "frameworks": ["iso27001-2022", "pci-dss-4.0.1"],
            "tree_size": 0,
            "evaluated_at": _iso(START + 10**6),
        },
        "results": results,
        "controls": [],
    }
    record(ws, doc)  # a pack's findings are a recorded assessment's (issue 14)
    return t.seconds, doc


def record(ws: Path, doc: dict) -> None:
    """Append the synthetic assessment's results as policy.result entries (the engine's shape:
    edgeaudit.policy.record), once."""
    config = cfg.load(ws)
    header = {k: v for k, v in doc["assessment"].items() if k != "evaluated_at"}
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        log.append(
            prepare(
                {
                    "time": doc["assessment"]["evaluated_at"],
                    "kind": "policy.result",
                    "source": "edgeaudit-policy",
                    "outcome": {"pass": "success", "fail": "failure"}[r["status"]],
                    "scope": ["fintech-a"],
                    "tenant": "fintech-a",
                    "assessment": header,
                    "result": r,
                },
                fingerprint=f"bench:{header['id']}:{r['id']}",
            )
            for r in doc["results"]
        )


# Peak RSS from /proc/self/status VmHWM: it belongs to the process image, so unlike ru_maxrss
# it does not start at the forking parent's size (this script holds ~150 MB of its own).
_CHILD = """
import sys
from edgeaudit.cli.main import main
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
print("maxrss", hwm, file=sys.stderr)
sys.exit(code)
"""


def _tree_rss_kb(root: int) -> int:
    """Resident KB of ``root`` and all its descendants now (from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for proc_dir in Path("/proc").iterdir():
        entry = proc_dir.name
        if not entry.isdigit():
            continue
        try:
            with (proc_dir / "status").open() as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        parent[int(entry)] = int(fields.get("PPid", "0").strip())
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
    members, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in members]
        members.update(kids)
        frontier += kids
    return sum(rss.get(m, 0) for m in members)


def run_cli(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Wall seconds, the main process's peak RSS (MB) and the peak summed over it and its
    worker processes (MB, sampled every 0.2 s) of one CLI run in a fresh child process."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    peak_tree = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.wait(0.2):
            peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"edgeaudit {' '.join(argv)} failed:\n{out}\n{err}")
    peak = next(int(line.split()[1]) for line in err.splitlines() if line.startswith("maxrss "))
    return seconds, peak // 1024, max(peak, peak_tree) // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--tenant-entries", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    ws = root / "ws"
    fill(ws, args.n)
    print(machine(), f"store of {args.n} events")

    base, doc = baseline_and_findings(ws, max(1, args.n // 200), args.n)
    print(f"baseline: read + SHA-256 of {args.n} stored entries: {base:.2f} s")
    findings = root / "findings.json"
    findings.write_text(json.dumps(doc))
    (root / "inventory.yaml").write_text(INVENTORY)

    end = START + (args.n + 9) // 10
    for workers in ("1", "2"):
        site = root / f"site-{time.time_ns()}"
        secs, rss, tree = run_cli(
            ["--workspace", str(ws), "pack", "build", "--from", _iso(START), "--to", _iso(end),
             "--findings", str(findings), "--out", str(site)],
            {"EDGEAUDIT_PACK_WORKERS": workers},
        )  # fmt: skip
        size = sum(p.stat().st_size for p in site.iterdir()) / 1e6
        pdf = (site / "report.pdf").stat().st_size / 1e6
        print(
            f"site pack, {workers} process(es), {args.n} entries + {len(doc['results'])} "
            f"findings + PDF: {secs:.1f} s, peak RSS {rss} MB (with workers {tree} MB), "
            f"{size:.0f} MB on disk (PDF {pdf:.2f} MB); ratio to baseline {secs / base:.1f}"
        )

    # a tenant pack of about --tenant-entries entries: 1 event in 4 is fintech-a's
    span = args.tenant_entries * 4 // 10
    tenant = root / f"tenant-{time.time_ns()}"
    secs, rss, _ = run_cli(
        [
            "--workspace",
            str(ws),
            "pack",
            "build",
            "--from",
            _iso(START),
            "--to",
            _iso(START + span),
            "--tenant",
            "fintech-a",
            "--inventory",
            str(root / "inventory.yaml"),
            "--out",
            str(tenant),
            "--no-pdf",
        ]
    )
    print(f"tenant pack build: {secs:.1f} s, peak RSS {rss} MB")

    config = cfg.load(ws)
    log_key = Verifier.parse(config.verifier_key)
    mkey = ManifestKey.load(str(ws / "keys" / "manifest.pub"))
    for r in range(args.rounds):
        with Timer() as floor:
            for p in sorted(tenant.iterdir()):
                hashlib.sha256(p.read_bytes()).digest()
        with Timer() as t:
            report = verify_pack(tenant, [log_key], mkey)
        assert report.ok, report.problems[:3]
        print(
            f"verify tenant pack of {report.entries} entries, round {r + 1}: {t.seconds:.3f} s "
            f"(read + SHA-256 of its files {floor.seconds:.3f} s, ratio "
            f"{t.seconds / floor.seconds:.1f})"
        )
    key_file = root / "log.vkey"
    key_file.write_text(config.verifier_key)
    secs, rss, _ = run_cli(
        [
            "verify",
            str(tenant),
            "--key",
            str(key_file),
            "--manifest-key",
            str(ws / "keys" / "manifest.pub"),
        ]
    )
    print(f"`edgeaudit verify` of the tenant pack, whole process: {secs:.2f} s, {rss} MB")


if __name__ == "__main__":
    main()
