"""Pre-normalized events, one JSON object per line (``edgeaudit append FILE.jsonl``).

Every line is validated before anything is stored; a bad line is reported with its file, line
number and reason, and then nothing is written.

Two passes, so that memory does not grow with the input (:func:`spool_events`): the first reads
every line once, validates and prepares it, and keeps the prepared entries (marshalled, a
record of ``_RECORD`` at a time) in memory up to ``_HELD_BYTES``, then in an unnamed temporary
file (the :class:`~edgeaudit.collect.jsonl_spool.Spool`); only if no line was bad does the
second pass hand them to the store, ``BATCH_SIZE`` per transaction. The input is read once, so
stdin works the same way and a file changing under us cannot slip unvalidated lines into the
store.

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
is provably the value of the strict parse (the standard library with duplicate member names and
NaN/Infinity refused); otherwise the strict parse decides, with its usual message. One line is
:mod:`edgeaudit.collect.jsonl_line`; the spool and the reading of inputs into it are
:mod:`edgeaudit.collect.jsonl_spool`; this module runs the first pass, in one process or two.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
from pathlib import Path
from typing import IO, Any, Final

from edgeaudit.collect.jsonl_line import LineError
from edgeaudit.collect.jsonl_spool import Spool, _Part, _read_part, _temporary
from edgeaudit.errors import InputError
from edgeaudit.events import PreparedEntry

SPLIT_MIN_BYTES = 8 << 20
"""Regular-file input from which the first pass is split between two processes."""
WORKERS_ENV: Final = "EDGEAUDIT_APPEND_WORKERS"  # "1": never split; "2": even on one CPU


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
    spool = Spool(batch_size, spool_dir)  # None: BATCH_SIZE
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
