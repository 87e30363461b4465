"""The manifest verification key: an ECDSA P-256 public key and its RFC 7638 key id.

Verify side only: loads public keys (PEM or JWK), never a private key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import InputError


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_of(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517/7518) members of a P-256 key."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"the manifest key must be ECDSA P-256, found curve {key.curve.name}")
    numbers = key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the manifest key's ``kid``."""
    return _b64url(hashlib.sha256(canonical_json(jwk_of(key))).digest())


@dataclass(frozen=True)
class ManifestKey:
    """A trusted manifest verification key."""

    kid: str
    public_pem: str

    @classmethod
    def from_public_key(cls, key: ec.EllipticCurvePublicKey) -> ManifestKey:
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        return cls(thumbprint(key), pem)

    def jwk(self) -> dict[str, str]:
        """The public JWK (RFC 7517): ``crv``, ``kty``, ``x``, ``y``, and ``kid``."""
        key = serialization.load_pem_public_key(self.public_pem.encode("ascii"))
        if not isinstance(key, ec.EllipticCurvePublicKey):  # pragma: no cover - built from one
            raise InputError("the manifest key is not an ECDSA key")
        return {**jwk_of(key), "kid": self.kid}

    @classmethod
    def parse(cls, text: str, where: str = "manifest key") -> ManifestKey:
        """A PEM public key or a public JWK (JSON) text."""
        text = text.strip()
        key: object
        try:
            if text.startswith("{"):
                jwk = json.loads(text)
                if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
                    raise InputError(f"{where}: expected a public P-256 JWK (kty EC, crv P-256)")
                x = base64.urlsafe_b64decode(jwk["x"] + "==")
                y = base64.urlsafe_b64decode(jwk["y"] + "==")
                key = ec.EllipticCurvePublicNumbers(
                    int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
                ).public_key()
            else:
                key = serialization.load_pem_public_key(text.encode("ascii"))
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, UnicodeEncodeError) as exc:
            raise InputError(f"{where}: not a PEM public key or a public JWK ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InputError(f"{where}: not an ECDSA public key")
        return cls.from_public_key(key)

    @classmethod
    def load(cls, source: str) -> ManifestKey:
        """A key file (PEM or JWK), or the key text itself."""
        path = Path(source)
        if path.is_file():
            try:
                return cls.parse(path.read_text(encoding="utf-8"), str(path))
            except UnicodeDecodeError:
                raise InputError(f"{path}: not a text key file") from None
        return cls.parse(source)
