"""Small helpers every store command shares: output, the workspace, the log of ``--log``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeaudit.store import EvidenceLog, Store
from edgeaudit.workspace import config as cfg


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)


def _workspace(args: argparse.Namespace) -> cfg.WorkspaceConfig:
    return cfg.load(cfg.find_root(args.workspace))


def _open(
    config: cfg.WorkspaceConfig,
    args: argparse.Namespace | None = None,
    *,
    writes: str | None = None,
) -> tuple[Store, EvidenceLog]:
    """The store and the log of ``--log`` (default: the workspace's own); a missing, damaged
    or replaced store is one error saying what the workspace remembers of it and how to
    restore it (workspace/state.py). ``writes``: the command (named in the message) writes
    into the log, so a mirrored pod's log or another log is refused (exit 2)."""
    from edgeaudit.workspace.state import open_log

    store, log, _ = open_log(config, _origin(args), writes=writes)
    return store, log


def _origin(args: argparse.Namespace | None) -> str | None:
    return getattr(args, "log", None) if args is not None else None


def _choice(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> Any:
    from edgeaudit.workspace.state import choose_log

    return choose_log(config, _origin(args))


def _refuse_write(args: argparse.Namespace, config: cfg.WorkspaceConfig, what: str) -> None:
    """Exit 2 before anything is read or written when ``--log`` names a mirrored pod's log
    (another origin is refused once the store is opened, naming the logs it holds)."""
    from edgeaudit.workspace.state import refuse_write

    choice = _choice(args, config)
    if choice.mirror is not None:
        refuse_write(choice, what)
