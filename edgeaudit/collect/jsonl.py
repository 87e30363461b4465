"""Pre-normalized events, one JSON object per line (``edgeaudit append FILE.jsonl``).

Every line is validated before anything is stored; a bad line is reported with its file, line
number and reason, and then nothing is written.

Two passes, so that memory does not grow with the input (:func:`spool_events`): the first reads
every line once, validates and prepares it, and keeps the prepared entries (marshalled, a
record of ``_RECORD`` at a time) in memory up to ``_HELD_BYTES``, then in an unnamed temporary
file; only if no line was bad does the second pass hand them to the store, ``BATCH_SIZE`` per
transaction. The input is read once, so stdin works the same way and a file changing under us
cannot slip unvalidated lines into the store.

When the input is large (at least ``SPLIT_MIN_BYTES`` of regular files) and a second CPU is
idle (two CPUs or more and the load average at most the CPUs less one), a forked worker
validates the second half of it (from a line start) into a spool file of its own while this
process validates the first half: the same spool in the same order, the same errors with the
same line numbers. A worker that ends without a word is replaced by this process doing its
half. The load is consulted as for the collector's parse worker, because it was measured: 1 M
events at load 6-8 on 2 CPUs took 49-50 s with the worker and 38-39 s without, and 8 % more
CPU (docs/benchmarks.md); the first pass is a third of the work, so a second process can save
little and, on a busy machine, costs its share of the caches and the disk.

Parsing is exact and fast at once: ``orjson`` parses a line, and its value is used only when it
is provably the value of the strict parse (:func:`parse_line`, the standard library with
duplicate member names and NaN/Infinity refused); otherwise the strict parse decides, with its
usual message. See :func:`_fast`.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO, Final

import orjson

from edgeaudit.errors import InputError
from edgeaudit.events import MAX_ENTRY_BYTES, EntryRow, PreparedEntry, prepare, prepare_plain_row

MAX_LINE_BYTES: Final = 2 * MAX_ENTRY_BYTES
BATCH_SIZE = 20_000
"""Entries per store transaction in the second pass."""
_RECORD = 1024  # entries per marshalled spool record
_HELD_BYTES = 16 << 20  # spool records kept in memory before a temporary file is used
SPLIT_MIN_BYTES = 8 << 20
"""Regular-file input from which the first pass is split between two processes."""
WORKERS_ENV: Final = "EDGEAUDIT_APPEND_WORKERS"  # "1": never split; "2": even on one CPU

_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError


@dataclass(frozen=True, slots=True)
class LineError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"member {key!r} appears more than once in an object")
            seen.add(key)
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_line(raw: bytes) -> Any:
    """Parse one line as I-JSON (RFC 7493), the input RFC 8785 requires.

    The standard library parser is used on purpose: it keeps big integers exact (so they are
    refused later instead of silently becoming floats), and lets us refuse duplicate member
    names and NaN/Infinity literals, which orjson accepts or silently resolves.
    """
    text = raw.decode("utf-8")  # strict: JSON text exchanged between systems is UTF-8
    return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constants)


def _fast(raw: bytes) -> PreparedEntry | None:
    """The entry of ``raw`` from orjson's parse, or None: then the strict path decides
    (:func:`_fast_row`, as a named tuple)."""
    row = _fast_row(raw)
    return None if row is None else PreparedEntry._make(row)


def _fast_row(raw: bytes) -> EntryRow | None:
    """The entry of ``raw`` (a plain tuple) from orjson's parse, or None: then the strict path
    decides.

    orjson and the strict parse make the same value of the same text, except that orjson
    refuses some texts the strict parse accepts (they go the strict way), turns integers beyond
    64 bits into floats (:func:`~edgeaudit.events.prepare_plain` returns None for any float) and
    keeps the last of repeated member names where the strict parse refuses the line. That last
    difference is caught by counting colons:

    * in the line, every ``:`` outside a string separates one member: the line's colons are
      M (its members, repeats included) plus the colons written inside its strings;
    * the canonical body is the parsed value written out, and no encoder escapes ``:``: its
      colons are P (the members the parsed value kept) plus the colons of the kept strings.

    If no string of the line spells a colon as an escape (no ``\\u003``: the escape of ``:`` is
    ``\\u003a``), every colon of a kept string is a colon written in the line, so the line has
    at least as many colons as the body, and exactly as many only when M == P, i.e. when no
    object repeats a name (however the names are escaped). Normalizing ``time`` may drop the
    colon of ``+00:00``; that difference is added back. ``tests/test_events_fast.py`` checks
    repeats at every depth, escaped names and colons, and differentially random lines.
    """
    try:
        value = _loads(raw)
    except _JSONDecodeError:
        return None
    row = prepare_plain_row(value)
    if row is None or b"\\u003" in raw:
        return None
    colons = row[0].count(b":")  # the body
    written, text = value["time"], row[3]  # prepare_plain_row accepted it: a str
    if text != written:
        colons += written.count(":") - text.count(":")
    return row if raw.count(b":") == colons else None


def _strict(name: str, number: int, raw: bytes) -> PreparedEntry | LineError | None:
    """The exact path for one line: None for a blank line, else its entry or its error."""
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE_BYTES:
        return LineError(name, number, f"line is longer than {MAX_LINE_BYTES}")
    try:
        value = parse_line(raw)
    except UnicodeDecodeError as exc:
        return LineError(
            name, number, f"not valid UTF-8: byte {raw[exc.start]:#04x} at {exc.start}"
        )
    except ValueError as exc:  # json.JSONDecodeError and our own refusals
        return LineError(name, number, f"not valid JSON: {exc}")
    except RecursionError:
        return LineError(name, number, "not valid JSON: nested deeper than the parser allows")
    try:
        return prepare(value)
    except InputError as exc:
        return LineError(name, number, str(exc))


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


def _split(paths: list[str]) -> tuple[list[_Part], list[_Part]] | None:
    """(this process's parts, the worker's parts), cut at the first line start from the middle
    of the input's bytes; None when a second process is not worth it."""
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if "-" in paths or setting == "1" or not hasattr(os, "fork"):
        return None
    cpus = os.cpu_count() or 1
    if setting != "2" and (cpus < 2 or os.getloadavg()[0] > cpus - 1):
        return None
    try:
        sizes = [Path(name).stat().st_size for name in paths]
    except OSError:
        return None  # the one-process path reports it, in order
    total = sum(sizes)
    if total < SPLIT_MIN_BYTES:
        return None
    i, offset = 0, total // 2
    while offset >= sizes[i]:  # the input holding the middle byte, and its offset there
        offset -= sizes[i]
        i += 1
    cut = 0
    if offset:
        try:
            with Path(paths[i]).open("rb") as fh:
                fh.seek(offset - 1)
                fh.readline()  # to the end of the line holding the byte before the middle
                cut = fh.tell()
        except OSError:
            return None
    mine = [_Part(name) for name in paths[:i]] + ([_Part(paths[i], 0, cut)] if cut else [])
    theirs = [_Part(paths[i], cut)] + [_Part(name) for name in paths[i + 1 :]]
    return mine, theirs


