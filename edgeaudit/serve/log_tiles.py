"""Each served log's C2SP tlog-tiles under a prefix of its own.

``/logs/<hex SHA-256 of the origin>/`` is the tlog-tiles prefix of every log the service serves
(:mod:`edgeaudit.serve.logs`: the workspace's own, and each mirrored pod's, read-only), named as
C2SP tlog-witness names logs, so an origin's ``/`` needs no escaping:

* ``GET /logs/<hash>/checkpoint``: the log's latest signed checkpoint note (a pod's own note,
  with the cosignatures kept for it);
* ``GET /logs/<hash>/key-transitions``: its key transition checkpoints (JSON);
* ``GET /logs/<hash>/tile/<L>/<N>[.p/<W>]``: hash tiles, public;
* ``GET /logs/<hash>/tile/entries/<N>[.p/<W>]``: entry bundles, officers and auditors only,
  each read recorded as an ``access.read`` entry of the workspace's own log naming the origin.

Same bodies, headers and bounds as the root's tiles (:mod:`edgeaudit.serve.tiles`: only what the
latest signed checkpoint covers); answered by the framework (no fast path). A hash that names no
served log is a 404 naming only that hash.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from typing import Annotated, Final

from fastapi import FastAPI, Path, Request
from fastapi.responses import Response

from edgeaudit.serve import authz
from edgeaudit.serve.api_errors import _doc
from edgeaudit.serve.deps import Who, _client
from edgeaudit.serve.logs import ServedLogs, UnknownLog
from edgeaudit.serve.service import Service
from edgeaudit.serve.tiles import TileLog, TilePath, accepts_gzip, route_ref, tile_response

PREFIX: Final = "/logs"
_HASH: Final = re.compile(r"[0-9a-f]{64}")
LogHash = Annotated[str, Path(max_length=64, description="hex SHA-256 of the log's origin")]


def log_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()


def prefix(origin: str) -> str:
    """The log's tlog-tiles prefix on this service (a path, no trailing slash)."""
    return f"{PREFIX}/{log_hash(origin)}"


class LogTiles:
    """Hash -> (origin, :class:`TileLog`) over the logs served."""

    def __init__(self, logs: ServedLogs, own: TileLog) -> None:
        self.logs = logs
        self.own = own
        self._lock = threading.Lock()
        self._tiles: dict[str, TileLog] = {}

    def get(self, hashed: str) -> tuple[str, TileLog]:
        if _HASH.fullmatch(hashed):
            own = self.logs.config.origin
            for origin in (own, *(m.origin for m in self.logs.mirrors())):
                if log_hash(origin) == hashed:
                    return origin, self._tile_log(origin)
        raise UnknownLog(hashed)

    def _tile_log(self, origin: str) -> TileLog:
        public = self.logs.public(origin)  # UnknownLog: a [[mirror]] not synced yet
        if public is self.logs.own:
            return self.own
        with self._lock:
            kept = self._tiles.get(origin)
            if kept is None or kept.public is not public:
                kept = self._tiles[origin] = TileLog(public)
            return kept


def add_log_tile_routes(app: FastAPI, tiles: LogTiles) -> None:
    """``/logs/<hash>/checkpoint``, ``.../tile/entries/...`` (officers, auditors) and
    ``.../tile/...``."""

    @app.get(
        f"{PREFIX}/{{log}}/checkpoint", tags=["tiles"], response_model=None, **_doc((404, 422))
    )
    def log_checkpoint(log: LogHash) -> Response:
        """A served log's latest signed checkpoint note (C2SP tlog-tiles), text."""
        return tile_response(tiles.get(log)[1].checkpoint())

    @app.get(
        f"{PREFIX}/{{log}}/key-transitions",
        tags=["tiles"],
        response_model=None,
        **_doc((404, 422)),
    )
    def log_transitions(log: LogHash) -> Response:
        """A served log's key transition checkpoints, JSON by size."""
        return tile_response(tiles.get(log)[1].transitions())

    @app.get(
        f"{PREFIX}/{{log}}/tile/entries/{{path:path}}",
        tags=["tiles"],
        response_model=None,
        **_doc((400, 401, 403, 404, 422, 429), authz.TILE_ENTRIES),
    )
    def log_entries(log: LogHash, path: TilePath, who: Who, request: Request) -> Response:
        """An entry bundle of a served log (gzip when accepted); each read is recorded as an
        access.read entry of the workspace's own log, naming the origin."""
        authz.require(who, authz.TILE_ENTRIES)
        ref = route_ref(path, True)
        origin, tile_log = tiles.get(log)
        answer = tile_log.entry_bundle(ref)
        service: Service = request.app.state.service
        what = f"entry bundle {ref.path()}"
        service.record(who, "access.read", what, _client(request), None, origin)
        if not accepts_gzip(request.headers.get("accept-encoding", "")):
            return tile_response(answer)
        headers = {"Cache-Control": answer.cache, "Content-Encoding": "gzip"}
        headers["Vary"] = "Accept-Encoding"
        body = gzip.compress(answer.body, compresslevel=6, mtime=0)
        return Response(body, media_type=answer.content_type, headers=headers)

    @app.get(
        f"{PREFIX}/{{log}}/tile/{{path:path}}",
        tags=["tiles"],
        response_model=None,
        **_doc((400, 404, 422)),
    )
    def log_tile(log: LogHash, path: TilePath) -> Response:
        """A hash tile of a served log: tile/<L>/<N>[.p/<W>] (256 hashes when full)."""
        return tile_response(tiles.get(log)[1].hash_tile(route_ref(path, False)))
