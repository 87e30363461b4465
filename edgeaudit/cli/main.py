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
from edgeaudit.cli import args_service, args_store
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

    # in the order of `edgeaudit --help`
    args_store.add_log_commands(cmd)
    args_service.add_pack_command(cmd)
    args_store.add_reading_commands(cmd)
    args_service.add_service_commands(cmd)

    from edgeaudit.cli import witness as witness_cli

    witness_cli.add_arguments(cmd("witness", "run a C2SP tlog-witness: init, key, serve"))

    from edgeaudit.cli import mirror as mirror_cli

    mirror_cli.add_arguments(
        cmd("mirror", "mirror pods' logs (C2SP tiles) here: add, sync, list, resolve")
    )

    args_store.add_demo_command(cmd)
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