def _work(parts: list[_Part], out: IO[bytes], batch_size: int) -> tuple[Any, ...]:
    """The worker's half: validate ``parts`` into a spool written to ``out``."""
    spool = Spool(batch_size, file=out)
    errors: list[tuple[int, int, str]] = []
    for k, part in enumerate(parts):
        seen = len(spool.errors)
        _read_part(part, spool)
        errors += [(k, e.line, e.reason) for e in spool.errors[seen:]]
    spool.finish()
    return ("ok", spool.count, errors)


def _fork(parts: list[_Part], out: IO[bytes], batch_size: int) -> tuple[int, int]:
    """Start the worker; return (its pid, the read end of its result pipe)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 0
        try:
            os.close(read_end)
            try:
                message = _work(parts, out, batch_size)
            except InputError as exc:
                message = ("input", str(exc))
            data = marshal.dumps(message)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            code = 1  # no message: the parent does this half itself
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _join(pid: int, read_end: int) -> tuple[Any, ...] | None:
    """The worker's message, or None if it ended without one."""
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        message: tuple[Any, ...] = marshal.loads(data)  # noqa: S302 - our own child wrote it
    except (EOFError, ValueError, TypeError):
        return None
    return message


def _stop(pid: int, read_end: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    os.close(read_end)
    os.waitpid(pid, 0)


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


def spool_events(
    paths: list[str],
    *,
    batch_size: int | None = None,
    spool_dir: str | Path | None = None,
    workers: int | None = None,
) -> Spool:
    """First pass over every line of every file (``-`` is standard input): validate and
    prepare each, keep the entries in a :class:`Spool` (in ``spool_dir``, e.g. the workspace,
    else the system's temporary directory) and every bad line's error. ``workers=1`` keeps it
    in this process; by default a large input is split with a forked worker (module docstring;
    ``EDGEAUDIT_APPEND_WORKERS=1`` turns that off)."""
    spool = Spool(batch_size or BATCH_SIZE, spool_dir)
    try:
        split = None if workers == 1 else _split(paths)
        if split is None:
            for name in paths:
                _read_part(_Part(name), spool)
        else:
            _two_processes(spool, split[0], split[1])
    except BaseException:
        spool.close()
        raise
    return spool


def _two_processes(spool: Spool, mine: list[_Part], theirs: list[_Part]) -> None:
    out = _temporary(spool._dir)
    try:
        pid, read_end = _fork(theirs, out, spool._batch_size)
    except BaseException:
        out.close()
        raise
    try:
        lines = [_read_part(part, spool) for part in mine]
    except BaseException:
        _stop(pid, read_end)
        out.close()
        raise
    # The worker counts the lines of the input it starts inside from its start.
    before = lines[-1] if theirs[0].start else 0
    message = _join(pid, read_end)
    if message is not None and message[0] == "input":
        out.close()
        raise InputError(message[1])
    if message is None or message[0] != "ok":
        out.close()  # the worker ended without a word: do its half here
        found = []
        for k, part in enumerate(theirs):
            seen = len(spool.errors)
            _read_part(part, spool)
            found += [(k, e.line, e.reason) for e in spool.errors[seen:]]
            del spool.errors[seen:]
        count = 0
    else:
        _, count, found = message
    errors = [
        LineError(theirs[k].name, line + (before if k == 0 else 0), reason)
        for k, line, reason in found
    ]
    if message is None or message[0] != "ok":
        spool.errors += errors
    else:
        spool.adopt(out, count, errors)


def read_events(paths: list[str]) -> tuple[list[PreparedEntry], list[LineError]]:
    """Parse and validate every line of every file (``-`` is standard input), in memory."""
    with spool_events(paths, batch_size=1 << 62) as spool:
        if spool.errors:
            return [], spool.errors
        return next(spool.batches()), []
