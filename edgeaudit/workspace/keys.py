"""The log's Ed25519 private key on disk: created owner-only (0600), optionally encrypted.

Only signing commands import this module. The key is loaded inside a ``with`` block and never
logged or printed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from edgeaudit.errors import ConfigError
from edgeaudit.note.signer import Ed25519Signer
from edgeaudit.workspace.config import WorkspaceConfig


def passphrase(env: str | None, what: str = "the log key") -> bytes | None:
    """The passphrase in environment variable ``env`` (None when keys are not encrypted)."""
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{what} is encrypted: set the passphrase in ${env}")
    return value.encode("utf-8")


def write_private_key(path: Path, key: PrivateKeyTypes, secret: bytes | None) -> bool:
    """Write ``key`` as PKCS#8 PEM (encrypted when ``secret``) to a new file, mode 0600, in a
    0700 directory. False when the file already exists (it is never overwritten)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return True


def read_private_key(path: Path, label: str, secret: Callable[[], bytes | None]) -> object:
    """Load a PEM private key that only its owner may read; ``label`` names it in errors
    ("log key", "manifest key", ...). ``secret`` is asked for the passphrase after the mode
    check."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label} {path} is missing") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {label} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{label} {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        return serialization.load_pem_private_key(data, secret())
    except TypeError as exc:
        raise ConfigError(
            f"{label} {path} is encrypted but no passphrase variable is configured"
        ) from exc
    except ValueError:
        raise ConfigError(
            f"cannot load {label} {path}: wrong passphrase or not a PEM private key"
        ) from None


def create_key(path: Path, name: str, passphrase_env: str | None) -> str:
    """Generate a key at ``path`` (mode 0600, never overwriting); return its verifier key."""
    secret = passphrase(passphrase_env)
    key = Ed25519PrivateKey.generate()
    if not write_private_key(path, key, secret):
        raise ConfigError(f"{path} already exists; refusing to overwrite a key")
    return Ed25519Signer(name, key).verifier_key


@contextmanager
def log_signer(config: WorkspaceConfig) -> Iterator[Ed25519Signer]:
    """Load the log key for the duration of the block and check it matches the config."""
    path = config.private_key
    key = read_private_key(path, "log key", lambda: passphrase(config.passphrase_env))
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"log key {path} is not an Ed25519 key")
    signer = Ed25519Signer(config.origin, key)
    if signer.verifier_key != config.verifier_key:
        raise ConfigError(
            f"log key {path} does not match the verifier key in the configuration "
            f"({config.verifier_key}); the key file was replaced?"
        )
    try:
        yield signer
    finally:
        del signer, key
