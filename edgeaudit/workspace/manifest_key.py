"""The workspace's manifest-signing key: ECDSA P-256 for ES256 JWS, apart from the log key.

``keys/manifest.key`` (PKCS#8 PEM, mode 0600, encrypted with the log key's passphrase when one
is configured), created on first use. Its key id is the RFC 7638 thumbprint of its public JWK.
Only signing commands import this module; the key lives only inside the ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.errors import ConfigError
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.keys import passphrase, read_private_key, write_private_key

MANIFEST_KEY_PATH = "keys/manifest.key"
MANIFEST_PUBLIC_PATH = "keys/manifest.pub"  # the public half, for `verify PACK` in the workspace


def manifest_key_path(config: WorkspaceConfig) -> Path:
    return config.root / MANIFEST_KEY_PATH


def _passphrase(config: WorkspaceConfig) -> bytes | None:
    return passphrase(config.passphrase_env, "the workspace keys")


def create_manifest_key(config: WorkspaceConfig) -> ManifestKey:
    """Generate the manifest key (never overwriting one); return its public half."""
    path = manifest_key_path(config)
    key = ec.generate_private_key(ec.SECP256R1())
    if not write_private_key(path, key, _passphrase(config)):
        raise ConfigError(f"{path} already exists; refusing to overwrite a key")
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
    key = read_private_key(path, "manifest key", lambda: _passphrase(config))
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
