"""The log published read-only as C2SP tlog-tiles, at the service's root (the prefix).

* ``GET /checkpoint``: the latest signed checkpoint note (``text/plain; charset=utf-8``),
  cacheable for a second, with the witnesses' cosignatures the workspace keeps for it
  (``witnessed/<size>.note``; a mirrored pod's: the copy ``mirror sync`` keeps), since a
  signed note may carry extra signature lines that clients of other keys ignore.
* ``GET /key-transitions``: the log's key transition checkpoints (ADR 0014), JSON
  ``{"origin", "transitions": [{"tree_size", "note"}]}`` by size, so a mirror that trusts an
  earlier key can follow a rotation.
* ``GET /tile/<L>/<N>[.p/<W>]``: hash tiles, public. A tile is served when the latest signed
  checkpoint covers all its hashes, so every partial tile of every signed size is served, and
  nothing beyond the signed size is (404). Full tiles are immutable (cached a year); partial
  ones for a minute. Assembled from the store's tiles (:mod:`edgeaudit.merkle.c2sp`).
* ``GET /tile/entries/<N>[.p/<W>]``: entry bundles (uint16 length-prefixed entries), never
  public: an officer or auditor token (401 without one, 403 for another role); gzip when the
  client accepts it; each read recorded as an ``access.read`` entry, as every evidence read.

A path not in the spec's canonical form is a 400 naming what is wrong. :class:`FastTiles`
answers well-formed hash tile and checkpoint requests in front of the framework (same bodies
and headers); anything else goes on to the routes of :func:`add_tile_routes`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Final

import orjson
from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from edgeaudit.merkle.c2sp import TileRef, assemble, bundle, parse_path, store_keys
from edgeaudit.serve import authz
from edgeaudit.serve.api_errors import ApiError, _doc
from edgeaudit.serve.deps import Who, _client, own_log_only
from edgeaudit.serve.public import CHECKPOINT_TTL, PublicLog
from edgeaudit.serve.service import Service
from edgeaudit.serve.service_errors import NotFound
from edgeaudit.store.tile_reads import entry_bodies, stored_tiles
from edgeaudit.verify.witnesses import witnessed_note

FULL_CACHE: Final = "public, max-age=31536000, immutable"
PARTIAL_CACHE: Final = "public, max-age=60"
ENTRIES_FULL_CACHE: Final = "private, max-age=31536000, immutable"
ENTRIES_PARTIAL_CACHE: Final = "private, max-age=60"
CHECKPOINT_CACHE: Final = "public, max-age=1"
TEXT: Final = "text/plain; charset=utf-8"
BINARY: Final = "application/octet-stream"
ENTRY_ROLES: Final = frozenset({"officer", "auditor"})
_KEEP: Final = 512  # full hash tiles kept in memory (8 KiB each): they never change


class TileError(ValueError):
    """A tile path not in the spec's form (HTTP 400)."""


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    cache: str


