"""Token attacks, all refused with 401 by the real app; good tokens accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from edgeaudit.errors import InputError
from edgeaudit.serve.revocation import Ledger
from edgeaudit.serve.setup import issuer
from edgeaudit.serve.tokens import issue, parse_ttl
from edgeaudit.workspace.token_key import load_token_key, token_key_path, token_kid
from tests.pack.helpers import run
from tests.serve.conftest import Site, bearer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], claims: dict[str, object], sign: object = None) -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = sign(head.encode()) if callable(sign) else b""
    return head + "." + b64(sig)


def claims(site: Site, **over: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": issuer(site.config),
        "aud": "edgeaudit-serve",
        "sub": "tenant:fintech-a",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "x" * 32,
        "role": "tenant",
        "tenant": "fintech-a",
    }
    base.update(over)
    return base


def whoami(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    r = client.get("/api/v1/whoami", headers=bearer(token))
    return r.status_code, r.json()


def test_good_token_is_accepted(site: Site, client: TestClient) -> None:
    status, body = whoami(client, site.token("tenant", "fintech-a"))
    assert status == 200
    assert body["role"] == "tenant"
    assert body["tenant"] == "fintech-a"


def test_token_key_file_is_private_with_its_own_kid(site: Site) -> None:
    site.token("officer")
    path = token_key_path(site.config)
    assert path.stat().st_mode & 0o077 == 0
    kid = token_kid(load_token_key(site.config).public_key())
    assert kid.startswith("tok-")
    manifest = (
        (site.ws / "keys" / "manifest.pub").read_text()
        if (site.ws / "keys" / "manifest.pub").exists()
        else ""
    )
    assert kid.removeprefix("tok-") not in manifest


def _key_sign(site: Site):  # type: ignore[no-untyped-def]
    from jose import jwt
    from jose.backends.cryptography_backend import CryptographyECKey

    key = CryptographyECKey(load_token_key(site.config), "ES256")

    def signed(header_extra: dict[str, object], **over: object) -> str:
        return str(jwt.encode(claims(site, **over), key, algorithm="ES256", headers=header_extra))

    return signed


def test_attacks_are_rejected(site: Site, client: TestClient) -> None:
    signed = _key_sign(site)
    kid = token_kid(load_token_key(site.config).public_key())
    public_pem = (
        load_token_key(site.config)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    good = signed({"kid": kid})
    assert whoami(client, good)[0] == 200  # the baseline the attacks start from
    head, payload, sig = good.split(".")
    tampered_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered_claims["tenant"] = "media-b"
    attacks = {
        "alg none": forge({"alg": "none", "kid": kid}, claims(site)),
        "alg None": forge({"alg": "None", "kid": kid}, claims(site)),
        "HS256 with the public key": forge(
            {"alg": "HS256", "kid": kid, "typ": "JWT"},
            claims(site),
            lambda m: hmac.new(public_pem, m, hashlib.sha256).digest(),
        ),
        "expired": signed({"kid": kid}, iat=now - 7200, nbf=now - 7200, exp=now - 1),
        "not yet valid": signed({"kid": kid}, nbf=now + 3600, exp=now + 7200),
        "wrong issuer": signed({"kid": kid}, iss="edgeaudit.local/other-site"),
        "wrong audience": signed({"kid": kid}, aud="someone-else"),
        "tampered payload": head + "." + b64(json.dumps(tampered_claims).encode()) + "." + sig,
        "unknown kid": signed({"kid": "tok-unknown"}),
        "no kid": signed({}),
        "injected kid (path)": signed({"kid": "../../keys/manifest.key"}),
        "injected kid (sql)": signed({"kid": f"{kid}' OR '1'='1"}),
        "embedded jwk": signed({"kid": kid, "jwk": {"kty": "EC"}}),
        "remote jku": signed({"kid": kid, "jku": "http://127.0.0.1:9/keys"}),
        "tenant not in inventory": signed({"kid": kid}, tenant="deleted-co", sub="t"),
        "officer with a tenant": signed({"kid": kid}, role="officer"),
        "unknown role": signed({"kid": kid}, role="root", tenant=None),
        "missing exp": _drop(site, kid, "exp"),
        "missing nbf": _drop(site, kid, "nbf"),
        "missing jti": _drop(site, kid, "jti"),
        "missing aud": _drop(site, kid, "aud"),
        "exp null": signed({"kid": kid}, exp=None),
        "exp a string": signed({"kid": kid}, exp="tomorrow"),
        "tenant a list": signed({"kid": kid}, tenant=["fintech-a"]),
        "another key, same kid": _other_key_token(site, kid),
        "garbage": "not.a.token",
        "too long": "a" * 5000,
        "iat in the future": signed({"kid": kid}, iat=now + 3600),
        "exp a numeric string": signed({"kid": kid}, exp=str(now + 3600)),
        "nbf a numeric string": signed({"kid": kid}, nbf=str(now - 10)),
        "iat a boolean": signed({"kid": kid}, iat=True),
        "exp not finite": forge({"alg": "ES256", "kid": kid}, {**claims(site), "exp": 1e400}),
        "jti a number": signed({"kid": kid}, jti=12345),
        "claims a list": forge({"alg": "ES256", "kid": kid}, [1, 2]),  # type: ignore[arg-type]
    }
    messages = set()
    for name, token in attacks.items():
        status, body = whoami(client, token)
        assert status == 401, (name, body)
        assert body["error"]["code"] == "unauthorized", name
        messages.add(str(body["error"]["message"]))  # type: ignore[index]
    assert messages == {"invalid token"}  # one answer whatever the reason


def test_refusal_reason_is_in_the_server_log_only(
    site: Site, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    now = int(time.time())
    token = _key_sign(site)(
        {"kid": token_kid(load_token_key(site.config).public_key())},
        iat=now - 100,
        nbf=now - 100,
        exp=now - 1,
    )
    with caplog.at_level("WARNING", logger="edgeaudit.serve"):
        status, body = whoami(client, token)
    assert status == 401
    assert body["error"]["message"] == "invalid token"  # type: ignore[index]
    assert "token expired" in caplog.text
    assert token not in caplog.text  # never the token itself


def _drop(site: Site, kid: str, claim: str) -> str:
    from jose import jwt
    from jose.backends.cryptography_backend import CryptographyECKey

    key = CryptographyECKey(load_token_key(site.config), "ES256")
    body = claims(site)
    del body[claim]
    return str(jwt.encode(body, key, algorithm="ES256", headers={"kid": kid}))


def _other_key_token(site: Site, kid: str) -> str:
    from jose import jwt
    from jose.backends.cryptography_backend import CryptographyECKey

    other = CryptographyECKey(ec.generate_private_key(ec.SECP256R1()), "ES256")
    return str(jwt.encode(claims(site), other, algorithm="ES256", headers={"kid": kid}))


def test_revoked_token_is_rejected_at_once(site: Site, client: TestClient) -> None:
    code, out, err = run(
        "--workspace",
        str(site.ws),
        "token",
        "issue",
        "--role",
        "tenant",
        "--tenant",
        "media-b",
        "--ttl",
        "10m",
        "--json",
    )
    assert code == 0, err
    issued = json.loads(out)
    assert whoami(client, issued["token"])[0] == 200
    code, _, err = run("--workspace", str(site.ws), "token", "revoke", issued["id"])
    assert code == 0, err
    status, body = whoami(client, issued["token"])
    assert status == 401
    assert str(body["error"]["message"]) == "invalid token"  # type: ignore[index]
    assert Ledger(site.ws).is_revoked(issued["id"])
    # revoking twice, or an id never issued, is a clear error
    code, _, err = run("--workspace", str(site.ws), "token", "revoke", issued["id"])
    assert code == 2
    assert "already revoked" in err
    code, _, err = run("--workspace", str(site.ws), "token", "revoke", "f" * 32)
    assert code == 2
    assert "no token with id" in err


def test_token_of_a_tenant_removed_from_the_inventory(site: Site, client: TestClient) -> None:
    token = site.token("tenant", "ai-c")
    assert whoami(client, token)[0] == 200
    inventory = site.ws / "policies" / "inventory.yaml"
    before = inventory.read_text()
    try:
        # ai-c is removed: the policies reload on change, and the token stops working
        trimmed = _without_tenant(before, "ai-c")
        inventory.write_text(trimmed)
        status, body = whoami(client, token)
        assert status == 401, body
        assert str(body["error"]["message"]) == "invalid token"  # type: ignore[index]
    finally:
        inventory.write_text(before)
    assert whoami(client, token)[0] == 200


def _without_tenant(text: str, tenant: str) -> str:
    """The inventory with every line naming ``tenant`` (and its blocks) removed."""
    import yaml

    doc = yaml.safe_load(text)
    doc["tenants"] = [t for t in doc["tenants"] if t["id"] != tenant]
    for section in ("segments", "assets"):
        doc[section] = [x for x in doc.get(section, []) if x.get("owner") != tenant]
    doc["principals"] = [p for p in doc["principals"] if p.get("tenant") != tenant]
    doc["keys"] = [k for k in doc.get("keys", []) if k.get("tenant") != tenant]
    return yaml.safe_dump(doc, sort_keys=False)


def test_cli_issue_checks_role_and_tenant(site: Site) -> None:
    ws = ["--workspace", str(site.ws)]
    code, _, err = run(*ws, "token", "issue", "--role", "tenant", "--tenant", "nobody")
    assert code == 2
    assert "nobody" in err
    code, _, err = run(*ws, "token", "issue", "--role", "tenant")
    assert code == 2
    assert "--tenant" in err
    code, _, err = run(*ws, "token", "issue", "--role", "officer", "--tenant", "fintech-a")
    assert code == 2
    code, _, err = run(*ws, "token", "issue", "--role", "officer", "--ttl", "forever")
    assert code == 2
    assert "--ttl" in err
    code, out, err = run(*ws, "token", "issue", "--role", "officer", "--ttl", "2h", "--json")
    assert code == 0, err
    doc = json.loads(out)
    # RFC 3339, never raw epoch seconds
    issued = datetime.fromisoformat(doc["issued_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(doc["expires"].replace("Z", "+00:00"))
    assert doc["expires"].endswith("Z")
    assert (expires - issued).total_seconds() == 7200
    code, out, err = run(*ws, "token", "list", "--json")
    assert code == 0, err
    assert all(r["expires"].endswith("Z") for r in json.loads(out))
    assert "token" not in Ledger(site.ws).issued()[-1]  # the ledger never holds tokens


def test_parse_ttl() -> None:
    assert parse_ttl("90s") == 90
    assert parse_ttl("1h") == 3600
    assert parse_ttl("7d") == 7 * 86400
    for bad in ("", "0h", "1y", "-1h", "91d", "1 h x"):
        with pytest.raises(InputError):
            parse_ttl(bad)


def test_issue_then_verify_roundtrip(site: Site, service) -> None:  # type: ignore[no-untyped-def]
    key = load_token_key(site.config)
    t = issue(
        key,
        token_kid(key.public_key()),
        issuer(site.config),
        role="auditor",
        tenant=None,
        ttl=60,
        subject="ext-auditor",
    )
    who = service.verifier.verify(t.token)
    assert (who.role, who.tenant, who.subject, who.jti) == ("auditor", None, "ext-auditor", t.jti)


def test_a_revocation_recorded_only_in_the_store_is_honoured(site: Site, tmp_path: Path) -> None:
    """Another host's `token revoke` reaches this server through the shared store alone."""
    from edgeaudit.events import prepare
    from edgeaudit.serve.app import asgi
    from edgeaudit.serve.setup import make_service
    from tests.serve.conftest import settings

    svc = make_service(site.config, settings(site, revocation_poll=0.2, exports=tmp_path))
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as c:
            token = site.token("auditor")
            jti = svc.verifier.verify(token).jti
            assert whoami(c, token)[0] == 200
            event = {
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "kind": "token.revoked",
                "token": jti,
            }
            svc.log.append([prepare(event, fingerprint=f"token.revoked:{jti}")])
            deadline = time.monotonic() + 30  # polled every 0.2 s: a loaded machine may lag
            while (status_body := whoami(c, token))[0] == 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            status, body = status_body
            assert status == 401
            assert body["error"]["message"] == "invalid token"  # type: ignore[index]
            assert not Ledger(site.ws).is_revoked(jti)  # not in this workspace's file
            assert whoami(c, site.token("auditor"))[0] == 200  # others unaffected
    finally:
        svc.close()
