"""``edgeaudit pack key rotate``: roll the manifest key over to a new one.

The rollover statement (docs/pack-format.md, "Keys: separation, rotation, revocation") is two
lines, two compact JWS (ES256, ``typ`` ``edgeaudit-key-rollover+jws``) over the same canonical
JSON payload ``{"next": <new public JWK with kid>, "origin", "previous": <old kid>,
"tree_size": N, "type": "edgeaudit manifest key rollover"}``: the first signed by the previous
key (it hands trust over), the second by the next key (its holder took it). Packs whose
checkpoint is larger than N are then the next key's alone; the previous key's packs up to N
still verify. The previous key file is kept as ``keys/manifest-<kid prefix>.retired.key`` for
its holder to destroy; ``keys/manifest.key`` and ``keys/manifest.pub`` become the new key's.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import ConfigError
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.verify.pack_keys import ROLLOVER_JWS_TYPE, ROLLOVER_TYPE
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.keys import write_private_key
from edgeaudit.workspace.manifest_key import (
    MANIFEST_PUBLIC_PATH,
    _passphrase,
    manifest_key_path,
    manifest_signing_key,
)


def _sign(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    token = jws.sign(
        payload, key, headers={"kid": kid, "typ": ROLLOVER_JWS_TYPE}, algorithm=pf.ALGORITHMS[0]
    )
    return token if isinstance(token, str) else token.decode("ascii")


def rotate_manifest_key(config: WorkspaceConfig, tree_size: int) -> tuple[bytes, ManifestKey]:
    """Make a new manifest key from packs of checkpoint size ``tree_size`` on; return the
    rollover statement and the new public key. Also written to ``keys/manifest-rollover-<N>``."""
    path = manifest_key_path(config)
    with manifest_signing_key(config, create=False) as (previous, old):
        key = ec.generate_private_key(ec.SECP256R1())
        new = ManifestKey.from_public_key(key.public_key())
        payload = canonical_json(
            {
                "next": new.jwk(),
                "origin": config.origin,
                "previous": old.kid,
                "tree_size": tree_size,
                "type": ROLLOVER_TYPE,
            }
        )
        statement = (
            f"{_sign(payload, previous, old.kid)}\n{_sign(payload, key, new.kid)}\n"
        ).encode("ascii")
    retired = path.with_name(f"manifest-{old.kid[:12]}.retired.key")
    if retired.exists():
        raise ConfigError(f"{retired} already exists; refusing to overwrite a key")
    path.rename(retired)
    try:
        if not write_private_key(path, key, _passphrase(config)):
            raise ConfigError(f"{path} already exists; refusing to overwrite a key")
    except BaseException:
        retired.rename(path)
        raise
    (config.root / MANIFEST_PUBLIC_PATH).write_text(new.public_pem, encoding="ascii")
    record = Path(path.with_name(f"manifest-rollover-{tree_size}.jws"))
    record.write_bytes(statement)
    return statement, new
