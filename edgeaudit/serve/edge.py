"""The outermost layer of every request: Host, client address, headers, access log, refusals.

* **Host**: only the host of ``--public-url`` is served; another ``Host`` header is refused
  (421) before anything else, so no absolute URL can be built from a forged one.
* **Client address**: the peer's address; ``X-Forwarded-For`` only when the peer is one of
  ``--trusted-proxy`` (then the right-most address that is not a trusted proxy).
* **Headers** on every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, ``Cache-Control: no-store`` unless the route chose otherwise, and HSTS with
  ``--secure-cookies``.
* **Access log**: one JSON line per request on stderr: time, method, route template (never
  the raw path: it may hold ids), status, duration, token id, client — never a token or a
  cookie.
* **Refusals**: 401, 403, 421, 429 and the ones a route marks (an unknown export id, a CSRF
  failure, a failed sign-in) are counted in :class:`edgeaudit.serve.denied.Denials`.
* **Crashes**: an exception that escapes the app answers 500 in the error shape (with the
  error id the app logged it under) and is logged once.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeaudit.errors import InputError
from edgeaudit.serve.denied import Denials

CLIENT: Final = "edgeaudit.client"  # scope keys the routes read or set
PRINCIPAL_ID: Final = "edgeaudit.principal_id"
DENIED: Final = "edgeaudit.denied"
LOGGED: Final = "edgeaudit.logged"
_REASONS: Final = {401: "invalid_token", 403: "forbidden", 421: "host", 429: "rate_limited"}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PublicUrl:
    """``--public-url``: scheme://host[:port], no path, query or user."""

    scheme: str
    netloc: str

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @classmethod
    def parse(cls, text: str) -> PublicUrl:
        parts = urlsplit(text.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"--public-url {text!r}: expected http(s)://host[:port]")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise InputError(f"--public-url {text!r}: no path, query or user part")
        try:
            port = parts.port
        except ValueError:
            raise InputError(f"--public-url {text!r}: bad port") from None
        default = 443 if parts.scheme == "https" else 80
        host = parts.hostname.lower()
        host = f"[{host}]" if ":" in host else host
        netloc = host if port in (None, default) else f"{host}:{port}"
        return cls(parts.scheme, netloc)

    def accepts(self, host_header: str) -> bool:
        h = host_header.strip().lower()
        default = ":443" if self.scheme == "https" else ":80"
        return h == self.netloc or h == self.netloc + default


def parse_proxies(values: tuple[str, ...]) -> tuple[Network, ...]:
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            raise InputError(f"--trusted-proxy {v!r}: expected an address or a network") from None
    return tuple(out)


def client_address(peer: str, forwarded: str | None, proxies: tuple[Network, ...]) -> str:
    """The client: ``peer``, or from ``X-Forwarded-For`` when ``peer`` is a trusted proxy."""
    if not proxies or not forwarded or not _trusted(peer, proxies):
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: keep what we know
        if not _trusted(hop, proxies):
            return hop
    return peer


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def _error(status: int, code: str, message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = orjson.dumps({"error": {"status": status, "code": code, "message": message}})
    return body, [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        public_url: PublicUrl,
        proxies: tuple[Network, ...] = (),
        hsts: bool = False,
        denials: Denials | None = None,
        access_log: bool = True,
        write: Callable[[str], object] | None = None,
    ) -> None:
        self.app = app
        self.public_url = public_url
        self.proxies = proxies
        self.denials = denials
        self.access_log = access_log
        self._write = write
        self._pid = os.getpid()  # which worker answered (serve --workers N)
        self._hosts = {public_url.netloc.encode()}  # the usual spelling, checked first
        self._second = -1
        self._stamp = ""
        self._headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if hsts:
            self._headers.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        host_b, xff = b"", None
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host_b = value
            elif name == b"x-forwarded-for":
                xff = value
        peer = scope["client"][0] if scope.get("client") else "unknown"
        scope[CLIENT] = (
            client_address(peer, xff.decode("latin-1"), self.proxies)
            if xff is not None and self.proxies
            else peer
        )
        status = 500
        started = False

        async def wrapped(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self._headers if h[0] not in have]
                if b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            if host_b not in self._hosts and not self.public_url.accepts(host_b.decode("latin-1")):
                body, hdrs = _error(421, "misdirected", "this service does not answer that Host")
                await wrapped({"type": "http.response.start", "status": 421, "headers": hdrs})
                await wrapped({"type": "http.response.body", "body": body})
            else:
                await self.app(scope, receive, wrapped)
        except Exception:
            eid = uuid.uuid4().hex[:12]
            if not scope.get(LOGGED):
                import logging

                logging.getLogger("edgeaudit.serve").exception("internal error, error id %s", eid)
            if not started:
                body, hdrs = _error(500, "internal_error", f"internal error (error id {eid})")
                await wrapped({"type": "http.response.start", "status": 500, "headers": hdrs})
                await wrapped({"type": "http.response.body", "body": body})
        finally:
            self._after(scope, status, time.perf_counter() - t0)

    def _now(self) -> str:
        """RFC 3339 UTC with milliseconds (the seconds' text formatted once a second)."""
        t = time.time()
        second = int(t)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((t - second) * 1000):03d}Z"

    def _after(self, scope: Scope, status: int, seconds: float) -> None:
        token_id = scope.get(PRINCIPAL_ID)
        reason = scope.get(DENIED) or _REASONS.get(status)
        if reason is not None and self.denials is not None:
            if token_id:
                self.denials.add("token", str(token_id), str(reason))
            else:
                self.denials.add("address", str(scope[CLIENT]), str(reason))
        if self.access_log:
            route = scope.get("route")
            line: dict[str, Any] = {
                "time": self._now(),
                "method": scope.get("method"),
                "route": getattr(route, "path", None),
                "status": status,
                "ms": round(seconds * 1000, 2),
                "token": token_id,
                "client": scope[CLIENT],
                "pid": self._pid,
            }
            if reason is not None:
                line["refused"] = reason
            text = orjson.dumps(line).decode() + "\n"
            if self._write is not None:
                self._write(text)
            else:
                sys.stderr.write(text)
