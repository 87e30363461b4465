"""The public reads witnesses and tenants poll, answered without the framework.

``GET /api/v1/checkpoint``, ``/api/v1/checkpoint.txt``, ``/api/v1/proof/inclusion/{index}``
and ``/api/v1/proof/consistency``: routing, parameter validation and response classes cost
hundreds of microseconds a request, as much as the work itself (a cached list of signed
checkpoints, a few tile reads). This layer answers a well-formed request directly with the same
body and content type as the framework's route, for the log its ``log`` parameter names (none:
the workspace's own), resolved by the same :class:`ServedLogs` as the framework's routes.
Anything else — another path or method, a number that is not plain digits within range, a
``log`` that is empty, repeated, not printable ASCII once decoded or not served, an extra
parameter, nothing signed yet, a size never signed — goes on to the framework, which answers it
(its 4xx in the error shape).
The edge layer outside still checks the Host, adds the headers and logs the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_plus

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from edgeaudit.errors import InputError
from edgeaudit.serve.logs import MAX_ORIGIN, ServedLogs
from edgeaudit.serve.service_errors import NotFound

JSON_PATH: Final = "/api/v1/checkpoint"
TEXT_PATH: Final = "/api/v1/checkpoint.txt"
INCLUSION: Final = "/api/v1/proof/inclusion/"
CONSISTENCY: Final = "/api/v1/proof/consistency"
_MAX: Final = 2**53


@dataclass(frozen=True)
class _Route:
    path: str  # what the access log names


_JSON_ROUTE: Final = _Route(JSON_PATH)
_TEXT_ROUTE: Final = _Route(TEXT_PATH)
_INCLUSION_ROUTE: Final = _Route(INCLUSION + "{index}")
_CONSISTENCY_ROUTE: Final = _Route(CONSISTENCY)


def _number(text: str | bytes, least: int) -> int | None:
    """Plain decimal digits within [least, 2**53], else None (the framework decides)."""
    if not text or len(text) > 16 or not (text.isascii() and text.isdigit()):
        return None
    n = int(text)
    return n if least <= n <= _MAX else None


def _origin(value: bytes) -> str | None:
    """A ``log`` value, percent-decoded: printable ASCII of 1..MAX_ORIGIN characters, else
    None (the framework decides)."""
    if not value.isascii():
        return None
    text = unquote_plus(value.decode("ascii"))
    if not 0 < len(text) <= MAX_ORIGIN or not text.isascii() or not text.isprintable():
        return None
    return text


@dataclass(frozen=True)
class _Query:
    numbers: dict[str, int]
    log: str | None


def _query(raw: bytes, names: tuple[str, ...]) -> _Query | None:
    """``a=1&b=2&log=ORIGIN`` with only ``names`` (plain digits >= 1) and ``log``, each at
    most once; else None."""
    out: dict[str, int] = {}
    log: str | None = None
    if not raw:
        return _Query(out, None)
    for part in raw.split(b"&"):
        key, eq, value = part.partition(b"=")
        name = key.decode("latin-1")
        if name == "log":
            if log is not None or not eq:
                return None
            log = _origin(value)
            if log is None:
                return None
            continue
        n = _number(value, 1) if eq else None
        if name not in names or name in out or n is None:
            return None
        out[name] = n
    return _Query(out, log)


class FastPublic:
    def __init__(self, app: ASGIApp, logs: ServedLogs) -> None:
        self.app = app
        self.logs = logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http" and scope.get("method") == "GET":
            try:
                answer = self._answer(str(scope.get("path")), scope.get("query_string", b""))
            except (NotFound, InputError):
                answer = None  # the framework answers it, in the error shape
        if answer is None:
            await self.app(scope, receive, send)
            return
        route, body, kind = answer
        scope["route"] = route
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, path: str, query: bytes) -> tuple[_Route, bytes, bytes] | None:
        if path in (JSON_PATH, TEXT_PATH):
            q = _query(query, ())
            if q is None:
                return None
            cp = self.logs.public(q.log).checkpoint()
            if path == JSON_PATH:
                return _JSON_ROUTE, orjson.dumps(cp), b"application/json"
            return _TEXT_ROUTE, str(cp["note"]).encode(), b"text/plain; charset=utf-8"
        if path.startswith(INCLUSION):
            index = _number(path[len(INCLUSION) :], 0)
            q = _query(query, ("tree_size",))
            if index is None or q is None:
                return None
            doc = self.logs.public(q.log).inclusion(index, q.numbers.get("tree_size"))
            return _INCLUSION_ROUTE, orjson.dumps(doc), b"application/json"
        if path == CONSISTENCY:
            q = _query(query, ("old", "new"))
            if q is None or "old" not in q.numbers:
                return None
            public = self.logs.public(q.log)
            doc = public.consistency(q.numbers["old"], q.numbers.get("new"))
            return _CONSISTENCY_ROUTE, orjson.dumps(doc), b"application/json"
        return None
