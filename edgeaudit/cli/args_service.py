"""The argument definitions of pack, backup, restore, token and serve (main.py's parser)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Command = Callable[[str, str], argparse.ArgumentParser]
"""main.py's ``cmd(name, help)``: adds the subcommand with the options every command takes."""


def add_pack_command(cmd: Command) -> None:
    """pack build, key, rotate-key."""
    c = cmd("pack", "build a signed audit pack for a period (build), or show its key (key)")
    c.add_argument("action", choices=["build", "key", "rotate-key"])
    c.add_argument("--quarter", help="the period, e.g. 2026Q3")
    c.add_argument("--from", dest="from_", metavar="TIME", help="period start (RFC 3339 or date)")
    c.add_argument("--to", metavar="TIME", help="period end, exclusive")
    c.add_argument("--tenant", help="a tenant pack: only entries scoped to this tenant")
    c.add_argument("--framework", action="append", metavar="F", help="limit findings (repeatable)")
    c.add_argument("--out", metavar="DIR|FILE.zip", help="where to write the pack (key: PEM file)")
    c.add_argument("--jwk", action="store_true", help="key: print the public key as a JWK")
    c.add_argument(
        "--findings",
        metavar="FILE",
        help="a recorded assessment of the period (edgeaudit evaluate --json, recorded) to "
        "include (default: the recorded assessment of the period if still current, else a "
        "fresh evaluate of --policies, recorded)",
    )
    c.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    c.add_argument("--inventory", metavar="FILE", help="inventory YAML (tenant packs need it)")
    c.add_argument(
        "--previous",
        metavar="FILE",
        action="append",
        help="previous pack's checkpoint (--campus: repeatable, each routed by its origin)",
    )
    c.add_argument(
        "--campus",
        action="store_true",
        help="a campus pack (edgeaudit-pack/3): this log and every [[mirror]] pod's log, with "
        "the campus assessment (evaluate --campus)",
    )
    c.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a signed checkpoint note from the log key's holder (checkpoint sign --out): "
        "build on it instead of signing one here (no log private key needed)",
    )
    c.add_argument("--no-pdf", action="store_true", help="skip report.pdf")
    c.add_argument("--raci", metavar="FILE", help="RACI matrix (default: policies/raci.yaml)")


def add_service_commands(cmd: Command) -> None:
    """backup, restore, token, serve."""
    c = cmd("backup", "write a consistent backup of the store and the workspace into DEST")
    c.add_argument("dest", metavar="DEST", help="a new (or empty) directory")
    c.add_argument("--include-keys", action="store_true", help="also the private keys, encrypted")
    c.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="backup: encrypt the keys with the passphrase in VAR; restore: decrypt them",
    )
    c = cmd("restore", "put a backup back and verify the store against the kept checkpoint")
    c.add_argument("src", metavar="SRC", help="a directory written by `edgeaudit backup`")
    c.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the workspace to restore into (created if it is none yet)",
    )
    c.add_argument("--force", action="store_true", help="replace a store that holds entries")
    c.add_argument("--passphrase-env", metavar="VAR", help="the passphrase of the backup's keys")

    c = cmd("token", "issue, revoke or list API tokens for `edgeaudit serve` (ES256 JWTs)")
    c.add_argument("action", choices=["issue", "revoke", "list"])
    c.add_argument("id", nargs="?", metavar="ID", help="revoke: the token id")
    c.add_argument("--role", choices=["officer", "security", "auditor", "tenant"])
    c.add_argument("--tenant", help="--role tenant: the tenant (from the inventory)")
    c.add_argument("--ttl", default="1h", help="lifetime, e.g. 30m, 1h, 7d (default 1h)")
    c.add_argument("--subject", help="who the token is for (default: role:tenant)")
    c.add_argument("--reason", help="revoke: why (recorded)")
    c.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")

    c = cmd("serve", "serve the API, the public log endpoints and the pages (ASGI)")
    c.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    c.add_argument("--policies", metavar="DIR", help="policy directory (default: policies/)")
    c.add_argument("--with-scheduler", action="store_true", help="also run the probe schedule")
    c.add_argument("--max-body", type=int, default=64 * 1024, help="request body limit, bytes")
    c.add_argument("--rate", type=float, default=10.0, help="requests per second per token")
    c.add_argument("--burst", type=int, default=40, help="burst of requests per token")
    c.add_argument("--secure-cookies", action="store_true", help="session cookie Secure flag")
    c.add_argument("--no-pdf", action="store_true", help="export packs without report.pdf")
    c.add_argument("--alert-webhook", metavar="URL", help="POST alerts (JSON) to URL")
    c.add_argument("--alert-command", metavar="CMD", help="run CMD with each alert on stdin")
    c.add_argument("--alert-interval", type=float, default=30.0, help="seconds between checks")
    c.add_argument("--verify-every", type=float, default=0.0, help="verify the store every S s")
    c.add_argument(
        "--cache-seconds", type=float, default=60.0, help="reuse an assessment this long"
    )
    c.add_argument("--max-pending", type=int, default=3, help="waiting exports per scope")
    c.add_argument("--public-url", metavar="URL", help="the service's address (default: listen)")
    c.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="honour X-Forwarded-For from this address or network (repeatable)",
    )
    c.add_argument("--session-idle", type=float, default=1800.0, help="page session idle, s")
    c.add_argument("--session-max", type=float, default=43200.0, help="page session lifetime, s")
    c.add_argument("--no-access-log", action="store_true", help="no JSON access log on stderr")
    c.add_argument("--export-ttl", default="7d", help="delete finished exports after (7d)")
    c.add_argument("--export-quota", type=int, default=20, help="exports per scope per day")
    c.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
