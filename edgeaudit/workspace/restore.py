"""Restore a workspace from a backup (:mod:`edgeaudit.workspace.backup` writes it and describes
its layout).

Restoring checks every file's SHA-256 and refuses to replace a store that holds entries unless
forced; then the restored store is verified in full against the checkpoint the workspace kept
(``keys/last-checkpoint``), or the backup's own when the workspace has none: the equivalent of
``verify --trusted-checkpoint``. Everything is checked before anything is written.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from edgeaudit.errors import ConfigError, InputError, VerificationError
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import Store, health
from edgeaudit.store import backup as copies
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace import state
from edgeaudit.workspace.backup import (
    CHECKPOINT,
    FORMAT,
    MANIFEST,
    TOKENS,
    WORKSPACE,
    env_secret,
    file_digest,
    workspace_path,
)
from edgeaudit.workspace.keys import passphrase, write_private_key


@dataclass
class RestoreResult:
    root: Path
    manifest: dict[str, Any]
    store: str
    created_workspace: bool
    replaced: Path | None  # the SQLite store renamed aside, if any
    trusted_from: str | None  # which note the restored store was checked against
    written: list[str] = field(default_factory=list)  # workspace files written or merged
    report: Any = None  # VerifyReport


def read_manifest(src: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file it lists (VerificationError, exit 1,
    naming the file when one is missing or differs)."""
    try:
        manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{src} is not an edgeaudit backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{src / MANIFEST}: cannot read the backup manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{src / MANIFEST}: not an {FORMAT} manifest")
    for name, want in manifest.get("files", {}).items():
        path = src / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise InputError(f"{src / MANIFEST}: file name {name!r} leaves the backup")
        if not path.is_file():
            raise VerificationError(f"backup damaged: {path} is missing")
        found = file_digest(path)["sha256"]
        if found != want.get("sha256"):
            raise VerificationError(
                f"backup damaged: {path}: SHA-256 expected {want.get('sha256')}, found {found}"
            )
    return manifest


def _backup_config(src: Path) -> cfg.WorkspaceConfig:
    """The configuration in the backup (its paths point into the backup)."""
    if not (src / WORKSPACE / cfg.CONFIG_NAME).is_file():
        raise InputError(f"{src} holds no {WORKSPACE}/{cfg.CONFIG_NAME}")
    saved = os.environ.pop(cfg.ENV_DB_URL, None)
    try:
        return cfg.load(src / WORKSPACE)
    finally:
        if saved is not None:
            os.environ[cfg.ENV_DB_URL] = saved


def restore_workspace(
    src: Path,
    root: Path,
    *,
    force: bool = False,
    passphrase_env: str | None = None,
) -> RestoreResult:
    """Put the backup ``src`` back into the workspace ``root`` (created if it is none yet)
    and verify the restored store. Everything is checked before anything is written."""
    src = src.absolute()
    manifest = read_manifest(src)
    saved = _backup_config(src)
    existing = (root / cfg.CONFIG_NAME).is_file()
    if existing:
        config = cfg.load(root)
        if (config.origin, config.verifier_key) != (saved.origin, saved.verifier_key):
            raise ConfigError(
                f"the backup is of log {saved.origin!r} with key {saved.verifier_key}; the "
                f"workspace {root} keeps log {config.origin!r} with key {config.verifier_key}: "
                "restore it into its own workspace (--workspace DIR)"
            )
    else:
        config = _config_at(saved, root)
    store_url = config.db_url
    backend = copies.backend_of(store_url)
    if backend != manifest["store"]["backend"]:
        raise ConfigError(
            f"the backup holds a {manifest['store']['backend']} store but the workspace's store "
            f"is {backend} ({health.location(store_url)})"
        )
    if backend == "postgresql":
        copies.require_tool("pg_restore")
    keys = _keys_to_restore(src, manifest, config, passphrase_env)
    kept = state.kept_checkpoint(config) if existing else None
    trusted, trusted_from = kept, str(config.state_file) if kept else None
    if trusted is None and manifest.get("checkpoint"):
        trusted = (src / CHECKPOINT).read_bytes()
        trusted_from = f"{src / CHECKPOINT} (the backup's own: the workspace kept none)"
    if not force and not copies.is_empty(store_url):
        raise ConfigError(
            f"refusing to overwrite the store {health.location(store_url)}: it holds "
            "entries or checkpoints (or cannot be read); pass --force to replace it"
            + (" (it is renamed aside, not deleted)" if backend == "sqlite" else "")
        )
    # -- nothing was written up to here --
    result = RestoreResult(
        root, manifest, health.location(store_url), not existing, None, trusted_from
    )
    if not existing:
        root.mkdir(parents=True, exist_ok=True)
        _copy_new(src / WORKSPACE / cfg.CONFIG_NAME, root / cfg.CONFIG_NAME, mode=0o644)
        result.written.append(cfg.CONFIG_NAME)
        config = cfg.load(root)
    _prepare_store_dir(config)
    copy = src / manifest["store"]["file"]
    if backend == "sqlite":
        result.replaced = copies.restore_sqlite(copy, config.db_url, force=force)
    else:
        copies.restore_postgres(copy, config.db_url, force=force)
    result.written += _restore_files(src, config)
    for rel, key in keys.items():
        secret = passphrase(config.passphrase_env, "the workspace keys")
        if write_private_key(workspace_path(config, rel), key, secret):
            result.written.append(rel)
    result.report = verify_restored(config, trusted)
    return result


