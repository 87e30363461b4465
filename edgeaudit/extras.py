"""Optional parts of edgeaudit and the message when a command needs one that is not installed.

``pip install edgeaudit`` gives the core: the evidence store (SQLite), proofs, checkpoints and
``verify PACK``. Collectors, the policy engine, probes, the PDF report, PostgreSQL and the
service are extras (``pip install 'edgeaudit[policy]'``; ``[all]`` for everything). A command
that needs a missing extra stops before it does anything, with exit 2 and a message naming the
extra and the pip command, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Final

from edgeaudit.errors import ConfigError

# The modules whose presence shows that an extra is installed (its direct dependencies).
EXTRAS: Final[dict[str, tuple[str, ...]]] = {
    "collect": ("yaml", "defusedxml"),
    "policy": ("yaml", "cedarpy"),
    "probe": ("yaml", "cedarpy", "scapy", "croniter"),
    "pdf": ("weasyprint", "jinja2"),
    "postgres": ("psycopg",),
    "serve": ("yaml", "cedarpy", "fastapi", "uvicorn", "multipart", "jinja2"),
}

# What each extra is for, in the message.
PURPOSE: Final[dict[str, str]] = {
    "collect": "the collectors",
    "policy": "the policy engine",
    "probe": "the segmentation probes",
    "pdf": "the PDF report",
    "postgres": "PostgreSQL stores",
    "serve": "the service",
}


class MissingExtraError(ConfigError):
    """A command needs an optional part of edgeaudit that is not installed (exit 2)."""


def needed(args: argparse.Namespace) -> tuple[str, ...]:
    """The extras a parsed command line needs before it may start."""
    command = args.command
    if command in ("collect", "demo"):
        return ("collect",)
    if command == "evaluate":
        return ("policy",)
    if command == "probe":
        return ("probe",)
    if command == "pack" and args.action == "build":
        return ("policy",) if args.no_pdf else ("policy", "pdf")
    if command == "serve":
        return ("serve",) if args.no_pdf else ("serve", "pdf")
    if command == "token" and args.action == "issue":  # tokens are for the service
        return ("serve",)
    return ()


def _missing(extra: str) -> list[str]:
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def message(extras: tuple[str, ...], command: str, modules: list[str]) -> str:
    """``edgeaudit evaluate`` needs the policy extra (...): pip install 'edgeaudit[policy]'."""
    names = " and ".join(f"the {e} extra ({PURPOSE[e]})" for e in extras)
    spec = ",".join(extras)
    gone = sorted(set(modules))
    verb = "is" if len(extras) == 1 else "are"
    noun = "modules" if len(gone) > 1 else "module"
    return (
        f"`edgeaudit {command}` needs {names}, which {verb} not installed (missing Python "
        f"{noun}: {', '.join(gone)}); install with: pip install 'edgeaudit[{spec}]' "
        "(or 'edgeaudit[all]' for everything)"
    )


def require(args: argparse.Namespace) -> None:
    """Raise :class:`MissingExtraError` when the command needs an extra that is missing."""
    lacking: list[str] = []
    modules: list[str] = []
    for extra in needed(args):
        gone = _missing(extra)
        if gone:
            lacking.append(extra)
            modules.extend(gone)
    if lacking:
        hint = ""
        if lacking == ["pdf"] and args.command in ("pack", "serve"):
            hint = "; or pass --no-pdf to go without report.pdf"
        raise MissingExtraError(message(tuple(lacking), _name(args), modules) + hint)


def for_module(module: str | None, args: argparse.Namespace) -> MissingExtraError | None:
    """The error for an import of ``module`` that failed deeper in a command, or None when
    the module is no dependency of an extra (then the failed import is a bug)."""
    top = (module or "").partition(".")[0]
    owners = [e for e, mods in EXTRAS.items() if top in mods]
    if not owners:
        return None
    wanted = [e for e in needed(args) if e in owners]
    extra = wanted[0] if wanted else owners[0]
    return MissingExtraError(message((extra,), _name(args), [top]))


def _name(args: argparse.Namespace) -> str:
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if isinstance(action, str) else str(args.command)
