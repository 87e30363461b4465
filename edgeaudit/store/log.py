"""One evidence log in the store: batch append, reads, proofs and checkpoint signing.

Writers serialize on the log's head row (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``SELECT ... FOR UPDATE``), so concurrent appenders never fork or gap the chain; the primary key
on (log, index) and the unique dedupe key back the lock up. Each :meth:`EvidenceLog.append` is
one transaction: the batch is stored completely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import DBAPIError

from edgeaudit.canonical import chain_hash
from edgeaudit.errors import (
    InconsistentCheckpointError,
    InputError,
    NoteError,
    ProofError,
    StoreError,
    TamperError,
)
from edgeaudit.events import PreparedEntry
from edgeaudit.merkle.tiles import TileKey, TileNodeSource, extend_tiles, right_edge
from edgeaudit.merkle.tree import consistency_proof, inclusion_proof, root
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store import health, sql, summaries
from edgeaudit.store import queries as reads
from edgeaudit.store.schema import Checkpoint as CheckpointRow
from edgeaudit.store.schema import Entry, Log, QuarantineRow, SourceOffset, Tile


class CheckpointSigner(Protocol):
    """What the store needs from a signer; the store never sees a private key."""

    @property
    def verifier_key(self) -> str: ...

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: int
    duplicates: int
    first_index: int | None
    tree_size: int
    quarantined: int = 0  # newly quarantined records (repeats of stored ones not counted)


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A source record that could not be parsed, with the reason."""

    source_kind: str
    source: str
    location: str
    reason: str
    raw: bytes
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """How far a source file has been read: committed together with what it produced."""

    source_kind: str
    path: str
    offset: int
    head_sha256: str  # SHA-256 of the file's first bytes: a different head means a new file


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    signed_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class EvidenceLog:
    """An append-only log identified by its origin. Create with :meth:`Store.log`."""

    def __init__(self, engine: Engine, log_id: int, origin: str) -> None:
        self._engine = engine
        self.log_id = log_id
        self.origin = origin

    # -- writing ----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction holding the log's lock; database errors become StoreError.

        The first write of an engine checks the store's pages first (SQLite quick_check), so
        nothing is written into a store whose pages are damaged."""
        health.check_before_first_write(self._engine)
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        try:
            with (
                self._engine.connect().execution_options(sqlite_immediate=True) as conn,
                conn.begin(),
            ):
                yield conn
        except (dbapi_error, DBAPIError) as exc:
            orig = getattr(exc, "orig", None) or exc
            damaged = health.translate(orig, self._engine)
            if damaged is not None:
                raise damaged from exc
            raise StoreError(
                f"the database refused the write to log {self.origin!r}; nothing of it was "
                f"stored: {orig}"
            ) from exc

    def append(
        self,
        entries: Iterable[PreparedEntry],
        *,
        quarantine: Sequence[QuarantineRecord] = (),
        resume: ResumePoint | None = None,
    ) -> AppendResult:
        """Append a batch in one transaction. Entries already stored (same dedupe key) are
        skipped, as are repeats within the batch. A collector's quarantined records and its
        resume point are written in the same transaction, so a crash loses or repeats nothing.
        """
        batch = list(entries)
        with self._write() as conn:
            quarantined = sql.insert_quarantine(conn, self.log_id, quarantine, _now())
            if resume is not None:
                sql.upsert_resume(conn, self.log_id, resume, _now())
            size, head = sql.lock_log(conn, self.log_id)
            known = sql.existing_fp_keys(conn, self.log_id, [e.fp_key for e in batch])
            fresh: list[PreparedEntry] = []
            for e in batch:
                if e.fp_key in known:
                    continue
                known.add(e.fp_key)
                fresh.append(e)
            idx = store_entries(conn, self.log_id, size, head, fresh) if fresh else size
        return AppendResult(
            appended=len(fresh),
            duplicates=len(batch) - len(fresh),
            first_index=size if fresh else None,
            tree_size=idx,
            quarantined=quarantined,
        )

    def sign_checkpoint(
        self, signer: CheckpointSigner, trusted: Sequence[bytes] = ()
    ) -> StoredCheckpoint:
        """Sign the current tree and store the note.

        Refuses (:class:`InconsistentCheckpointError`) unless the tree extends the latest
        checkpoint in the store and every note in ``trusted`` (e.g. the signer's own record of
        what it signed last, kept outside the database).
        """
        verifier = Verifier.parse(signer.verifier_key)
        with self._write() as conn:
            size, _ = sql.lock_log(conn, self.log_id)
            source = TileNodeSource(size, lambda keys: sql.fetch_tiles(conn, self.log_id, keys))
            latest = self._latest(conn)
            earlier = [latest.note.encode()] if latest else []
            with _tiles_intact("a checkpoint"):
                current = root(size, source)
                for note in [*earlier, *trusted]:
                    self._check_extends(note, verifier, size, current, source)
            if latest is not None and latest.tree_size == size:
                return latest
            text = signer.sign_checkpoint(Checkpoint(self.origin, size, current)).decode()
            stored = StoredCheckpoint(size, current, text, _now())
            conn.execute(
                insert(CheckpointRow).values(
                    log_id=self.log_id,
                    tree_size=size,
                    root_hash=current,
                    note=text,
                    signed_at=stored.signed_at,
                )
            )
        return stored

    def _check_extends(
        self, note: bytes, verifier: Verifier, size: int, current: bytes, source: TileNodeSource
    ) -> None:
        try:
            old = verify_checkpoint(note, [verifier], origin=self.origin)
        except NoteError as exc:
            raise InconsistentCheckpointError(
                f"refusing to sign: an earlier checkpoint does not verify: {exc}"
            ) from exc
        if old.size > size:
            raise InconsistentCheckpointError(
                f"refusing to sign: a checkpoint of size {old.size} was signed earlier but the "
                f"log has only {size} entries (truncated or rolled back?)"
            )
        if old.size == 0:
            return
        proof = consistency_proof(old.size, size, source)
        try:
            verify_consistency(old.size, size, old.root, current, proof)
        except ProofError as exc:
            raise InconsistentCheckpointError(
                f"refusing to sign: the log of size {size} does not extend the checkpoint of "
                f"size {old.size} signed earlier ({exc})"
            ) from exc

    # -- reading ----------------------------------------------------------------------------

    def _latest(self, conn: Connection) -> StoredCheckpoint | None:
        t = CheckpointRow.__table__
        row = conn.execute(
            select(t.c.tree_size, t.c.root_hash, t.c.note, t.c.signed_at)
            .where(t.c.log_id == self.log_id)
            .order_by(t.c.tree_size.desc())
            .limit(1)
        ).first()
        return None if row is None else StoredCheckpoint(row[0], bytes(row[1]), row[2], row[3])

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._engine.connect() as conn:
            return self._latest(conn)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, by tree size."""
        with self.reader() as reader:
            return reader.checkpoints()

    def head(self) -> tuple[int, bytes]:
        """(tree size, chain head) as recorded in the log's head row."""
        with self.reader() as reader:
            return reader.head()

    def counts(self) -> list[tuple[str, str | None, int]]:
        """Number of entries per (kind, tenant)."""
        t = Entry.__table__
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.c.kind, t.c.tenant, func.count())
                .where(t.c.log_id == self.log_id)
                .group_by(t.c.kind, t.c.tenant)
                .order_by(t.c.kind, t.c.tenant)
            ).all()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def resume_point(self, source_kind: str, path: str) -> ResumePoint | None:
        t = SourceOffset.__table__
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.c.byte_offset, t.c.head_sha256).where(
                    t.c.log_id == self.log_id, t.c.source_kind == source_kind, t.c.path == path
                )
            ).first()
        return None if row is None else ResumePoint(source_kind, path, int(row[0]), row[1])

    def quarantine_count(self) -> int:
        t = QuarantineRow.__table__
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.log_id == self.log_id)
                ).scalar_one()
            )

    def quarantined(self, limit: int = 100) -> list[tuple[int, str, QuarantineRecord]]:
        """The newest quarantined records as (id, created_at, record)."""
        t = QuarantineRow.__table__
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.c.id,
                    t.c.created_at,
                    t.c.source_kind,
                    t.c.source,
                    t.c.location,
                    t.c.reason,
                    t.c.raw,
                    t.c.raw_sha256,
                )
                .where(t.c.log_id == self.log_id)
                .order_by(t.c.id.desc())
                .limit(limit)
            ).all()
        return [
            (int(r[0]), r[1], QuarantineRecord(r[2], r[3], r[4], r[5], bytes(r[6]), r[7]))
            for r in rows
        ]

    @property
    def size(self) -> int:
        return self.head()[0]

    @contextmanager
    def reader(self) -> Iterator[LogReader]:
        """A read session on one connection and one snapshot (for proofs in a loop, and for
        verify, which must not mistake a concurrent append for tampering). SQLite's read
        transactions are snapshots already; PostgreSQL needs REPEATABLE READ for that."""
        dbapi_error = self._engine.dialect.loaded_dbapi.Error
        try:
            with self._engine.connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield LogReader(conn, self.log_id)
        except dbapi_error as exc:  # raised by the driver-level reads (sql.py, queries.py)
            damaged = health.translate(exc, self._engine)
            if damaged is None:
                raise
            raise damaged from exc


