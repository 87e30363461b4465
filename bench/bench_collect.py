"""`edgeaudit collect syslog` end to end: N auth-log lines from a file into a fresh SQLite
workspace (parse, normalize, canonicalize, hash, store). Target (issue 3): >= 100 k lines/s.

    python bench/bench_collect.py --lines 1000000 --dir /tmp/bench-collect
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from edgeaudit.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]
FORMS = [
    "Nov {d:02d} 08:{m:02d}:{s:02d} fa-web-01 sshd[{p}]: Accepted publickey for ravi from "
    "10.0.0.9 port {p} ssh2: ED25519 SHA256:abcdefghijkl{p}",
    "Nov {d:02d} 08:{m:02d}:{s:02d} fa-web-01 sshd[{p}]: Failed password for invalid user "
    "admin{p} from 203.0.113.4 port {p} ssh2",
    "Nov {d:02d} 08:{m:02d}:{s:02d} fa-web-01 sshd[{p}]: pam_unix(sshd:session): session opened "
    "for user ravi(uid=1000) by (uid=0)",
    "Nov {d:02d} 08:{m:02d}:{s:02d} fa-db-01 sudo[{p}]:     ravi : TTY=pts/0 ; PWD=/home/ravi ; "
    "USER=root ; COMMAND=/usr/bin/systemctl restart app{p}",
    "Nov {d:02d} 08:{m:02d}:{s:02d} fa-web-01 CRON[{p}]: (root) CMD (run-parts /etc/cron.hourly)",
    "Nov {d:02d} 08:{m:02d}:{s:02d} ac-gpu-01 sshd-session[{p}]: Disconnected from user ravi "
    "10.0.0.9 port {p}",
]


def write_lines(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            f = FORMS[i % len(FORMS)]
            fh.write(f.format(d=1 + i // 86400 % 28, m=i // 60 % 60, s=i % 60, p=1000 + i) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/bench-collect")
    args = ap.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    log = base / "auth.log"
    write_lines(log, args.lines)
    ws = str(base / "ws")
    assert cli(["--workspace", ws, "init", "--site", "bench"]) == 0
    t = time.perf_counter()
    code = cli(
        [
            "--workspace",
            ws,
            "collect",
            "syslog",
            str(log),
            "--json",
            "--inventory",
            str(ROOT / "policies" / "inventory.yaml"),
            "--timezone",
            "Asia/Kolkata",
            "--year",
            "2026",
        ]
    )
    seconds = time.perf_counter() - t
    assert code == 0
    print(f"machine: {machine()}, SQLite")
    print(
        f"collect syslog, {args.lines} lines ({log.stat().st_size >> 20} MiB): {seconds:.2f} s = "
        f"{args.lines / seconds:,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
