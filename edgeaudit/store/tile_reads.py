"""Reads for the published tiles (``edgeaudit.serve.tiles``): stored tiles by key and the
exact entry bytes of an index range, within one :class:`~edgeaudit.store.LogReader` snapshot.
Plain bytes only."""

from __future__ import annotations

from collections.abc import Collection

from edgeaudit.merkle.tiles import TileKey
from edgeaudit.store.reader import LogReader


def stored_tiles(reader: LogReader, keys: Collection[TileKey]) -> dict[TileKey, bytes]:
    """The stored blobs of ``keys`` (a key not stored is absent)."""
    return reader.stored_tiles(keys)


def entry_bodies(reader: LogReader, start: int, end: int) -> list[bytes]:
    """The exact bytes of entries ``start .. end - 1`` in index order; LookupError if one is
    missing."""
    return reader.entry_bodies(start, end)
