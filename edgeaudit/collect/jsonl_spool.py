"""The first pass's spool (``edgeaudit append FILE.jsonl``): every line of an input validated
into a :class:`Spool`, which keeps the entries in input order, and hands them out in batches, in
memory that does not grow with the input. How the passes use it is in
:mod:`edgeaudit.collect.jsonl`.
"""

from __future__ import annotations

import marshal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

from edgeaudit.collect.jsonl_line import MAX_LINE_BYTES, LineError, _fast_row, _strict
from edgeaudit.errors import InputError
from edgeaudit.events import EntryRow, PreparedEntry

BATCH_SIZE = 20_000
"""Entries per store transaction in the second pass."""
_RECORD = 1024  # entries per marshalled spool record
_HELD_BYTES = 16 << 20  # spool records kept in memory before a temporary file is used


def _scan(name: str, lines: Iterable[bytes], spool: Spool) -> int:
    """Validate ``lines`` into ``spool``; return how many lines there were."""
    errors, fast, limit, record = spool.errors, _fast_row, MAX_LINE_BYTES, _RECORD
    rows: list[EntryRow] = []
    add = rows.append
    number = 0
    for number, raw in enumerate(lines, start=1):
        row = fast(raw) if len(raw) <= limit else None
        if row is None:
            found = _strict(name, number, raw)
            if found is None:
                continue
            if isinstance(found, LineError):
                errors.append(found)
                continue
            add(tuple(found))  # type: ignore[arg-type]  # a named tuple's fields
        else:
            add(row)
        if len(rows) >= record:
            spool.extend(rows)
            rows.clear()
    spool.extend(rows)
    return number


@dataclass(frozen=True, slots=True)
class _Part:
    """Lines of one input: all of it, or the bytes from ``start`` (a line start) to ``end``."""

    name: str
    start: int = 0
    end: int | None = None


def _upto(fh: BinaryIO, size: int) -> Iterator[bytes]:
    for raw in fh:
        yield raw
        size -= len(raw)
        if size <= 0:
            return


def _read_part(part: _Part, spool: Spool) -> int:
    """Validate one part into ``spool``; return its number of lines (line numbers count from
    the part's start)."""
    name = part.name
    if name == "-":
        return _scan(name, sys.stdin.buffer, spool)
    try:
        with Path(name).open("rb") as fh:
            if part.start:
                fh.seek(part.start)
            if part.end is None:
                return _scan(name, fh, spool)
            return _scan(name, _upto(fh, part.end - part.start), spool)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None


class Spool:
    """The first pass's result: every line's entry in order (unless a line was bad) and the
    errors. Entries are marshalled by records of ``_RECORD`` (which also drops the slack orjson
    leaves in each body's buffer); records stay in memory up to ``_HELD_BYTES``, after which all
    of them go to an unnamed temporary file (mode 0600, gone when closed or when the process
    ends), or all go to ``file`` when one is given. Use as a context manager."""

    def __init__(
        self,
        batch_size: int | None = None,
        spool_dir: str | Path | None = None,
        *,
        file: IO[bytes] | None = None,
    ) -> None:
        batch_size = batch_size or BATCH_SIZE
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.errors: list[LineError] = []
        self.count = 0  # entries kept (not meaningful once a line is bad)
        self._batch_size = batch_size
        self._dir = spool_dir
        self._rows: list[tuple[Any, ...]] = []
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._file = file
        self._more: list[IO[bytes]] = []  # a worker's spool files, read after ours

    def add(self, entry: PreparedEntry) -> None:
        self.extend([tuple(entry)])  # type: ignore[list-item]

    def extend(self, rows: list[EntryRow]) -> None:
        """Keep ``rows`` (entries as plain tuples, in input order)."""
        if self.errors:  # nothing will be written: validate on, keep nothing
            self._drop()
            return
        self._rows += rows
        self.count += len(rows)
        if len(self._rows) >= _RECORD:
            self._flush()

    def _flush(self) -> None:
        blob = marshal.dumps(self._rows)
        self._rows = []
        if self._file is None:
            self._held.append(blob)
            self._held_bytes += len(blob)
            if self._held_bytes <= _HELD_BYTES:
                return
            self._file = _temporary(self._dir)
            blobs, self._held, self._held_bytes = self._held, [], 0
        else:
            blobs = [blob]
        write = self._file.write
        for b in blobs:
            write(len(b).to_bytes(8, "big"))
            write(b)

    def finish(self) -> None:
        """Write what is still in memory to ``file`` (a worker's spool, before it hands over)."""
        if self.errors:
            self._drop()
        elif self._file is not None:
            if self._rows:
                self._flush()
            self._file.flush()

    def adopt(self, file: IO[bytes], count: int, errors: list[LineError]) -> None:
        """Append a worker's spool (its entries follow ours) and its errors."""
        self.errors += errors
        self.count += count
        self._more.append(file)
        if self.errors:
            self._drop()

    def _drop(self) -> None:
        self._rows.clear()
        self._held.clear()
        self.close()

    def _records(self) -> Iterator[bytes]:
        yield from self._held
        if self._file is not None:
            yield from _file_records(self._file)
        if self._rows:
            yield marshal.dumps(self._rows)
        for fh in self._more:
            yield from _file_records(fh)

    def batches(self) -> Iterator[list[PreparedEntry]]:
        """The entries in input order, ``batch_size`` at a time (the last batch may be
        shorter); at least one batch, empty when the input held no event. Refuses when a line
        was bad."""
        if self.errors:
            raise InputError("the input has bad lines: nothing may be appended")
        make, loads, size = PreparedEntry._make, marshal.loads, self._batch_size
        batch: list[PreparedEntry] = []
        yielded = False
        for blob in self._records():
            batch += map(make, loads(blob))
            while len(batch) >= size:
                yield batch[:size]
                del batch[:size]
                yielded = True
        if batch or not yielded:
            yield batch

    def close(self) -> None:
        for fh in [self._file, *self._more]:
            if fh is not None:
                fh.close()
        self._file = None
        self._more = []

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _file_records(fh: IO[bytes]) -> Iterator[bytes]:
    fh.flush()
    fh.seek(0)
    while head := fh.read(8):
        yield fh.read(int.from_bytes(head, "big"))


def _temporary(spool_dir: str | Path | None) -> IO[bytes]:
    try:
        return tempfile.TemporaryFile(prefix=".edgeaudit-append-", dir=spool_dir)
    except OSError:
        if spool_dir is None:
            raise
        return tempfile.TemporaryFile(prefix="edgeaudit-append-")
