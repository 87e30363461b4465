"""Reads of one evidence log inside one read transaction: a consistent snapshot, opened by
:meth:`edgeaudit.store.log.EvidenceLog.reader`. Proofs and roots come from the stored tiles; a
missing or malformed tile is a :class:`~edgeaudit.errors.TamperError`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, select

from edgeaudit.errors import InputError, StoreError, TamperError
from edgeaudit.merkle.tiles import TileKey, TileNodeSource
from edgeaudit.merkle.tree import consistency_proof, inclusion_proof, root
from edgeaudit.store import queries as reads
from edgeaudit.store import sql, summaries
from edgeaudit.store.schema import Checkpoint as CheckpointRow
from edgeaudit.store.schema import Log, Tile
from edgeaudit.store.values import StoredCheckpoint


@contextmanager
def tiles_intact(what: str) -> Iterator[None]:
    """Turn a missing or malformed stored tile into a TamperError naming it."""
    try:
        yield
    except (LookupError, ValueError) as exc:
        raise TamperError(
            f"cannot compute {what}: the stored tree is damaged ({exc}); run `edgeaudit verify`"
        ) from exc


class LogReader:
    """Reads of one log inside one read transaction (a consistent snapshot)."""

    def __init__(self, conn: Connection, log_id: int) -> None:
        self._conn = conn
        self._log_id = log_id

    def _source(self, size: int) -> TileNodeSource:
        return TileNodeSource(size, lambda keys: sql.fetch_tiles(self._conn, self._log_id, keys))

    def head(self) -> tuple[int, bytes]:
        """(tree size, chain head) of the log's head row, in this snapshot."""
        t = Log.__table__
        row = self._conn.execute(
            select(t.c.tree_size, t.c.chain_head).where(t.c.id == self._log_id)
        ).one()
        return int(row[0]), bytes(row[1])

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, by tree size, in this snapshot."""
        t = CheckpointRow.__table__
        rows = self._conn.execute(
            select(t.c.tree_size, t.c.root_hash, t.c.note, t.c.signed_at)
            .where(t.c.log_id == self._log_id)
            .order_by(t.c.tree_size)
        ).all()
        return [StoredCheckpoint(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    def entry(self, index: int) -> tuple[bytes, bytes]:
        """(exact entry bytes, stored leaf hash) of entry ``index``."""
        found = sql.fetch_entry(self._conn, self._log_id, index)
        if found is None:
            raise StoreError(f"entry {index} does not exist")
        return found

    def root(self, size: int) -> bytes:
        with tiles_intact(f"the root of size {size}"):
            return root(size, self._source(size))

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        if not 0 <= index < tree_size:
            raise InputError(f"index {index} is outside a tree of size {tree_size}")
        with tiles_intact(f"an inclusion proof for entry {index}"):
            return inclusion_proof(index, tree_size, self._source(tree_size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 < old_size <= new_size:
            raise InputError(
                f"need 0 < old size <= new size for a consistency proof, got {old_size}, {new_size}"
            )
        with tiles_intact(f"a consistency proof {old_size} -> {new_size}"):
            return consistency_proof(old_size, new_size, self._source(new_size))

    def select(
        self, kinds: Sequence[str], since: str | None, until: str | None, upto: int
    ) -> Iterator[tuple[int, bytes, bytes]]:
        """(index, entry bytes, leaf hash) of entries of ``kinds`` with ``since <= time < until``
        as stored text (widen by a second and filter exactly), index below ``upto``."""
        return reads.iter_kinds(self._conn, self._log_id, kinds, since, until, upto)

    def source_counts(self, upto: int) -> list[tuple[str, int]]:
        """(source, entries) of entries below index ``upto`` that name their source."""
        return reads.source_counts(self._conn, self._log_id, upto)

    def source_days(self, upto: int) -> list[summaries.SourceDay]:
        """Per-source daily summaries of the entries below index ``upto`` (``summaries``)."""
        return summaries.read(self._conn, self._log_id, upto)

    def last_index_before(self, until: str, upto: int) -> int:
        """Highest index below ``upto`` whose stored time text sorts before ``until``."""
        return reads.last_index_before(self._conn, self._log_id, until, upto)

    def quarantine_counts(self) -> list[tuple[str, str, int]]:
        """(source kind, reason, count) of the quarantine."""
        return reads.quarantine_counts(self._conn, self._log_id)

    def stored_tiles(self, keys: Collection[TileKey]) -> dict[TileKey, bytes]:
        """The stored blobs of tiles ``keys`` (a key not stored is absent), as stored."""
        return sql.fetch_tiles(self._conn, self._log_id, keys)

    def entry_bodies(self, start: int, end: int) -> list[bytes]:
        """The exact bytes of entries ``start .. end - 1`` in index order; LookupError naming
        the first one missing."""
        rows = sql.fetch_bodies(self._conn, self._log_id, start, end)
        for i, (idx, _) in enumerate(rows):
            if idx != start + i:
                raise LookupError(f"entry {start + i} is missing from the store")
        if len(rows) != end - start:
            raise LookupError(f"entry {start + len(rows)} is missing from the store")
        return [body for _, body in rows]

    def iter_entries(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        """Stream (index, entry bytes, stored leaf hash, stored chain hash) in index order."""
        return sql.iter_entry_hashes(self._conn, self._log_id, start)

    def tiles(
        self, level: int | None = None, min_level: int = 0
    ) -> Iterator[tuple[int, int, bytes]]:
        """Stored tiles as (tile level, tile index, blob), ordered; one level or from a level."""
        t = Tile.__table__
        query = select(t.c.level, t.c.tidx, t.c.hashes).where(t.c.log_id == self._log_id)
        if level is not None:
            query = query.where(t.c.level == level)
        if min_level:
            query = query.where(t.c.level >= min_level)
        rows = self._conn.execution_options(yield_per=1000).execute(
            query.order_by(t.c.level, t.c.tidx)
        )
        for level, tidx, blob in rows:
            yield int(level), int(tidx), bytes(blob)
