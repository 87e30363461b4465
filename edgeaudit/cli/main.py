"""``edgeaudit``: the command line. Thin: parse arguments, call the library, print.

Results go to stdout (``--json`` for machines), logs and errors to stderr.

Exit codes (one table for every command, README "Exit codes"): 0 success; 1 verification
failed, a violation found, a fork detected; 2 usage, configuration or input error (nothing was
written); 3 completed but inconclusive; 4 internal error (a bug: the traceback with ``-v``);
130 interrupted. No Python traceback reaches a user without ``-v``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from edgeaudit import __version__
from edgeaudit.errors import EdgeauditError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4
# commands that take --log ORIGIN: the log of a store holding several (e.g. mirrored pods')
_LOG_COMMANDS = frozenset(
    {"key", "append", "checkpoint", "proof", "verify", "collect", "probe", "pack"}
    | {"quarantine", "evaluate", "status"}
)
log = logging.getLogger("edgeaudit")


def parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (also used to run manifest entries as collect commands)."""
    return _parser()


class _ArgumentParser(argparse.ArgumentParser):
    """Keeps its last usage error, so ``--json`` can put it on stdout too."""

    last_error: str | None = None

    def error(self, message: str) -> NoReturn:
        _ArgumentParser.last_error = f"{self.prog}: {message}"
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(
        prog="edgeaudit",
        description="Tamper-evident audit evidence for multi-tenant micro edge data centers.",
        epilog=(
            "Exit codes: 0 ok; 1 verification failed, a violation or a fork found; 2 usage, "
            "configuration or input error (nothing written); 3 completed but inconclusive; "
            "4 internal error."
        ),
    )
    p.add_argument("--version", action="version", version=f"edgeaudit {__version__}")
    p.add_argument(
        "--workspace",
        "-w",
        metavar="DIR",
        help="workspace directory (default: $EDGEAUDIT_WORKSPACE, else the current directory)",
    )
    p.add_argument(
        "--log",
        dest="log_first",
        metavar="ORIGIN",
        help="the log of the store to work on (before or after the command; default: the "
        "workspace's own; a mirrored pod's log is read-only)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    p.add_argument(
        "--json",
        dest="json_first",
        action="store_true",
        help="print JSON instead of text (before or after the command), errors too",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_)
        c.add_argument("--json", action="store_true", help="print JSON instead of text")
        if name in _LOG_COMMANDS:
            c.add_argument(
                "--log",
                metavar="ORIGIN",
                help="the log of the store (default: the workspace's own; a [[mirror]] is "
                "read-only, trusted with its pod's key)",
            )
        return c

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

    from edgeaudit.cli import witness as witness_cli

    witness_cli.add_arguments(cmd("witness", "run a C2SP tlog-witness: init, key, serve"))

    from edgeaudit.cli import mirror as mirror_cli

    mirror_cli.add_arguments(
        cmd("mirror", "mirror pods' logs (C2SP tiles) here: add, sync, list, resolve")
    )

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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    _ArgumentParser.last_error = None
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help / --version exit 0
        code = int(exc.code or 0)
        if code and "--json" in (sys.argv[1:] if argv is None else list(argv)):
            import json

            message = f"usage error: {_ArgumentParser.last_error or 'see stderr'}"
            print(json.dumps({"error": {"exit_code": code, "message": message}}))
        return code
    if getattr(args, "json_first", False):
        args.json = True
    if args.command in _LOG_COMMANDS:
        args.log = args.log or args.log_first
    elif args.log_first is not None:  # e.g. init, serve, witness: no log of the store to pick
        return _error(args, EXIT_USAGE, f"{args.command} does not take --log")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="edgeaudit: %(levelname)s: %(message)s",
        force=True,  # the CLI owns the logging of its process (and of each in-process run)
    )
    from edgeaudit import extras

    try:
        extras.require(args)  # a missing optional part: exit 2 naming the extra to install
        code = int(_handler(args.command, args)(args))
        sys.stdout.flush()
        return code
    except EdgeauditError as exc:
        if args.verbose:
            log.exception("failed")
        return _error(args, exc.exit_code, str(exc))
    except KeyboardInterrupt:
        print("edgeaudit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except ModuleNotFoundError as exc:
        missing = extras.for_module(exc.name, args)
        if missing is None:
            return _internal(args, exc)
        if args.verbose:
            log.exception("failed")
        return _error(args, missing.exit_code, str(missing))
    except Exception as exc:  # a bug: one line and exit 4, never exit 1 ("verification failed")
        return _internal(args, exc)


def _handler(command: str, args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The command's function; each command module imports only what its commands need."""
    if command in ("token", "serve"):
        from edgeaudit.cli import serve as commands
    elif command == "witness":
        from edgeaudit.cli import witness as commands  # type: ignore[no-redef]
    elif command == "mirror":
        from edgeaudit.cli import mirror as commands  # type: ignore[no-redef]
    elif command in ("backup", "restore"):
        from edgeaudit.cli import backup as commands  # type: ignore[no-redef]
    elif command == "probe":  # probe run: the engine starts before the store is imported
        from edgeaudit.cli import probe as commands  # type: ignore[no-redef]
    elif command == "pack" or getattr(args, "pack", None):
        from edgeaudit.cli import pack as commands  # type: ignore[no-redef]  # verify PACK: no store
    else:
        from edgeaudit.cli import commands  # type: ignore[no-redef]
    handler: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{command}")
    return handler


def _internal(args: argparse.Namespace, exc: Exception) -> int:
    """A bug: one line and exit 4, never exit 1 ("verification failed")."""
    if args.verbose:
        log.exception("internal error")
    return _error(
        args,
        EXIT_INTERNAL,
        f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)",
    )


def _error(args: argparse.Namespace, code: int, message: str) -> int:
    """An error on stderr; with --json also as JSON on stdout."""
    print(f"edgeaudit: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        import json

        try:
            print(json.dumps({"error": {"exit_code": code, "message": message}}), flush=True)
        except BrokenPipeError:
            return _closed_pipe(code)
    return code


def _closed_pipe(code: int = EXIT_OK) -> int:
    """Output into a closed pipe (``| head``) ends quietly."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
