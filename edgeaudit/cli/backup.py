"""``edgeaudit backup DEST`` and ``edgeaudit restore SRC``: the commands over
:mod:`edgeaudit.workspace.backup` and :mod:`edgeaudit.workspace.restore`
(docs/adr/0011-backup-and-damaged-store.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeaudit.errors import VerificationError
from edgeaudit.workspace import config as cfg


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)


def cmd_backup(args: argparse.Namespace) -> int:
    from edgeaudit.workspace.backup import backup_workspace

    config = cfg.load(cfg.find_root(args.workspace))
    result = backup_workspace(
        config,
        Path(args.dest),
        include_keys=args.include_keys,
        passphrase_env=args.passphrase_env,
    )
    m = result.manifest
    store = m["store"]
    checkpoint = (
        f"checkpoint of size {store['checkpoint_size']} (signature and root checked)"
        if store["checkpoint_size"] is not None
        else "no checkpoint signed yet"
    )
    workspace_files = [n for n in m["files"] if n.startswith("workspace/")]
    keys = (
        f"{len(m['keys']['files'])} private key(s), encrypted with ${args.passphrase_env}"
        if m["keys"]["included"]
        else "private keys not included (--include-keys --passphrase-env VAR adds them)"
    )
    _emit(
        args,
        {"backup": str(result.dest), **m},
        f"backed up {config.root} to {result.dest}\n"
        f"  store:     {store['backend']}, {store['tree_size']} entries, {checkpoint}\n"
        f"             copied with {store['tool']}\n"
        f"  workspace: {len(workspace_files)} file(s) "
        f"({', '.join(n.removeprefix('workspace/') for n in workspace_files)})\n"
        f"  keys:      {keys}\n"
        f"  every file is readable by its owner only; restore with "
        f"`edgeaudit restore {result.dest}`",
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from edgeaudit.workspace.restore import restore_workspace

    root = cfg.find_root(args.workspace)
    result = restore_workspace(
        Path(args.src), root, force=args.force, passphrase_env=args.passphrase_env
    )
    report = result.report
    store = result.manifest["store"]
    data = {
        "workspace": str(result.root),
        "store": result.store,
        "backup": str(Path(args.src).absolute()),
        "backup_created_at": result.manifest.get("created_at"),
        "created_workspace": result.created_workspace,
        "replaced_store_moved_to": str(result.replaced) if result.replaced else None,
        "workspace_files_written": result.written,
        "trusted_checkpoint": result.trusted_from,
        "verify": report.to_dict(),
    }
    lines = [
        f"restored {result.store} from {Path(args.src).absolute()} "
        f"(backup of {result.manifest.get('created_at')}: {store['tree_size']} entries)",
    ]
    if result.created_workspace:
        lines.append(f"  created the workspace {result.root}")
    if result.replaced:
        lines.append(f"  the store it replaced was renamed to {result.replaced}")
    if result.written:
        lines.append(f"  workspace files written or merged: {', '.join(result.written)}")
    against = (
        f"against the checkpoint in {result.trusted_from}"
        if result.trusted_from
        else "(no checkpoint had been signed: nothing to prove it against)"
    )
    if report.ok:
        extends = (
            f", extends the trusted checkpoint of size {report.trusted_checkpoint}"
            if report.trusted_checkpoint is not None
            else ""
        )
        lines.append(
            f"verified {against}: OK: {report.entries_checked} entries, chain and tree "
            f"intact; {report.checkpoints_checked} signed checkpoint(s) verified{extends}\n"
            f"root {report.root_hash}"
        )
    else:
        lines.append(
            f"FAILED: the restored store does not prove itself {against}: "
            f"{len(report.problems)} problem(s):"
        )
        lines += [f"  [{p.code}] {p}" for p in report.problems]
        if any(p.code == "trusted.not_extended" for p in report.problems):
            lines.append(
                "  the backup is older than the workspace's last checkpoint: entries appended "
                "after the backup are not in it (restore a newer backup if there is one)"
            )
    _emit(args, data, "\n".join(lines))
    return 0 if report.ok else VerificationError.exit_code
