"""The argument definitions of the commands on the store and its log (main.py's parser)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Command = Callable[[str, str], argparse.ArgumentParser]
"""main.py's ``cmd(name, help)``: adds the subcommand with the options every command takes."""


def add_log_commands(cmd: Command) -> None:
    """init, key, db, append, checkpoint, proof, verify, collect, probe."""
    c = cmd("init", "create a workspace: config, Ed25519 log key and the store")
    c.add_argument("--site", help="site name (default: the directory name)")
    c.add_argument("--origin", help="log origin (default: edgeaudit.local/<site>)")
    c.add_argument(
        "--db",
        metavar="URL",
        help="store URL: sqlite:///PATH (default evidence/store.db) or postgresql://...",
    )
    c.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="encrypt the log key with the passphrase in environment variable VAR",
    )

    c = cmd("key", "show the log's public verifier key, or rotate the log key")
    c.add_argument("action", choices=["show", "rotate"])

    c = cmd("db", "manage the store schema")
    c.add_argument("action", choices=["upgrade", "current"])

    c = cmd("append", "append events from JSON Lines files (one object per line; - for stdin)")
    c.add_argument("files", nargs="+", metavar="FILE")

    c = cmd("checkpoint", "sign the current tree (default), or show/list signed checkpoints")
    c.add_argument("action", nargs="?", default="sign", choices=["sign", "show", "list"])
    c.add_argument("size", nargs="?", type=int, help="tree size to show (default: latest)")
    c.add_argument("--out", metavar="FILE", help="sign/show: also write the signed note to FILE")

    c = cmd("proof", "print an inclusion or consistency proof against signed checkpoints")
    c.add_argument("kind", choices=["inclusion", "consistency"])
    c.add_argument("sizes", nargs="+", type=int, metavar="N", help="INDEX | OLD_SIZE NEW_SIZE")
    c.add_argument(
        "--key",
        metavar="VKEY",
        action="append",
        help="trust this verifier key (string or file) instead of the log's",
    )
    c.add_argument(
        "--revoked",
        metavar="KEYID@SIZE",
        action="append",
        help="a compromised log key trusted only up to tree size SIZE: a checkpoint it alone "
        "signed beyond SIZE fails; or a file of such lines (repeatable)",
    )
    c.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="a C2SP witness policy: fail unless the (new) checkpoint carries its cosignatures",
    )

    c = cmd(
        "verify",
        "recompute and check every entry, the chain, the tree and checkpoints; "
        "with PACK, check an audit pack offline",
    )
    c.add_argument("pack", nargs="?", metavar="PACK", help="an audit pack (directory or .zip)")
    c.add_argument(
        "--manifest-key",
        metavar="FILE",
        help="PACK: the manifest's public key (PEM or JWK; default: the workspace's)",
    )
    c.add_argument(
        "--trusted-checkpoint",
        metavar="FILE",
        action="append",
        help="a signed checkpoint seen earlier: the store (or PACK) must extend it; PACK: "
        "repeatable, each goes to the log of its origin (a campus pack's part)",
    )
    c.add_argument(
        "--key",
        metavar="VKEY",
        action="append",
        help="trust this verifier key (string or file) instead of the workspace's; PACK: "
        "repeatable, a campus pack's part is verified with the keys named by its origin",
    )
    c.add_argument(
        "--keys",
        metavar="FILE",
        action="append",
        help="PACK: a file of verifier keys, one a line (# comments), as --key (repeatable)",
    )
    c.add_argument(
        "--revoked",
        metavar="KEYID@SIZE",
        action="append",
        help="a compromised key (log key id, or manifest kid) trusted only up to tree size SIZE; "
        "or a file of such lines (repeatable)",
    )
    c.add_argument(
        "--manifest-rollover",
        metavar="FILE",
        action="append",
        help="PACK: a manifest key rollover statement (pack rotate-key) to follow from "
        "--manifest-key (repeatable)",
    )
    c.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="a C2SP witness policy (witness NAME VKEY / group / quorum lines): fail unless "
        "the checkpoint relied on carries the cosignatures it requires",
    )

    c = cmd("collect", "parse source logs (KIND: syslog, journald, ...) into the store")
    c.add_argument("kind", metavar="KIND", help="source kind, e.g. syslog, journald, auditd")
    c.add_argument("paths", nargs="+", metavar="PATH", help="files to read (.gz read as well)")
    c.add_argument("--source", help="source id recorded with each event (default: file name)")
    c.add_argument(
        "--inventory",
        metavar="FILE",
        help="inventory YAML (default: policies/inventory.yaml in the workspace, if present)",
    )
    c.add_argument(
        "--timezone", help="IANA zone for sources without one (default: the inventory's site)"
    )
    c.add_argument("--year", type=int, help="(syslog) year of RFC 3164 times (default: this year)")
    c.add_argument(
        "--option", action="append", default=[], metavar="K=V", help="parser option (repeatable)"
    )
    c.add_argument(
        "--card-key-env",
        metavar="VAR",
        help="(badge-csv) environment variable holding the key for hashing card numbers "
        "(default EDGEAUDIT_CARD_HASH_KEY)",
    )
    c.add_argument("--follow", action="store_true", help="keep reading growing files")
    c.add_argument("--poll", type=float, help="--follow: seconds between polls (default 1)")
    c.add_argument(
        "--settle",
        type=float,
        help="--follow: seconds without growth after which a parser emits what it still "
        "buffers (default: 5 polls, at least 1)",
    )
    c.add_argument("--batch-size", type=int, default=5000, help=argparse.SUPPRESS)
    c.add_argument("--vantage", metavar="SEGMENT", help="(nmap) the segment the scan ran from")

    c = cmd("probe", "segmentation probes: run a plan from this vantage point, or schedule plans")
    c.add_argument("action", choices=["run", "schedule"])
    c.add_argument("--plan", action="append", metavar="NAME", help="plan name (schedule: repeat)")
    c.add_argument("--trigger", default="manual", help="manual (default), schedule or change:REF")
    c.add_argument("--on-violation", metavar="CMD", help="run CMD with the run's JSON on stdin")
    c.add_argument("--inventory", metavar="FILE", help="default: policies/inventory.yaml")
    c.add_argument("--isolation", metavar="FILE", help="default: policies/isolation.yaml")
    c.add_argument("--plans", metavar="FILE", help="default: policies/probes.yaml")
    c.add_argument(
        "--strict", action="store_true", help="run: exit 3 when a result is inconclusive"
    )
    c.add_argument("--systemd", metavar="DIR", help="schedule: write service + timer units")
    c.add_argument("--netns", metavar="NS", help="--systemd: run the probes in this namespace")
    c.add_argument("--max-runs", type=int, help=argparse.SUPPRESS)


