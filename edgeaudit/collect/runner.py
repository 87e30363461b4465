"""Run a parser over input files into the store: framing, batching, quarantine, resume offsets
and follow mode.

Each batch of events is appended together with the records quarantined since the last batch
and the file offset up to which everything has been emitted (one transaction), so a restart
neither loses nor duplicates: it resumes at the stored offset, and anything re-read is deduped
by its fingerprint.

Damaged input (a broken gzip stream, an over-long line, a binary region inside a text log) is
set aside by :mod:`edgeaudit.collect.reading` and quarantined here, in the batch of the records
around it; collection goes on. Only a file that is mostly binary is refused.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from edgeaudit.collect import reading
from edgeaudit.collect.batches import (
    Progress,
    Sink,
    _Batch,
    _damage_record,
    _parser_error,
    _Run,
    _run,
    _SinkFailed,
    store_sink,
)
from edgeaudit.collect.feeding import (
    HEAD_BYTES,
    WARN_DAMAGE,
    _count_lines,
    _Feeder,
    _first_lines,
    _Follower,
    _head_hash,
    _lines_before,
    _prefix,
    _size,
    log,
)
from edgeaudit.collect.interface import ParseContext, Parser, RawRecord
from edgeaudit.collect.summary import MAX_SKIP_REASONS, OTHER_REASONS, CollectSummary
from edgeaudit.errors import InputError
from edgeaudit.store import EvidenceLog

# names this module has always offered (the CLI, the pipeline and the tests use them from here)
__all__ = [
    "HEAD_BYTES",
    "MAX_FILE",
    "MAX_SKIP_REASONS",
    "OTHER_REASONS",
    "WARN_DAMAGE",
    "CollectSummary",
    "Progress",
    "Sink",
    "_Batch",
    "_Feeder",
    "_Follower",
    "_Run",
    "_SinkFailed",
    "_count_lines",
    "_damage_record",
    "_first_lines",
    "_head_hash",
    "_lines_before",
    "_parser_error",
    "_prefix",
    "_run",
    "_size",
    "collect_file",
    "log",
    "store_sink",
    "worth_a_process",
]

MAX_FILE = 512 << 20  # whole-file formats (e.g. CloudTrail) larger than this are refused


def collect_file(
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    path: Path,
    ctx: ParseContext,
    summary: CollectSummary,
    *,
    batch_size: int = 5000,
    follow: bool = False,
    poll: float = 1.0,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    pipeline: bool | None = None,
    settle: float | None = None,
) -> None:
    """Collect one file (following it when asked, until ``stop`` is set). A followed file
    that is truncated or replaced (rotation) is read again from its start. ``progress`` is
    called after each committed batch.

    ``settle``: in follow mode, seconds without growth after which the parser is ended, so
    that it emits what it still holds (default: 5 polls, at least 1 s).

    ``pipeline``: parse in a second process while this one appends (see
    :mod:`edgeaudit.collect.pipeline`); None decides by file size and CPU count. Follow mode
    always parses in this process.
    """
    while _collect_once(
        log_, parser_factory, path, ctx, summary, batch_size, follow, poll, stop, progress,
        pipeline, settle,
    ):  # fmt: skip
        log.warning("%s was truncated or replaced; reading it from the start", path)


def _collect_once(
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    path: Path,
    ctx: ParseContext,
    summary: CollectSummary,
    batch_size: int,
    follow: bool,
    poll: float,
    stop: threading.Event | None,
    progress: Progress | None,
    pipeline: bool | None = None,
    settle: float | None = None,
) -> bool:
    """One pass over ``path``; True when a followed file was rotated and must be re-read."""
    parser = parser_factory()
    kind = parser.name
    key = str(path.resolve())
    source = reading.open_input(path)
    with source.fh:
        if parser.framing == "file":
            summary.files += 1
            size = _collect_document(
                log_, parser_factory, parser, path, source, ctx, summary, batch_size
            )
            if progress is not None:
                progress(path.name, size, size)
            return False
        start = 0
        stored = None if source.gzipped else log_.resume_point(kind, key)
        if (
            stored is not None
            and stored.offset <= _size(path)
            and stored.head_sha256 == _head_hash(path, stored.offset)
        ):
            start = stored.offset
            source.seek(start)
        else:
            # A file read from its start must not be mostly binary (a resumed one was not).
            reading.refuse_binary_file(path)
        summary.files += 1
        feeder = _Feeder(source, path.name, start, follow)
        feeder.prefix = _prefix(path, HEAD_BYTES if source.gzipped else min(HEAD_BYTES, start))
        if start:
            feeder.preface = _first_lines(path, getattr(parser, "header_lines", 0), start)
        feeder.line = _count_lines(path, start)  # locations stay "file:line" after a resume
        prime = getattr(parser, "prime", None)
        if start and prime is not None:
            prime(_lines_before(path, start, getattr(parser, "context_lines", 1)), ctx)
        point = None if source.gzipped else (kind, key, path)
        if not follow and (pipeline if pipeline is not None else worth_a_process(path, start)):
            from edgeaudit.collect.pipeline import run_pipelined  # it imports this module

            run_pipelined(
                log_, parser_factory, parser, feeder, ctx, summary, batch_size, point, progress
            )
            return False
        if follow:
            feeder.wait = _Follower(path, feeder, poll, settle, stop).wait
        while True:
            _run(
                log_,
                parser_factory,
                parser,
                feeder.lines(),
                feeder,
                ctx,
                summary,
                batch_size,
                point,
                progress,
            )
            if not follow or (stop is not None and stop.is_set()):
                return False
            if feeder.rotated:
                return True
            # A quiet spell after some records: the parser has flushed what it held; a fresh
            # pass waits for more.


def _collect_document(
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    parser: Parser,
    path: Path,
    source: reading.Input,
    ctx: ParseContext,
    summary: CollectSummary,
    batch_size: int,
) -> int:
    """A whole-file format: the (decompressed) file is one record. A damaged gzip stream
    leaves half a document, which no parser can read as a whole: it is quarantined as one
    record with what decompressed as its raw data."""
    data = reading.read_whole(source.stream, MAX_FILE)
    if len(data) > MAX_FILE:
        raise InputError(f"{path}: larger than {MAX_FILE} bytes; refusing to load it")
    reading.refuse_binary(str(path), reading.PlainStream(io.BytesIO(data), path), len(data))
    damage = source.stream.damage
    feeder = _Feeder(source, path.name, 0, follow=False)
    if damage is None:
        records: Iterator[RawRecord] = iter([RawRecord(data, path.name, len(data))])
        _run(log_, parser_factory, parser, records, feeder, ctx, summary, batch_size, None)
        summary.read += 1  # the whole file is one record
        return len(data)
    item = reading.Damage(
        f"{path.name}@{damage.offset}",
        f"{damage.reason()}; a whole-file {parser.name} document cannot be parsed in part: "
        f"the {len(data)} bytes decompressed are this record's raw data",
        data,
        len(data),
    )

    def quarantined() -> Iterator[RawRecord]:
        feeder.damage(item)
        yield from ()

    _run(log_, parser_factory, parser, quarantined(), feeder, ctx, summary, batch_size, None)
    return len(data)


def worth_a_process(path: Path, start: int) -> bool:
    """Parse in a second process? The rule and its measurements live with the worker
    (:func:`edgeaudit.collect.pipeline.worth_a_worker`); the results are the same either way."""
    from edgeaudit.collect.pipeline import worth_a_worker  # it imports this module

    return worth_a_worker(_size(path) - start)
