"""The two most-asked public reads, answered without the framework.

``GET /api/v1/checkpoint`` and ``GET /api/v1/checkpoint.txt`` are what witnesses and tenants
poll; routing, dependency resolution and response classes cost about a hundred microseconds a
request, several times the work itself (a cached list of signed checkpoints). This layer
answers them directly with the same bodies and content types as the framework's routes; every
other request, and these when nothing is signed yet (404 in the error shape), go on to the app.
The edge layer outside it still checks the Host, adds the headers and logs the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from edgeaudit.serve.public import PublicLog
from edgeaudit.serve.service_errors import NotFound

JSON_PATH: Final = "/api/v1/checkpoint"
TEXT_PATH: Final = "/api/v1/checkpoint.txt"


@dataclass(frozen=True)
class _Route:
    path: str  # what the access log names


_JSON_ROUTE: Final = _Route(JSON_PATH)
_TEXT_ROUTE: Final = _Route(TEXT_PATH)


class FastPublic:
    def __init__(self, app: ASGIApp, public: PublicLog) -> None:
        self.app = app
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"
            or path
            not in (
                JSON_PATH,
                TEXT_PATH,
            )
        ):
            await self.app(scope, receive, send)
            return
        try:
            doc = self.public.checkpoint()
        except NotFound:
            await self.app(scope, receive, send)  # the framework's 404 in the error shape
            return
        if path == JSON_PATH:
            scope["route"] = _JSON_ROUTE
            body, kind = orjson.dumps(doc), b"application/json"
        else:
            scope["route"] = _TEXT_ROUTE
            body, kind = str(doc["note"]).encode(), b"text/plain; charset=utf-8"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
