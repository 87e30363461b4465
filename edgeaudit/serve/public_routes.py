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
from pydantic import BaseModel, Field

from edgeaudit.serve.api_errors import _doc
from edgeaudit.serve.deps import API, LogQ
from edgeaudit.serve.service import Service


def _json(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


class CosignatureDoc(BaseModel):
    """A witness line served with the checkpoint (:mod:`edgeaudit.serve.cosignatures`)."""

    name: str = Field(description="the witness key's name")
    key_id: str = Field(description="the key id, 8 hex digits")
    timestamp: int | None = Field(
        description="POSIX seconds the line carries (C2SP cosignature/v1: 8-byte big-endian "
        "time, then the Ed25519 signature); null when the line is not that shape"
    )
    line: str = Field(description="the signature line as in the note, with its newline")
    verified: bool = Field(
        description="true only when a [[witness]] key of this name and key id verifies it "
        "over this checkpoint (dated, at most 5 minutes ahead)"
    )
    problem: str | None = Field(description="why it is not verified; null when it is")


class CheckpointDoc(BaseModel):
    """``GET /api/v1/checkpoint``: the latest signed checkpoint of the log."""

    origin: str
    tree_size: int
    root_hash: str = Field(description="hex")
    signed_at: str
    note: str = Field(description="the C2SP signed note, as the log signed it")
    verifier_key: str = Field(description="the key the note verifies with")
    cosignatures: list[CosignatureDoc] = Field(
        description="the witnesses' lines served with the note (GET /checkpoint)"
    )


def add_public_routes(app: FastAPI, service: Service) -> None:
    checkpoint_doc = _doc((404,))
    checkpoint_doc["responses"][200] = {"model": CheckpointDoc, "description": "the checkpoint"}

    @app.get(f"{API}/checkpoint", tags=["public"], response_model=None, **checkpoint_doc)
    async def checkpoint(origin: LogQ = None) -> Response:
        """The latest signed checkpoint (C2SP note), the log's verifier key, and the
        witnesses' cosignatures served with it, each marked verified only if a ``[[witness]]``
        key of the service verifies it."""
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
