"""The workspace's token-signing key: ECDSA P-256 (ES256 JWTs for ``edgeaudit serve``).

``keys/token.key`` (PKCS#8 PEM, mode 0600, encrypted with the log key's passphrase when one is
configured), created on first use, apart from the log key and the manifest key. Its key id
(the JWT header's ``kid``) is ``tok-`` + the RFC 7638 thumbprint of its public JWK, so it can
never be mistaken for the manifest key's. The server loads the key once, keeps only the public
half for verification, and never re-reads the PEM per request.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.errors import ConfigError
from edgeaudit.verify.pack_key import thumbprint
from edgeaudit.workspace.config import WorkspaceConfig

TOKEN_KEY_PATH = "keys/token.key"  # noqa: S105 (a path, not a secret)
KID_PREFIX = "tok-"


def token_key_path(config: WorkspaceConfig) -> Path:
    return config.root / TOKEN_KEY_PATH


def token_kid(key: ec.EllipticCurvePublicKey) -> str:
    return KID_PREFIX + thumbprint(key)


def _passphrase(config: WorkspaceConfig) -> bytes | None:
    env = config.passphrase_env
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"the workspace keys are encrypted: set the passphrase in ${env}")
    return value.encode("utf-8")


def _create(config: WorkspaceConfig, path: Path) -> None:
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
        return  # created meanwhile by another process: use that one
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_token_key(config: WorkspaceConfig, *, create: bool = True) -> ec.EllipticCurvePrivateKey:
    """The token key (created on first use unless ``create`` is false), parsed once."""
    path = token_key_path(config)
    if not path.exists():
        if not create:
            raise ConfigError(f"token key {path} is missing; `edgeaudit token issue` creates it")
        _create(config, path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read token key {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"token key {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    try:
        key = serialization.load_pem_private_key(data, _passphrase(config))
    except TypeError as exc:
        raise ConfigError(
            f"token key {path} is encrypted but no passphrase variable is configured"
        ) from exc
    except ValueError:
        raise ConfigError(
            f"cannot load token key {path}: wrong passphrase or not a PEM private key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"token key {path} is not an ECDSA P-256 key")
    return key