def _config_at(saved: cfg.WorkspaceConfig, root: Path) -> cfg.WorkspaceConfig:
    """The backup's configuration as it will read once written into ``root``."""
    raw = (saved.root / cfg.CONFIG_NAME).read_text(encoding="utf-8")
    url = os.environ.get(cfg.ENV_DB_URL) or tomllib.loads(raw)["store"]["url"]
    return cfg.WorkspaceConfig(
        root=root,
        site=saved.site,
        origin=saved.origin,
        verifier_key=saved.verifier_key,
        private_key=root / saved.private_key.relative_to(saved.root),
        passphrase_env=saved.passphrase_env,
        db_url=cfg.resolve_db_url(url, root),
    )


def _keys_to_restore(
    src: Path, manifest: dict[str, Any], config: cfg.WorkspaceConfig, env: str | None
) -> dict[str, Any]:
    """The backup's keys the workspace lacks, decrypted (checked before anything is written)."""
    wanted = [
        name.removeprefix(f"{WORKSPACE}/")
        for name in manifest.get("keys", {}).get("files", [])
        if not workspace_path(config, name.removeprefix(f"{WORKSPACE}/")).exists()
    ]
    if not wanted:
        return {}
    secret = env_secret(
        env, f"the backup's keys ({', '.join(wanted)}) are encrypted; restoring them"
    )
    if config.passphrase_env:
        passphrase(config.passphrase_env, "the workspace keys")  # must be set to re-encrypt
    out = {}
    for rel in wanted:
        path = src / WORKSPACE / rel
        try:
            out[rel] = serialization.load_pem_private_key(path.read_bytes(), secret)
        except (ValueError, TypeError):
            raise ConfigError(
                f"cannot decrypt {path}: wrong passphrase in ${env}, or not a PEM private key"
            ) from None
    return out


def _copy_new(src: Path, dest: Path, mode: int = 0o600) -> None:
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(src.read_bytes())


def _prepare_store_dir(config: cfg.WorkspaceConfig) -> None:
    """The default store directory (``evidence/``) of a workspace restored into a new place."""
    path = health.sqlite_path(config.db_url)
    if path is None:
        return
    parent = Path(path).parent
    if not parent.exists() and parent.is_relative_to(config.root):
        parent.mkdir(mode=0o700, parents=True)


def _restore_files(src: Path, config: cfg.WorkspaceConfig) -> list[str]:
    """Token ledgers are merged (the workspace's newer revocations are kept); state files are
    written only where the workspace has none (its own last checkpoint stays authoritative)."""
    written = []
    base = src / WORKSPACE
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if not path.is_file() or rel == cfg.CONFIG_NAME or rel.endswith(".key"):
            continue
        dest = workspace_path(config, rel)
        if rel.startswith(f"{TOKENS}/"):
            if _merge_lines(path, dest):
                written.append(rel)
        elif not dest.exists():
            _copy_new(path, dest, 0o644 if rel.endswith(".pub") else 0o600)
            written.append(rel)
    return written


def _merge_lines(src: Path, dest: Path) -> bool:
    """Append the lines of ``src`` that ``dest`` lacks; True if anything was added."""
    have = dest.read_bytes().splitlines() if dest.exists() else []
    known = set(have)
    missing = [line for line in src.read_bytes().splitlines() if line and line not in known]
    if not missing:
        return False
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as fh:
        if have and not dest.read_bytes().endswith(b"\n"):
            fh.write(b"\n")
        fh.write(b"\n".join(missing) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


def verify_restored(config: cfg.WorkspaceConfig, trusted: bytes | None) -> Any:
    """Check the restored store's pages, then verify it in full against ``trusted``: what
    ``edgeaudit verify --trusted-checkpoint`` does. Returns the VerifyReport."""
    from edgeaudit.verify import verify_log

    with Store.open(config.db_url) as store:
        store.check_pages()
        log = store.log(config.origin)
        report = verify_log(log, [Verifier.parse(config.verifier_key)], trusted=trusted)
        state.record_seen(config, report.tree_size, _latest_size(log))
    return report


def _latest_size(log: Any) -> int | None:
    latest = log.latest_checkpoint()
    return latest.tree_size if latest else None
