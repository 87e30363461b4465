"""Reads for the published tiles (``edgeaudit.serve.tiles``): stored tiles by key and the
exact entry bytes of an index range, within one :class:`~edgeaudit.store.LogReader` snapshot.
Plain bytes only."""

from __future__ import annotations

from collections.abc import Collection

from edgeaudit.merkle.tiles import TileKey
from edgeaudit.store import sql
from edgeaudit.store.log import LogReader


def stored_tiles(reader: LogReader, keys: Collection[TileKey]) -> dict[TileKey, bytes]:
    """The stored blobs of ``keys`` (a key not stored is absent)."""
    return sql.fetch_tiles(reader._conn, reader._log_id, keys)


def entry_bodies(reader: LogReader, start: int, end: int) -> list[bytes]:
    """The exact bytes of entries ``start .. end - 1`` in index order; LookupError if one is
    missing."""
    conn = reader._conn
    m = sql._mark(conn)
    where = f"log_id = {m} AND idx >= {m} AND idx < {m}"  # placeholders only
    cur = sql._dbapi(conn).cursor()
    try:
        cur.execute(
            "SELECT idx, body FROM entries WHERE " + where + " ORDER BY idx",  # noqa: S608
            (reader._log_id, start, end),
        )
        rows = cur.fetchall()
    finally:
        cur.close()
    for i, (idx, _) in enumerate(rows):
        if int(idx) != start + i:
            raise LookupError(f"entry {start + i} is missing from the store")
    if len(rows) != end - start:
        raise LookupError(f"entry {start + len(rows)} is missing from the store")
    return [bytes(body) for _, body in rows]
