"""The public log routes under /api/v1: the latest checkpoint, the keys, and proofs.

They are small reads (a cached checkpoint list, a few tiles): they run on the event loop, not
the thread pool, and answer with orjson-encoded bytes. :class:`~edgeaudit.serve.fastpath.
FastPublic` answers their well-formed requests before the framework, with the same bodies.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Query
from fastapi.responses import PlainTextResponse, Response

from edgeaudit.serve.api_errors import _doc
from edgeaudit.serve.deps import API, LogQ
from edgeaudit.serve.service import Service


def _json(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def add_public_routes(app: FastAPI, service: Service) -> None:
    @app.get(f"{API}/checkpoint", tags=["public"], response_model=None, **_doc((404,)))
    async def checkpoint(origin: LogQ = None) -> Response:
        """The latest signed checkpoint (C2SP note) and the log's verifier key."""
        return _json(service.checkpoint(origin))

    @app.get(
        f"{API}/checkpoint.txt",
        tags=["public"],
        response_class=PlainTextResponse,
        **_doc((404,)),
    )
    async def checkpoint_note(origin: LogQ = None) -> str:
        """The latest signed checkpoint note as text."""
        return str(service.checkpoint(origin)["note"])

    @app.get(f"{API}/keys", tags=["public"], **_doc((404,)))
    def keys(origin: LogQ = None) -> dict[str, Any]:
        """The log's verifier key and the pack manifest's public key (to verify packs)."""
        return service.keys(origin)

    @app.get(
        f"{API}/proof/consistency", tags=["public"], response_model=None, **_doc((400, 404, 422))
    )
    async def consistency(
        old: Annotated[int, Query(ge=1, le=2**53)],
        new: Annotated[int | None, Query(ge=1, le=2**53)] = None,
        origin: LogQ = None,
    ) -> Response:
        """Consistency proof between two signed tree sizes (new: default the latest)."""
        return _json(service.consistency(old, new, origin))

    @app.get(
        f"{API}/proof/inclusion/{{index}}",
        tags=["public"],
        response_model=None,
        **_doc((404, 422)),
    )
    async def inclusion(
        index: Annotated[int, Path(ge=0, le=2**53)],
        tree_size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
        origin: LogQ = None,
    ) -> Response:
        """Inclusion proof of entry INDEX (its leaf hash, never its contents)."""
        return _json(service.inclusion(index, tree_size, origin))