class TileLog:
    """The tile resources of one log, bounded by its latest signed checkpoint."""

    def __init__(self, public: PublicLog) -> None:
        self.public = public
        self._full: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._cosigned: tuple[str, float, bytes] = ("", -1e9, b"")  # note, when read, copy

    def checkpoint(self) -> Answer:
        """The latest checkpoint with the cosignatures kept for it (re-read at most every
        :data:`~edgeaudit.serve.public.CHECKPOINT_TTL` seconds)."""
        cp = self.public.checkpoint()
        note = str(cp["note"])
        with self._lock:
            kept_note, read_at, body = self._cosigned
        t = time.monotonic()
        if kept_note != note or t - read_at >= CHECKPOINT_TTL:
            root = self.public.config.root
            body = witnessed_note(root, note, int(cp["tree_size"])).encode()
            with self._lock:
                self._cosigned = (note, t, body)
        return Answer(body, TEXT, CHECKPOINT_CACHE)

    def transitions(self) -> Answer:
        """The log's key transition checkpoints, JSON, by size."""
        doc = {"origin": self.public.log.origin, "transitions": self.public.transitions()}
        return Answer(orjson.dumps(doc), "application/json", CHECKPOINT_CACHE)

    def _covered(self, ref: TileRef) -> None:
        size = int(self.public.checkpoint()["tree_size"])
        if ref.needed_size() > size:
            raise NotFound(f"{ref.path()} is beyond the signed tree size {size}")

    def hash_tile(self, ref: TileRef) -> Answer:
        if ref.level is None:
            raise TileError("an entry bundle is not a hash tile")
        key = (ref.level, ref.index)
        if ref.full:
            with self._lock:
                kept = self._full.get(key)
            if kept is not None:
                return Answer(kept, BINARY, FULL_CACHE)
        self._covered(ref)
        with self.public.log.reader() as reader:
            body = assemble(ref, stored_tiles(reader, store_keys(ref)))
        if ref.full:
            with self._lock:
                self._full[key] = body
                while len(self._full) > _KEEP:
                    self._full.popitem(last=False)
        return Answer(body, BINARY, FULL_CACHE if ref.full else PARTIAL_CACHE)

    def entry_bundle(self, ref: TileRef) -> Answer:
        if ref.level is not None:
            raise TileError("a hash tile is not an entry bundle")
        self._covered(ref)
        with self.public.log.reader() as reader:
            entries = entry_bodies(reader, ref.start, ref.start + ref.width)
        cache = ENTRIES_FULL_CACHE if ref.full else ENTRIES_PARTIAL_CACHE
        return Answer(bundle(entries), BINARY, cache)


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header accepts gzip (``gzip`` or ``*`` with q > 0)."""
    for item in header.split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def parse(path: str) -> TileRef:
    """``/tile/...`` as a :class:`TileRef`; :class:`TileError` (400) if malformed."""
    try:
        return parse_path(path.removeprefix("/"))
    except ValueError as exc:
        raise TileError(str(exc)) from None


TilePath = Annotated[str, Path(max_length=200, description="<N>[.p/<W>], N as x001/234")]


@dataclass(frozen=True)
class _Route:
    path: str  # what the access log names


_TILE_ROUTE: Final = _Route("/tile/{path:path}")  # as the framework's route names it
_CHECKPOINT_ROUTE: Final = _Route("/checkpoint")


class FastTiles:
    """Well-formed ``GET /checkpoint`` and hash tile requests answered before the framework."""

    def __init__(self, app: ASGIApp, tiles: TileLog) -> None:
        self.app = app
        self.tiles = tiles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = None
        if scope["type"] == "http" and scope.get("method") == "GET":
            path = str(scope.get("path"))
            if not scope.get("query_string"):
                try:
                    if path == "/checkpoint":
                        answer = _CHECKPOINT_ROUTE, self.tiles.checkpoint()
                    elif path.startswith("/tile/") and not path.startswith("/tile/entries/"):
                        answer = _TILE_ROUTE, self.tiles.hash_tile(parse(path))
                except (NotFound, TileError, LookupError):
                    answer = None  # the framework answers it (a damaged store: 500, logged)
        if answer is None:
            await self.app(scope, receive, send)
            return
        route, a = answer
        scope["route"] = route
        headers = [
            (b"content-type", a.content_type.encode()),
            (b"content-length", str(len(a.body)).encode()),
            (b"cache-control", a.cache.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": a.body})


def tile_response(a: Answer) -> Response:
    """An :class:`Answer` as the HTTP response."""
    return Response(a.body, media_type=a.content_type, headers={"Cache-Control": a.cache})


def route_ref(path: str, entries: bool) -> TileRef:
    """The tile a route's ``path`` names (below ``tile/`` or ``tile/entries/``); 400 if bad."""
    try:
        return parse(("tile/entries/" if entries else "tile/") + path)
    except TileError as exc:
        raise ApiError(400, str(exc)) from None


def add_tile_routes(app: FastAPI, tiles: TileLog) -> None:
    """``/checkpoint``, ``/tile/entries/...`` (officer, auditor) and ``/tile/...``."""

    own = [Depends(own_log_only)]  # the tiles are the own log's (a ``log`` naming another: 400)

    @app.get(
        "/checkpoint", tags=["tiles"], response_model=None, dependencies=own, **_doc((400, 404))
    )
    async def tlog_checkpoint() -> Response:
        """The latest signed checkpoint note (C2SP tlog-tiles), text."""
        return tile_response(tiles.checkpoint())

    @app.get(
        "/key-transitions",
        tags=["tiles"],
        response_model=None,
        dependencies=own,
        **_doc((400, 404)),
    )
    async def tlog_transitions() -> Response:
        """The log's key transition checkpoints (signed by the previous and the next key),
        JSON by size: a mirror or auditor trusting an earlier key follows a rotation."""
        return tile_response(tiles.transitions())

    @app.get(
        "/tile/entries/{path:path}",
        tags=["tiles"],
        response_model=None,
        dependencies=own,
        **_doc((400, 401, 403, 404, 429), authz.TILE_ENTRIES),
    )
    def tlog_entries(path: TilePath, who: Who, request: Request) -> Response:
        """An entry bundle: the entries of a level-0 tile, uint16 length-prefixed (gzip when
        accepted). Each read is recorded as an access.read entry before the answer."""
        authz.require(who, authz.TILE_ENTRIES)
        ref = route_ref(path, True)
        answer = tiles.entry_bundle(ref)
        service: Service = request.app.state.service
        service.record(who, "access.read", f"entry bundle {ref.path()}", _client(request), None)
        if not accepts_gzip(request.headers.get("accept-encoding", "")):
            return tile_response(answer)
        headers = {"Cache-Control": answer.cache, "Content-Encoding": "gzip"}
        headers["Vary"] = "Accept-Encoding"
        body = gzip.compress(answer.body, compresslevel=6, mtime=0)
        return Response(body, media_type=answer.content_type, headers=headers)

    @app.get(
        "/tile/{path:path}",
        tags=["tiles"],
        response_model=None,
        dependencies=own,
        **_doc((400, 404)),
    )
    async def tlog_tile(path: TilePath) -> Response:
        """A hash tile: tile/<L>/<N>[.p/<W>] (256 hashes when full)."""
        return tile_response(tiles.hash_tile(route_ref(path, False)))