def add_reading_commands(cmd: Command) -> None:
    """quarantine, evaluate, status."""
    c = cmd("quarantine", "list source records that could not be parsed")
    c.add_argument("action", choices=["list"])
    c.add_argument("--limit", type=int, default=50)

    c = cmd("evaluate", "judge the operating model (policies/) against the evidence of a period")
    c.add_argument("--quarter", metavar="YYYYQN", help="the period, e.g. 2026Q3")
    c.add_argument("--from", dest="date_from", metavar="TIME", help="period start (UTC)")
    c.add_argument("--to", dest="date_to", metavar="TIME", help="period end, exclusive (UTC)")
    c.add_argument("--tenant", help="only results in this tenant's scope")
    c.add_argument(
        "--framework",
        action="append",
        metavar="F",
        help="iso27001-2022, soc2 or pci-dss-4.0.1 (repeatable; default: all)",
    )
    c.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    c.add_argument("--strict", action="store_true", help="also fail on not evaluated and stale")
    c.add_argument(
        "--no-record", action="store_true", help="do not append the results to the store"
    )
    c.add_argument(
        "--campus",
        action="store_true",
        help="judge this log and every [[mirror]] pod's log (at its held checkpoint) as one "
        "campus; recorded in this log only (takes no --log)",
    )
    c.add_argument(
        "--key", metavar="VKEY", action="append", help="verifier key for the integrity check"
    )

    cmd("status", "summarize the workspace and its log")


def add_demo_command(cmd: Command) -> None:
    """demo campus, demo collect."""
    c = cmd("demo", "generate demo data (campus: a quarter of raw source logs of the demo pod)")
    c.add_argument(
        "action",
        choices=["campus", "collect"],
        help="campus: write the files; collect: collect every file of a campus into the store",
    )
    c.add_argument("--out", default="evidence/campus", metavar="DIR", help="campus directory")
    c.add_argument("--events", type=int, help="campus: about how many events (default 50 000)")
    c.add_argument("--seed", type=int, help="campus: random seed, same seed same bytes (default 1)")
    c.add_argument("--start", help="campus: quarter start date, UTC (default 2026-07-01)")
    c.add_argument(
        "--clean", action="store_true", help="campus: no planted violations or malformed lines"
    )
