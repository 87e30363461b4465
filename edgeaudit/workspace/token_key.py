"""The workspace's token-signing key: ECDSA P-256 (ES256 JWTs for ``edgeaudit serve``).

``keys/token.key`` (PKCS#8 PEM, mode 0600, encrypted with the log key's passphrase when one is
configured), created on first use, apart from the log key and the manifest key. Its key id
(the JWT header's ``kid``) is ``tok-`` + the RFC 7638 thumbprint of its public JWK, so it can
never be mistaken for the manifest key's. The server loads the key once, keeps only the public
half for verification, and never re-reads the PEM per request.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.errors import ConfigError
from edgeaudit.verify.pack_key import thumbprint
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.keys import passphrase, read_private_key, write_private_key

TOKEN_KEY_PATH = "keys/token.key"  # noqa: S105 (a path, not a secret)
KID_PREFIX = "tok-"


def token_key_path(config: WorkspaceConfig) -> Path:
    return config.root / TOKEN_KEY_PATH


def token_kid(key: ec.EllipticCurvePublicKey) -> str:
    return KID_PREFIX + thumbprint(key)


def _passphrase(config: WorkspaceConfig) -> bytes | None:
    return passphrase(config.passphrase_env, "the workspace keys")


def _create(config: WorkspaceConfig, path: Path) -> None:
    # False: created meanwhile by another process, which is fine: use that one
    write_private_key(path, ec.generate_private_key(ec.SECP256R1()), _passphrase(config))


def load_token_key(config: WorkspaceConfig, *, create: bool = True) -> ec.EllipticCurvePrivateKey:
    """The token key (created on first use unless ``create`` is false), parsed once."""
    path = token_key_path(config)
    if not path.exists():
        if not create:
            raise ConfigError(f"token key {path} is missing; `edgeaudit token issue` creates it")
        _create(config, path)
    key = read_private_key(path, "token key", lambda: _passphrase(config))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"token key {path} is not an ECDSA P-256 key")
    return key
