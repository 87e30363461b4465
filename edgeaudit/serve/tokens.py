"""API tokens: ES256 JWTs (python-jose) with an explicit algorithm allow-list.

A token carries ``iss`` (the log origin), ``aud`` (``edgeaudit-serve``), ``exp``, ``nbf``,
``iat``, ``jti`` (its id, for revocation), ``sub``, ``role`` and ``tenant`` (a tenant id for the
tenant role, null otherwise); its header names the workspace token key's ``kid``. Verification
rejects, before any signature check, every header that is not exactly ``alg: ES256`` with our
``kid`` and no embedded or remote key (``jwk``, ``jku``, ``x5u``, ``x5c``); then python-jose
checks the signature with ``algorithms=["ES256"]``, and every registered claim is required
and checked here by type first: ``exp``/``nbf``/``iat`` numbers (never strings), ``exp`` in the
future, ``nbf`` not, ``iat`` not in the future beyond :data:`LEEWAY`. A revoked ``jti`` and a
tenant no longer in the inventory are refused too. Whatever the reason, a client is told only
"invalid token"; the reason goes to the server log.
"""

from __future__ import annotations

import math
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
    """The token is not acceptable. Clients are told only :data:`INVALID`; ``reason`` (for the
    server log) says why, and ``jti`` is the token's id once its signature verified (else
    None: an unverified id is the caller's word and is never used as a key)."""

    def __init__(self, reason: str, jti: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.jti = jti


INVALID: Final = "invalid token"
LEEWAY: Final = 30  # seconds an ``iat`` may lie in the future (clock skew)
_NUMERIC: Final = ("exp", "nbf", "iat")
_STRINGS: Final = ("iss", "sub", "jti")


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

    def verify(self, token: str, now: float | None = None) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise TokenError("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"algorithm {str(header.get('alg'))[:20]!r} is not allowed")
        if _FORBIDDEN_HEADERS & header.keys():
            raise TokenError("tokens may not carry or point to their own keys")
        if header.get("kid") != self.kid:
            raise TokenError("unknown key id")
        # the signature only: every claim is checked below, by type first
        options = {
            "verify_signature": True,
            "verify_aud": False,
            "verify_iat": False,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iss": False,
            "verify_sub": False,
            "verify_jti": False,
            "verify_at_hash": False,
        }
        try:
            claims = self._decode(token, options)
        except JOSEError as exc:
            raise TokenError(f"signature or encoding rejected: {exc}") from None
        except (TypeError, ValueError, OverflowError):
            raise TokenError("signature or encoding rejected") from None
        if not isinstance(claims, dict):
            raise TokenError("claims are not an object")
        jti = claims.get("jti")
        verified_id = jti if isinstance(jti, str) and 0 < len(jti) <= 64 else None
        try:
            return self._claims(claims, verified_id, time.time() if now is None else now)
        except TokenError as exc:
            raise TokenError(exc.reason, verified_id) from None

    def _claims(self, claims: dict[str, Any], jti: str | None, now: float) -> Principal:
        for name in _NUMERIC:
            value: Any = claims.get(name)
            if not (type(value) in (int, float) and math.isfinite(value) and 0 <= value < 2**53):
                raise TokenError(f"claim {name!r} missing or not a number")
        for name in _STRINGS:
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise TokenError(f"claim {name!r} missing or not a string")
        if jti is None:
            raise TokenError("claim 'jti' is not a token id")
        if claims.get("aud") != AUDIENCE:
            raise TokenError("wrong audience")
        if claims["iss"] != self.issuer:
            raise TokenError("wrong issuer")
        if claims["exp"] <= now:
            raise TokenError("token expired")
        if claims["nbf"] > now:
            raise TokenError("token not yet valid")
        if claims["iat"] > now + LEEWAY:
            raise TokenError("token issued in the future")
        role, tenant = claims.get("role"), claims.get("tenant")
        if role not in ROLES:
            raise TokenError("token has no valid role")
        if role == "tenant":
            if not isinstance(tenant, str) or tenant not in self._tenants():
                raise TokenError("the token's tenant is not in the inventory")
        elif tenant is not None:
            raise TokenError("only tenant tokens carry a tenant")
        if self._revoked(jti):
            raise TokenError("token revoked")
        return Principal(jti, str(claims["sub"]), str(role), tenant, int(claims["exp"]))

    def recheck(self, who: Principal, now: float | None = None) -> Principal:
        """A principal verified earlier (a page session): still unexpired, unrevoked, and its
        tenant still in the inventory."""
        t = time.time() if now is None else now
        if who.expires <= t:
            raise TokenError("token expired", who.jti)
        if who.role == "tenant" and who.tenant not in self._tenants():
            raise TokenError("the token's tenant is not in the inventory", who.jti)
        if self._revoked(who.jti):
            raise TokenError("token revoked", who.jti)
        return who

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
