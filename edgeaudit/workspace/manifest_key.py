"""The workspace's manifest-signing key: ECDSA P-256 for ES256 JWS, apart from the log key.

``keys/manifest.key`` (PKCS#8 PEM, mode 0600, encrypted with the log key's passphrase when one
is configured), created on first use. Its key id is the RFC 7638 thumbprint of its public JWK.
Only signing commands import this module; the key lives only inside the ``with`` block.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.errors import ConfigError
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.workspace.config import WorkspaceConfig

MANIFEST_KEY_PATH = "keys/manifest.key"
MANIFEST_PUBLIC_PATH = "keys/manifest.pub"  # the public half, for `verify PACK` in the workspace


def manifest_key_path(config: WorkspaceConfig) -> Path:
    return config.root / MANIFEST_KEY_PATH


def _passphrase(config: WorkspaceConfig) -> bytes | None:
    env = config.passphrase_env
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"the workspace keys are encrypted: set the passphrase in ${env}")
    return value.encode("utf-8")


def create_manifest_key(config: WorkspaceConfig) -> ManifestKey:
    """Generate the manifest key (never overwriting one); return its public half."""
    path = manifest_key_path(config)
    key = ec.generate_private_key(ec.SECP256R1())
    passphrase = _passphrase(config)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = ManifestKey.from_public_key(key.public_key())
    (config.root / MANIFEST_PUBLIC_PATH).write_text(public.public_pem, encoding="ascii")
    return public


@contextmanager
def manifest_signing_key(
    config: WorkspaceConfig, *, create: bool = True
) -> Iterator[tuple[ec.EllipticCurvePrivateKey, ManifestKey]]:
    """Load (or on first use create) the manifest key for the duration of the block."""
    path = manifest_key_path(config)
    if not path.exists():
        if not create:
            raise ConfigError(f"manifest key {path} is missing; `edgeaudit pack build` creates it")
        create_manifest_key(config)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except PermissionError as exc:
        raise ConfigError(f"cannot read manifest key {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"manifest key {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        key = serialization.load_pem_private_key(data, _passphrase(config))
    except TypeError as exc:
        raise ConfigError(
            f"manifest key {path} is encrypted but no passphrase variable is configured"
        ) from exc
    except ValueError:
        raise ConfigError(
            f"cannot load manifest key {path}: wrong passphrase or not a PEM private key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"manifest key {path} is not an ECDSA P-256 key")
    try:
        yield key, ManifestKey.from_public_key(key.public_key())
    finally:
        del key


def public_manifest_key(config: WorkspaceConfig) -> ManifestKey:
    """The public half (creating the key on first use)."""
    with manifest_signing_key(config) as (_, public):
        return public
