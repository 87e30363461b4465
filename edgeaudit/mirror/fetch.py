"""Level-0 tiles and entry bundles fetched on several connections and proven, in index order.

Each level-0 tile is authenticated by its parent tile (fetched as it is reached, itself
authenticated up to a tile the signed root authenticates), its entry bundle fetched and every
entry's leaf hash compared with the tile's hash at its index (:mod:`edgeaudit.mirror.tiles`).
:data:`CONNECTIONS` threads fetch, each on its own keep-alive connection, at most :data:`AHEAD`
tiles (fewer when bundles are large) ahead of the caller's stores.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from edgeaudit.merkle.c2sp import C2SP_WIDTH, TileRef
from edgeaudit.mirror.http import PodClient
from edgeaudit.mirror.tiles import VerifiedTiles, check_bundle, tile_ref

if TYPE_CHECKING:
    from edgeaudit.mirror.sync import _Pass

CONNECTIONS: Final = 4  # connections fetching level-0 tiles and entry bundles at once
AHEAD: Final = 96  # level-0 tiles fetched and proven ahead of the store (bounds memory)
AHEAD_BYTES: Final = 256 << 20  # ... and fewer when bundles are large (entries up to 64 KiB)
PENDING_BYTES: Final = 64 << 20  # a batch is stored at this many bytes, whatever its count


def ahead(bundles: int, nbytes: int) -> int:
    """How many tiles to have in flight, given the ``bundles`` proven so far and their bytes:
    :data:`AHEAD`, fewer where that many bundles of this size would pass :data:`AHEAD_BYTES`
    (a bundle of 256 entries of 64 KiB is 16 MiB), never fewer than :data:`CONNECTIONS`."""
    if not bundles:
        return CONNECTIONS
    return max(CONNECTIONS, min(AHEAD, AHEAD_BYTES * bundles // max(1, nbytes)))


def _parents(client: PodClient, verified: VerifiedTiles, tile: tuple[int, int]) -> None:
    """Fetch the full ancestors of ``tile`` not fetched yet, each authenticated by its own parent
    (the climb ends at a partial tile, authenticated by the root, or one fetched before)."""
    k, i = tile
    parent = (k + 1, i // C2SP_WIDTH)
    if parent in verified.tiles:
        return
    data = client.tile(tile_ref(verified.size, parent).path())
    _parents(client, verified, parent)
    verified.check_full(parent, data)
    tiles = verified.tiles
    assert isinstance(tiles, dict)  # VerifiedTiles.check keeps its own dict
    tiles[parent] = data


def proven(
    p: _Pass, verified: VerifiedTiles, leaf_tiles: range, s: int, batch: int
) -> Iterator[tuple[int, list[bytes]]]:
    """Batches ``(start, entries)`` of proven entries from index ``s`` on, in index order.

    Level-0 tiles and their bundles are fetched and proven by :data:`CONNECTIONS` threads, each
    on its own keep-alive connection, at most :data:`AHEAD` tiles ahead of the caller's stores:
    the pod's latency (it records every bundle read) and the store's writes overlap."""
    local = threading.local()
    clients: list[PodClient] = []
    lock = threading.Lock()

    def client() -> PodClient:
        c: PodClient | None = getattr(local, "client", None)
        if c is None:
            c = p.client.sibling()
            local.client = c
            with lock:
                clients.append(c)
        return c

    parents = threading.Lock()

    def prove(n: int) -> tuple[int, list[bytes]]:
        ref = tile_ref(verified.size, (0, n))
        hashes = verified.tiles.get((0, n))
        if hashes is None:
            hashes = client().tile(ref.path())
            if (1, n // C2SP_WIDTH) not in verified.tiles:
                with parents:
                    _parents(client(), verified, (0, n))
            verified.check_full((0, n), hashes)
        bundle_ref = TileRef(None, n, ref.width)
        entries = check_bundle(bundle_ref, client().bundle(bundle_ref.path()), hashes)
        skip = max(0, s - ref.start)
        return ref.start + skip, entries[skip:]

    pool = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix=f"mirror {p.source.origin}")
    window: deque[Future[tuple[int, list[bytes]]]] = deque()
    todo = iter(leaf_tiles)
    pending: list[bytes] = []
    first = s
    pending_bytes = seen_bundles = seen_bytes = 0
    try:
        while True:
            while len(window) < ahead(seen_bundles, seen_bytes):
                n = next(todo, None)
                if n is None:
                    break
                window.append(pool.submit(prove, n))
            if not window:
                break
            try:
                _, entries = window.popleft().result()
            except BaseException:
                if pending:  # what was proven before the failure is stored
                    yield first, pending
                raise
            size = sum(map(len, entries))
            seen_bundles, seen_bytes = seen_bundles + 1, seen_bytes + size
            pending += entries
            pending_bytes += size
            if len(pending) >= batch or pending_bytes >= PENDING_BYTES:
                yield first, pending
                first += len(pending)
                pending, pending_bytes = [], 0
        if pending:
            yield first, pending
    finally:
        for f in window:
            f.cancel()
        pool.shutdown(wait=True)
        for c in clients:
            p.requests += c.requests
            c.close()
