"""report.pdf: seconds per page and the peak RSS of a site pack build (issue 12).

Targets: the report costs <= 0.3 s per page; a site pack build peaks at <= 500 MB RSS.
The baseline in the same run is the same pack built with ``--no-pdf``: the difference is the
report (the assessment is recorded by the first build and reused by the others).

    python bench/bench_report.py --ws /tmp/bench-ev1m/ws          # a workspace with policies/
    python bench/bench_report.py --ws demo-workspace --rounds 3

Each build runs in a child process (the CLI, as a user runs it) so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

CHILD = """
import sys
from edgeaudit.cli.main import main
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
print("maxrss", hwm, file=sys.stderr)
sys.exit(code)
"""


def build(ws: Path, out: Path, *extra: str) -> tuple[float, float]:
    argv = [
        sys.executable,
        "-c",
        CHILD,
        "--workspace",
        str(ws),
        "pack",
        "build",
        "--quarter",
        "2026Q3",
        "--policies",
        str(ws / "policies"),
        "--out",
        str(out),
        *extra,
    ]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    rss = next(
        int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("maxrss")
    )
    return seconds, rss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from pypdf import PdfReader

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        build(args.ws, tmp / "warm", "--no-pdf")  # records (or reuses) the assessment
        print(machine())
        for r in range(args.rounds):
            base, _ = build(args.ws, tmp / f"plain{r}", "--no-pdf")
            full, rss = build(args.ws, tmp / f"pdf{r}")
            pages = len(PdfReader(tmp / f"pdf{r}" / "report.pdf").pages)
            report = max(0.0, full - base)
            print(
                f"round {r + 1}: pack --no-pdf {base:5.1f} s (baseline), with the report "
                f"{full:5.1f} s: report {report:4.1f} s for {pages} pages = "
                f"{report / pages:.3f} s/page (target <= 0.3); peak RSS {rss:.0f} MB "
                "(target <= 500)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
