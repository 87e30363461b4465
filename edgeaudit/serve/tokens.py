"""API tokens: ES256 JWTs (python-jose) with an explicit algorithm allow-list.

A token carries ``iss`` (the log origin), ``aud`` (``edgeaudit-serve``), ``exp``, ``nbf``,
``iat``, ``jti`` (its id, for revocation), ``sub``, ``role`` and ``tenant`` (a tenant id for the
tenant role, null otherwise); its header names the workspace token key's ``kid``. Verification
rejects, before any signature check, every header that is not exactly ``alg: ES256`` with our
``kid`` and no embedded or remote key (``jwk``, ``jku``, ``x5u``, ``x5c``); then python-jose
checks the signature with ``algorithms=["ES256"]`` and every registered claim is required.
A revoked ``jti`` and a tenant no longer in the inventory are refused too.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from jose.backends.cryptography_backend import CryptographyECKey
from jose.exceptions import JOSEError

from edgeaudit.errors import InputError

ALGORITHMS: Final = ["ES256"]  # the allow-list; nothing else is ever accepted
AUDIENCE: Final = "edgeaudit-serve"
ROLES: Final = ("officer", "security", "auditor", "tenant")
MAX_TOKEN_BYTES: Final = 4096
MAX_TTL: Final = 90 * 86400
_FORBIDDEN_HEADERS: Final = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
_TTL: Final = re.compile(r"(\d{1,7})([smhd])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(Exception):
    """The token is not acceptable; the message says why (safe to show the caller)."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    jti: str
    subject: str
    role: str
    tenant: str | None
    expires: int

    @property
    def label(self) -> str:
        return f"{self.role}:{self.tenant or 'site'}:{self.subject}"


def parse_ttl(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``7d`` -> seconds (at most 90 days)."""
    m = _TTL.fullmatch(text.strip())
    if m is None:
        raise InputError(f"--ttl {text!r}: expected a number and a unit, e.g. 30m, 1h or 7d")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 0 < seconds <= MAX_TTL:
        raise InputError(f"--ttl {text!r}: must be more than 0 and at most 90d")
    return seconds


def check_role(role: str, tenant: str | None, tenants: frozenset[str]) -> None:
    if role not in ROLES:
        raise InputError(f"--role {role!r}: one of {', '.join(ROLES)}")
    if role == "tenant":
        if not tenant:
            raise InputError("--role tenant needs --tenant T")
        if tenant not in tenants:
            known = ", ".join(sorted(tenants)) or "none"
            raise InputError(f"--tenant {tenant!r} is not a tenant of the inventory ({known})")
    elif tenant is not None:
        raise InputError(f"--tenant is only for --role tenant (a {role} token is site-wide)")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    subject: str
    role: str
    tenant: str | None
    issued_at: int
    expires: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "id": self.jti,
            "subject": self.subject,
            "role": self.role,
            "tenant": self.tenant,
            "issued_at": _rfc3339(self.issued_at),
            "expires": _rfc3339(self.expires),
        }


def _rfc3339(seconds: int) -> str:
    """Times people and machines read are RFC 3339 UTC, never raw epoch seconds."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(
    key: ec.EllipticCurvePrivateKey,
    kid: str,
    issuer: str,
    *,
    role: str,
    tenant: str | None,
    ttl: int,
    subject: str | None = None,
    now: int | None = None,
) -> IssuedToken:
    """Sign a token (the caller checked role and tenant with :func:`check_role`)."""
    t = int(time.time()) if now is None else now
    jti = uuid.uuid4().hex
    sub = subject or f"{role}:{tenant or 'site'}"
    claims = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": t,
        "nbf": t,
        "exp": t + ttl,
        "jti": jti,
        "role": role,
        "tenant": tenant,
    }
    signing_key = CryptographyECKey(key, ALGORITHMS[0])
    token = jwt.encode(claims, signing_key, algorithm=ALGORITHMS[0], headers={"kid": kid})
    return IssuedToken(token, jti, sub, role, tenant, t, t + ttl)


class TokenVerifier:
    """Verifies tokens against one public key, parsed once."""

    def __init__(
        self,
        public: ec.EllipticCurvePublicKey,
        kid: str,
        issuer: str,
        *,
        revoked: Callable[[str], bool],
        tenants: Callable[[], frozenset[str]],
    ) -> None:
        self._key = CryptographyECKey(public, ALGORITHMS[0])
        self.kid = kid
        self.issuer = issuer
        self._revoked = revoked
        self._tenants = tenants

    def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise TokenError("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"algorithm {header.get('alg')!r} is not allowed")
        if _FORBIDDEN_HEADERS & header.keys():
            raise TokenError("tokens may not carry or point to their own keys")
        if header.get("kid") != self.kid:
            raise TokenError("unknown key id")
        options = {
            "require_aud": True,
            "require_iat": True,
            "require_exp": True,
            "require_nbf": True,
            "require_iss": True,
            "require_sub": True,
            "require_jti": True,
            "leeway": 0,
        }
        try:
            claims = self._decode(token, options)
        except JOSEError as exc:
            raise TokenError(f"token rejected: {exc}") from None
        except (TypeError, ValueError, OverflowError):  # python-jose on claims of a wrong type
            raise TokenError("token rejected: a claim has the wrong type") from None
        role, tenant, jti = claims.get("role"), claims.get("tenant"), claims["jti"]
        if role not in ROLES:
            raise TokenError("token has no valid role")
        if not isinstance(jti, str) or not jti:
            raise TokenError("token has no id")
        if role == "tenant":
            if not isinstance(tenant, str) or tenant not in self._tenants():
                raise TokenError("the token's tenant is not in the inventory")
        elif tenant is not None:
            raise TokenError("only tenant tokens carry a tenant")
        if self._revoked(jti):
            raise TokenError("token revoked")
        return Principal(jti, str(claims["sub"]), role, tenant, int(claims["exp"]))

    def _decode(self, token: str, options: dict[str, Any]) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            issuer=self.issuer,
            options=options,
        )
        return claims
