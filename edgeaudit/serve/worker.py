"""One process of ``edgeaudit serve --workers N``: uvicorn imports :func:`app` in each worker.

The parent passes the workspace and the settings in the environment (``EDGEAUDIT_SERVE``, JSON);
each worker builds its own :class:`Service` over the same workspace. Sessions and rate-limit
buckets are shared through the workspace's state database, export jobs through the exports
directory (on a PostgreSQL store: all three through the store's database, which several hosts
may share), revocations through the token ledger and the store; each worker keeps its own
assessment cache and its own refusal counts (so up to N ``access.denied`` entries per key,
reason and minute).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeaudit.serve.service import Service, Settings

ENV: Final = "EDGEAUDIT_SERVE"
_PATHS: Final = ("policies", "exports")


def encode(workspace: Path, settings: Settings) -> str:
    data: dict[str, Any] = asdict(settings)
    for k in _PATHS:
        if data[k] is not None:
            data[k] = str(data[k])
    data["trusted_proxies"] = list(settings.trusted_proxies)
    return json.dumps({"workspace": str(workspace), "settings": data})


def decode(text: str) -> tuple[Path, Settings]:
    doc = json.loads(text)
    known = {f.name for f in fields(Settings)}
    data = {k: v for k, v in doc["settings"].items() if k in known}
    for k in _PATHS:
        if data.get(k) is not None:
            data[k] = Path(data[k])
    data["trusted_proxies"] = tuple(data.get("trusted_proxies", ()))
    return Path(doc["workspace"]), Settings(**data)


class _Closing:
    """Closes the service when uvicorn shuts the worker down."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def closing() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.service.close()
            return message

        await self.app(scope, closing, send)


def app() -> ASGIApp:
    from edgeaudit.serve.app import asgi
    from edgeaudit.serve.setup import make_service
    from edgeaudit.workspace import config as cfg

    workspace, settings = decode(os.environ[ENV])
    service = make_service(cfg.load(workspace), settings)
    return _Closing(asgi(service), service)
