"""Back up a workspace: the store, ``edgeaudit.toml``, the token ledger, the checkpoint notes
and, only when asked, the private keys encrypted with a passphrase. Restoring it is
:mod:`edgeaudit.workspace.restore`.

A backup is a directory (mode 0700, every file 0600)::

    backup.json              manifest: origin, verifier key, store backend and tool, tree size,
                             checkpoint, and the SHA-256 of every other file
    store.db | store.pgdump  the store (SQLite online backup, or pg_dump custom format)
    checkpoint               the latest checkpoint note in that copy of the store
    workspace/edgeaudit.toml
    workspace/tokens/...     issued and revoked tokens (revocations must survive a restore)
    workspace/keys/last-checkpoint, manifest.pub; packs/last-checkpoint
    workspace/keys/*.key     only with --include-keys: PKCS#8, encrypted with the passphrase

It is written under a temporary name next to DEST and renamed when complete, so a failed
backup leaves nothing that looks like one. A store whose latest checkpoint does not verify is
not backed up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

import edgeaudit
from edgeaudit.errors import ConfigError, InputError, NoteError, VerificationError
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store import backup as copies
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import passphrase, read_private_key

FORMAT = "edgeaudit-backup/1"
MANIFEST = "backup.json"
CHECKPOINT = "checkpoint"
WORKSPACE = "workspace"
TOKENS = "tokens"
STATE_FILES = (  # keys/last-seen.json is not copied: a restore records what it restored
    "keys/last-checkpoint",  # SIGNER_STATE
    "keys/manifest.pub",
    "packs/last-checkpoint",
)
OTHER_KEYS = {"keys/manifest.key": "manifest key", "keys/token.key": "token key"}


@dataclass
class BackupResult:
    dest: Path
    manifest: dict[str, Any]


# -- backup ---------------------------------------------------------------------------------


LOG_KEY = "keys/log.key"
SIGNER_STATE = "keys/last-checkpoint"


def workspace_path(config: cfg.WorkspaceConfig, rel: str) -> Path:
    """Where a file named ``rel`` in a backup belongs in the workspace: the log key and the
    signer's note go where the configuration puts them, everything else under the root."""
    if rel == LOG_KEY:
        return config.private_key
    if rel == SIGNER_STATE:
        return config.state_file
    return config.root / rel


def key_files() -> dict[str, str]:
    """Backup name -> label of every private key a workspace may hold."""
    return {LOG_KEY: "log key", **OTHER_KEYS}


def env_secret(env: str | None, what: str) -> bytes:
    if not env:
        raise ConfigError(f"{what} needs a passphrase: pass --passphrase-env VAR")
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{what}: set the passphrase in ${env} (it is empty or unset)")
    return value.encode("utf-8")


def _encrypted_keys(config: cfg.WorkspaceConfig, secret: bytes) -> dict[str, bytes]:
    """Every private key of the workspace, re-serialized encrypted with ``secret``."""
    out = {}
    for rel, label in key_files().items():
        path = workspace_path(config, rel)
        if not path.exists():
            continue
        key = read_private_key(
            path, label, lambda: passphrase(config.passphrase_env, "the workspace keys")
        )
        out[rel] = key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )
    return out


def backup_workspace(
    config: cfg.WorkspaceConfig,
    dest: Path,
    *,
    include_keys: bool = False,
    passphrase_env: str | None = None,
) -> BackupResult:
    """Write a backup of the workspace into the new directory ``dest``."""
    if passphrase_env and not include_keys:
        raise InputError("--passphrase-env encrypts the keys of --include-keys; add that too")
    dest = dest.absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} already exists and is not an empty directory; nothing written")
    if not dest.parent.is_dir():
        raise InputError(f"directory {dest.parent} does not exist; nothing was written")
    backend = copies.backend_of(config.db_url)
    if backend == "postgresql":
        copies.require_tool("pg_dump")
    keys: dict[str, bytes] = {}
    if include_keys:
        keys = _encrypted_keys(config, env_secret(passphrase_env, "--include-keys"))
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        manifest = _write_backup(config, tmp, keys)
        if dest.exists():
            dest.rmdir()
        tmp.replace(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BackupResult(dest, manifest)


def _write_backup(config: cfg.WorkspaceConfig, tmp: Path, keys: dict[str, bytes]) -> dict[str, Any]:
    if copies.backend_of(config.db_url) == "sqlite":
        copy = copies.copy_sqlite(config.db_url, config.origin, tmp)
    else:
        copy = copies.dump_postgres(config.db_url, config.origin, tmp)
    checkpoint = None
    if copy.checkpoint is not None:
        _check_copy(config, copy)
        checkpoint = copy.checkpoint.note
        _write(tmp / CHECKPOINT, checkpoint.encode("utf-8"))
    files = [copy.file, *([CHECKPOINT] if checkpoint else [])]
    for rel in ("edgeaudit.toml", *STATE_FILES, *_token_files(config.root)):
        src = workspace_path(config, rel)
        if src.is_file():
            _write(tmp / WORKSPACE / rel, src.read_bytes())
            files.append(f"{WORKSPACE}/{rel}")
    for rel, pem in keys.items():
        _write(tmp / WORKSPACE / rel, pem)
        files.append(f"{WORKSPACE}/{rel}")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "edgeaudit_version": edgeaudit.__version__,
        "workspace": str(config.root),
        "site": config.site,
        "origin": config.origin,
        "verifier_key": config.verifier_key,
        "store": {
            "backend": copy.backend,
            "file": copy.file,
            "tool": copy.tool,
            "tree_size": copy.tree_size,
            "checkpoint_size": copy.checkpoint.tree_size if copy.checkpoint else None,
        },
        "checkpoint": CHECKPOINT if checkpoint else None,
        "keys": {
            "included": bool(keys),
            "files": sorted(f"{WORKSPACE}/{rel}" for rel in keys),
            "encryption": "PKCS#8 PEM, BestAvailableEncryption (the --passphrase-env value)"
            if keys
            else None,
        },
        "files": {name: file_digest(tmp / name) for name in sorted(files)},
    }
    _write(tmp / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    _fsync_tree(tmp)
    return manifest


def _check_copy(config: cfg.WorkspaceConfig, copy: copies.StoreCopy) -> None:
    """The copy's latest checkpoint is signed by the workspace key and matches the copy's tree."""
    assert copy.checkpoint is not None
    try:
        signed = verify_checkpoint(
            copy.checkpoint.note.encode("utf-8"),
            [Verifier.parse(config.verifier_key)],
            origin=config.origin,
        )
    except NoteError as exc:
        raise VerificationError(
            f"the store's latest checkpoint does not verify ({exc}); not backing up a store "
            "that fails verification: run `edgeaudit verify`"
        ) from exc
    if signed.size and signed.root != copy.root_at_checkpoint:
        raise VerificationError(
            f"the copied store's tree of size {signed.size} does not match its signed "
            "checkpoint; not backing up a store that fails verification: run `edgeaudit verify`"
        )


def _token_files(root: Path) -> list[str]:
    tokens = root / TOKENS
    if not tokens.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in tokens.rglob("*") if p.is_file())


def _write(path: Path, data: bytes) -> None:
    """A new file readable by the owner only, in directories only the owner may enter."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest(), "bytes": path.stat().st_size}


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        path.chmod(0o700 if path.is_dir() else 0o600)
        fd = os.open(path, os.O_RDONLY)
        try:
            with suppress(OSError):  # a directory cannot be fsynced everywhere
                os.fsync(fd)
        finally:
            os.close(fd)
