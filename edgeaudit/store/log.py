"""One evidence log in the store: batch append, checkpoint signing and reads. The rows an append
stores are written by :func:`~edgeaudit.store.entries.store_entries`, a snapshot's reads and
proofs are :class:`~edgeaudit.store.reader.LogReader`, and the values taken and given are in
:mod:`edgeaudit.store.values`.

Writers serialize on the log's head row (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``SELECT ... FOR UPDATE``), so concurrent appenders never fork or gap the chain; the primary key
on (log, index) and the unique dedupe key back the lock up. Each :meth:`EvidenceLog.append` is
one transaction: the batch is stored completely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import DBAPIError

from edgeaudit.errors import InconsistentCheckpointError, NoteError, ProofError, StoreError
from edgeaudit.events import PreparedEntry
from edgeaudit.merkle.tiles import TileNodeSource
from edgeaudit.merkle.tree import consistency_proof, root
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store import health, sql
from edgeaudit.store.entries import store_entries
from edgeaudit.store.reader import LogReader, tiles_intact
from edgeaudit.store.schema import Checkpoint as CheckpointRow
from edgeaudit.store.schema import Entry, QuarantineRow, SourceOffset
from edgeaudit.store.values import (
    AppendResult,
    CheckpointSigner,
    QuarantineRecord,
    ResumePoint,
    StoredCheckpoint,
)


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
            with tiles_intact("a checkpoint"):
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