def store_entries(
    conn: Connection,
    log_id: int,
    size: int,
    head: bytes,
    batch: Iterable[PreparedEntry],
    fp_key: Callable[[int, PreparedEntry], bytes] | None = None,
) -> int:
    """Store ``batch`` at indices ``size``, ``size + 1``, ... of a log whose head row the
    caller's transaction holds locked (:func:`sql.lock_log` returned ``size`` and the chain
    ``head``): entry rows, chain hashes, tiles, source-day summaries and the head row. Returns
    the new size.

    The dedupe key of entry ``i`` is its own unless ``fp_key(i, entry)`` says otherwise.
    ``batch`` may be lazy: on PostgreSQL the server stores the rows sent (COPY) while the next
    entries are produced, and an exception from ``batch`` leaves the transaction to roll back.
    """
    rows: list[sql.EntryRow] = []
    add = rows.append

    def produce() -> Iterator[sql.EntryRow]:
        nonlocal head
        idx = size
        for e in batch:
            head = chain_hash(head, e.leaf_hash)
            key = e.fp_key if fp_key is None else fp_key(idx, e)
            row = (log_id, idx, e.leaf_hash, head, key, e.time, e.kind, e.tenant, e.source, e.body)
            add(row)
            yield row
            idx += 1

    edge = sql.fetch_tiles(conn, log_id, right_edge(size))
    sql.insert_entries(conn, produce())
    if not rows:
        return size
    tiles = extend_tiles(size, edge, [r[2] for r in rows])
    summaries.upsert(conn, log_id, summaries.summarize((r[1], r[5], r[8]) for r in rows))
    sql.upsert_tiles(conn, log_id, tiles, stored=edge.keys())
    sql.update_head(conn, log_id, size + len(rows), head)
    return size + len(rows)


@contextmanager
def _tiles_intact(what: str) -> Iterator[None]:
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
        with _tiles_intact(f"the root of size {size}"):
            return root(size, self._source(size))

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        if not 0 <= index < tree_size:
            raise InputError(f"index {index} is outside a tree of size {tree_size}")
        with _tiles_intact(f"an inclusion proof for entry {index}"):
            return inclusion_proof(index, tree_size, self._source(tree_size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 < old_size <= new_size:
            raise InputError(
                f"need 0 < old size <= new size for a consistency proof, got {old_size}, {new_size}"
            )
        with _tiles_intact(f"a consistency proof {old_size} -> {new_size}"):
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
