"""A mirrored log: another log's entries stored verbatim, index for index, under its origin.

A central store keeps copies of pods' logs. The mirror client (``edgeaudit.mirror``) fetches
and verifies a pod's checkpoint, tiles and entries; this module stores what it verified:

* :meth:`MirroredLog.extend` appends the pod's entries at exactly the indices the pod holds
  them. Each entry must be the canonical bytes :func:`~edgeaudit.events.prepare` makes of its
  event (the same parse and checks as an append); nothing is skipped as a duplicate, because
  the mirror must hold the pod's log exactly. Chain hashes, tiles and source-day summaries are
  computed by the same code as an append, all in one transaction per call.
* :meth:`MirroredLog.hold_checkpoint` keeps the pod's signed note once the stored tree has its
  root at its size.

A mirrored entry's dedupe key is its time and its index, not a digest of its bytes: a pod
may hold equal bytes at two indices (appended with different collector fingerprints, which are
not part of the bytes), and the mirror stores both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import insert, select

from edgeaudit.errors import InputError, NoteError, StoreError
from edgeaudit.events import PreparedEntry, prepare_canonical
from edgeaudit.merkle.tiles import TileNodeSource
from edgeaudit.merkle.tree import root as tree_root
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import parse_note
from edgeaudit.store import sql
from edgeaudit.store.entries import store_entries
from edgeaudit.store.log import EvidenceLog
from edgeaudit.store.reader import LogReader
from edgeaudit.store.schema import Checkpoint as CheckpointRow
from edgeaudit.store.values import StoredCheckpoint

_KEY_MARK: Final = b"edgeaudit/mirrored/index"  # 24 bytes


class MirrorError(StoreError):
    """A mirrored log refused what it was given; nothing of that call was stored."""


def mirror_fp_key(index: int, entry: PreparedEntry) -> bytes:
    """The dedupe key of a mirrored entry: its 8-byte time prefix, a fixed 24-byte mark and
    its 8-byte index (unique in the log; an appended entry's key ends in a SHA-256 digest,
    which no mirrored key can equal short of a preimage; a digest here cost 1.6 us an entry)."""
    return entry.fp_key[:8] + _KEY_MARK + index.to_bytes(8, "big")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class MirroredLog:
    """A log of this store that copies another log entry for entry. Create with
    :meth:`edgeaudit.store.Store.mirror`."""

    def __init__(self, log: EvidenceLog) -> None:
        self.log = log
        self.origin = log.origin

    def size(self) -> int:
        """How many entries the mirror holds."""
        return self.log.size

    def held(self) -> StoredCheckpoint | None:
        """The pod's checkpoint of the largest size held, or None."""
        return self.log.latest_checkpoint()

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every pod checkpoint held, by size."""
        return self.log.checkpoints()

    def transitions(self) -> list[str]:
        """The notes of the held checkpoints that name a key transition (``prev-key`` and
        ``next-key`` lines), by size: only those rows are read, however many are held."""
        t = CheckpointRow.__table__
        with self.log._engine.connect() as conn:
            rows = conn.execute(
                select(t.c.note)
                .where(
                    t.c.log_id == self.log.log_id,
                    t.c.note.contains("\nprev-key ", autoescape=True),
                    t.c.note.contains("\nnext-key ", autoescape=True),
                )
                .order_by(t.c.tree_size)
            ).all()
        return [r[0] for r in rows]

    def reader(self) -> AbstractContextManager[LogReader]:
        """A read session on one snapshot, as :meth:`EvidenceLog.reader`."""
        return self.log.reader()

    def root(self, size: int) -> bytes:
        """The root of the stored tree at ``size`` (at most :meth:`size`)."""
        with self.reader() as reader:
            held = reader.head()[0]
            if not 0 <= size <= held:
                raise MirrorError(
                    f"mirror of {self.origin}: no tree of size {size}, {held} entries are held"
                )
            return reader.root(size)

    def _prepared(self, start: int, entries: Sequence[bytes]) -> Iterator[PreparedEntry]:
        for i, raw in enumerate(entries):
            try:
                if type(raw) is not bytes:
                    raise InputError(f"expected bytes, got {type(raw).__name__}")
                yield prepare_canonical(raw)
            except InputError as exc:
                raise MirrorError(
                    f"mirror of {self.origin}: entry {start + i} is not an entry an append "
                    f"stores, nothing of this batch was stored: {exc}"
                ) from None

    def extend(self, start: int, entries: Sequence[bytes]) -> int:
        """Store ``entries[i]`` as entry ``start + i``, all or nothing; return the new size.

        ``start`` must be :meth:`size` (a client resumes from there); each entry must be the
        canonical bytes of a valid event. Otherwise :class:`MirrorError` and nothing stored.
        Entries are checked as they are stored (on PostgreSQL the server stores the rows
        already sent meanwhile); a refused one rolls the whole call back.
        """
        if start < 0:
            raise MirrorError(f"mirror of {self.origin}: start index {start} is negative")
        with self.log._write() as conn:
            size, head = sql.lock_log(conn, self.log.log_id)
            if start != size:
                raise MirrorError(
                    f"mirror of {self.origin}: entries given from index {start}, but the mirror "
                    f"holds {size} entries; resume from index {size}"
                )
            if not entries:
                return size
            batch = self._prepared(start, entries)
            return store_entries(conn, self.log.log_id, size, head, batch, mirror_fp_key)

    def hold_checkpoint(self, size: int, root: bytes, note: str) -> None:
        """Keep the pod's signed checkpoint ``note`` (its exact text) of ``size`` and ``root``.

        Refused (:class:`MirrorError`) unless the note's text states this origin, size and root,
        the mirror holds at least ``size`` entries, and the tree stored has that root at that
        size. The signature is the client's to verify. Holding the same note again does
        nothing; a different note of a size already held is refused.
        """
        label = f"mirror of {self.origin}: checkpoint of size {size}"
        try:
            body = Checkpoint.parse(parse_note(note.encode("utf-8")).body)
        except (NoteError, InputError) as exc:
            raise MirrorError(f"{label}: not a checkpoint note: {exc}") from None
        if (body.origin, body.size, body.root) != (self.origin, size, root):
            raise MirrorError(
                f"{label}: the note states origin {body.origin!r}, size {body.size}, root "
                f"{body.root.hex()}, not this origin, size and root {root.hex()}"
            )
        log_id = self.log.log_id
        t = CheckpointRow.__table__
        with self.log._write() as conn:
            held, _ = sql.lock_log(conn, log_id)
            if size > held:
                raise MirrorError(f"{label}: the mirror holds only {held} entries")
            source = TileNodeSource(held, lambda keys: sql.fetch_tiles(conn, log_id, keys))
            try:
                stored = tree_root(size, source)
            except (LookupError, ValueError) as exc:
                raise MirrorError(f"{label}: the stored tree is damaged ({exc})") from None
            if stored != root:
                raise MirrorError(
                    f"{label}: its root {root.hex()} is not the root of the entries held at "
                    f"that size, {stored.hex()}: refused"
                )
            row = conn.execute(
                select(t.c.note).where(t.c.log_id == log_id, t.c.tree_size == size)
            ).first()
            if row is not None:
                if row[0] == note:
                    return
                raise MirrorError(f"{label}: a different note of that size is held already")
            conn.execute(
                insert(CheckpointRow).values(
                    log_id=log_id, tree_size=size, root_hash=root, note=note, signed_at=_now()
                )
            )
