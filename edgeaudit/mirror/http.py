"""A pod's tlog-tiles resources over HTTP(S): one keep-alive connection, rate limited.

Standard library only (``http.client``), so the mirror needs no optional extra. Requests are
paced by a token bucket (``rate`` per second, a burst of about one second's worth); a 429 from
the pod is waited out (its ``Retry-After``, at most :data:`MAX_WAIT` s, a few times). Bodies
are size-capped, and a gzip body is inflated with the same cap.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import zlib
from typing import Final
from urllib.parse import urlsplit

from edgeaudit import __version__
from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.workspace.mirrors import is_loopback

MAX_CHECKPOINT: Final = 64 * 1024
MAX_TILE: Final = 256 * 32
MAX_BUNDLE: Final = 256 * (2 + 0xFFFF)
MAX_TRANSITIONS: Final = 1 << 20
MAX_WAIT: Final = 60.0
MIN_RATE: Final = 64 * 1024  # bytes/s: an answer's deadline is the timeout + its cap at this rate
_RETRIES_429: Final = 5


class PodUnreachable(EdgeauditError):
    """The pod could not be reached or the connection broke (the sync of it can resume)."""

    exit_code = 3


class PodRefused(EdgeauditError):
    """The pod answered a request with an error status (``status``)."""

    exit_code = 3

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, ``burst`` at once (0: no limit)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is there; the seconds slept."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)
        return wait


class PodClient:
    """GETs below a pod's tile prefix ``url`` on one keep-alive connection."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        bucket: TokenBucket | None = None,
        timeout: float = 30.0,
        allow_plain_http: bool = False,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"pod URL must be http(s)://host[:port][/prefix], got {url!r}")
        plain = token and parts.scheme == "http" and not allow_plain_http
        if plain and not is_loopback(parts.hostname):
            raise ConfigError(
                f"{url}: a token is sent over plain http:// only to a loopback host "
                "(allow_plain_http for a lab network)"
            )
        self._plain_ok = allow_plain_http
        self.url = url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._bucket = bucket or TokenBucket(0)
        self._host, self._port, self._tls = parts.hostname, parts.port, parts.scheme == "https"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.requests = 0
        self.bytes = 0

    def sibling(self) -> PodClient:
        """Another connection to the same pod, with the same token and rate limit."""
        return PodClient(
            self.url,
            token=self._token,
            bucket=self._bucket,
            timeout=self._timeout,
            allow_plain_http=self._plain_ok,
        )

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._tls else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def checkpoint(self) -> bytes:
        return self.get("checkpoint", MAX_CHECKPOINT)

    def tile(self, path: str) -> bytes:
        return self.get(path, MAX_TILE)

    def transitions(self) -> list[bytes]:
        """The pod's key transition checkpoints (``key-transitions``, JSON): their signed
        notes, unchecked; none from a pod that publishes none (404)."""
        try:
            data = self.get("key-transitions", MAX_TRANSITIONS)
        except PodRefused as exc:
            if exc.status == 404:
                return []
            raise
        try:
            doc = json.loads(data)
            notes = [t["note"].encode("utf-8") for t in doc["transitions"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            raise PodRefused(
                f"{self.url}/key-transitions: not a list of transition notes (JSON)", 200
            ) from None
        return notes

    def bundle(self, path: str) -> bytes:
        if not self._token:
            raise PodRefused(
                f"{self.url}: entry bundles need an officer or auditor token of the pod, and "
                "no token is configured (mirror add --token-env VAR, and set VAR)",
                401,
            )
        return self.get(path, MAX_BUNDLE, auth=True)

    def get(self, path: str, limit: int, *, auth: bool = False) -> bytes:
        """The body of ``GET <url>/<path>``, at most ``limit`` bytes once inflated. Errors
        never hold the token (a pod or a proxy may echo the request in an error body, a status
        line or a header)."""
        try:
            return self._get(path, limit, auth=auth)
        except PodRefused as exc:
            raise PodRefused(self._redact(str(exc)), exc.status) from None
        except PodUnreachable as exc:
            raise PodUnreachable(self._redact(str(exc))) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text

    def _get(self, path: str, limit: int, *, auth: bool = False) -> bytes:
        headers = {"Accept-Encoding": "gzip", "User-Agent": f"edgeaudit-mirror/{__version__}"}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in range(_RETRIES_429 + 1):
            self._bucket.acquire()
            status, encoding, retry, data = self._request(f"{self._prefix}/{path}", headers, limit)
            if status == 429 and attempt < _RETRIES_429:
                time.sleep(min(MAX_WAIT, retry))
                continue
            break
        if status != 200:
            cut = 300 + len(self._token or "")  # a token echoed across the cut is redacted
            text = self._redact(data[:cut].decode("utf-8", "replace"))[:300].strip()
            what = {
                401: "the token was not accepted (expired or revoked?)",
                403: "the token's role may not read entries (an officer or auditor token)",
                404: "not found (beyond the pod's signed size, or not a tile log)",
            }.get(status, text or "error")
            raise PodRefused(f"{self.url}/{path}: HTTP {status}: {what}", status)
        if encoding == "gzip":
            data = _gunzip(data, limit, f"{self.url}/{path}")
        elif encoding not in ("", "identity"):
            raise PodRefused(f"{self.url}/{path}: unexpected Content-Encoding {encoding!r}", 200)
        if len(data) > limit:
            raise PodRefused(f"{self.url}/{path}: body over {limit} bytes", 200)
        return data

    def _request(
        self, target: str, headers: dict[str, str], limit: int
    ) -> tuple[int, str, float, bytes]:
        """One request, reconnecting once when a kept-alive connection was closed idle."""
        for attempt in (0, 1):
            reused = self._conn is not None
            conn = self._connect()
            # each read has the socket timeout; the whole answer a deadline (a pod sending a
            # byte now and then would otherwise hold the pass, and every other pod's, for days)
            late = threading.Event()
            watchdog = threading.Timer(self._timeout + limit / MIN_RATE, _abort, (conn, late))
            watchdog.daemon = True
            watchdog.start()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                if response.length is None and not response.chunked:
                    # a body delimited by the end of the connection cannot tell a cut from
                    # the end (nor can headers cut before their Content-Length): refused
                    raise http.client.IncompleteRead(b"")
                if response.length is not None and response.length > limit:
                    self.close()
                    raise PodRefused(f"{self.url}{target}: body over {limit} bytes", 200)
                # with a Content-Length, a body cut short raises IncompleteRead
                data = response.read() if response.length is not None else response.read(limit + 1)
                if len(data) > limit:  # chunked and over the limit: drop the connection
                    self.close()
                self.requests += 1
                self.bytes += len(data)
                retry = _retry_after(response.getheader("Retry-After"))
                encoding = (response.getheader("Content-Encoding") or "").strip().lower()
                if response.will_close:
                    self.close()
                return response.status, encoding, retry, data
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if late.is_set():
                    raise PodUnreachable(
                        f"{self.url}: no whole answer within "
                        f"{self._timeout + limit / MIN_RATE:.0f} s"
                    ) from None
                idle_close = isinstance(
                    exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
                )
                if attempt == 0 and reused and idle_close:
                    continue
                raise PodUnreachable(
                    f"{self.url}: {type(exc).__name__}: {exc or 'connection broken'}"
                ) from None
            finally:
                watchdog.cancel()
        raise AssertionError("unreachable")  # pragma: no cover


def _abort(conn: http.client.HTTPConnection, late: threading.Event) -> None:
    """End a request past its deadline: the blocked read returns, the request fails."""
    late.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _retry_after(value: str | None) -> float:
    try:
        return max(0.5, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def _gunzip(data: bytes, limit: int, where: str) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PodRefused(f"{where}: the gzip body is damaged: {exc}", 200) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PodRefused(f"{where}: the inflated body is over {limit} bytes", 200)
    if not inflater.eof or inflater.unused_data:
        raise PodRefused(f"{where}: the gzip body is truncated or has trailing bytes", 200)
    return out
