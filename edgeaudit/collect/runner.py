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

import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeaudit.collect import reading
from edgeaudit.collect.interface import (
    Output,
    ParseContext,
    Parser,
    RawRecord,
    Resume,
    Skipped,
)
from edgeaudit.collect.model import Quarantined
from edgeaudit.errors import InputError
from edgeaudit.events import PreparedEntry
from edgeaudit.store import EvidenceLog, QuarantineRecord, ResumePoint

log = logging.getLogger("edgeaudit.collect")

Progress = Callable[[str, int, int], None]
"""Called after each committed batch with (file name, bytes read, file size)."""
Sink = Callable[[list[PreparedEntry], list[QuarantineRecord], ResumePoint | None, int], None]
"""Takes one batch: entries, quarantined records, the resume point committed with them, and
how far the input has been read (for progress)."""

HEAD_BYTES = 4096
MAX_FILE = 512 << 20  # whole-file formats (e.g. CloudTrail) larger than this are refused
WARN_DAMAGE = 10  # damaged regions of one file reported on stderr (all are quarantined)


MAX_SKIP_REASONS = 50  # distinct skip reasons a summary names; the rest are counted together
OTHER_REASONS = "(other reasons)"


@dataclass(slots=True)
class CollectSummary:
    files: int = 0
    read: int = 0  # records fed to the parser
    events: int = 0
    appended: int = 0
    duplicates: int = 0
    quarantined: int = 0  # newly quarantined (repeats of already stored records not counted)
    skipped: int = 0  # well-formed records a parser deliberately did not turn into events
    redacted: int = 0  # events and quarantined records a secret was removed from
    skip_reasons: dict[str, int] = field(default_factory=dict)  # reason -> skipped records

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped += count
        reasons = self.skip_reasons
        if reason not in reasons and len(reasons) >= MAX_SKIP_REASONS:
            reason = OTHER_REASONS
        reasons[reason] = reasons.get(reason, 0) + count

    def add(self, other: CollectSummary) -> None:
        """Count ``other`` (e.g. one file's summary) into this one."""
        for name in ("files", "read", "events", "appended", "duplicates", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.redacted += other.redacted
        for reason, count in other.skip_reasons.items():
            self.skip(reason, count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "read": self.read,
            "events": self.events,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "redacted": self.redacted,
            "skip_reasons": dict(sorted(self.skip_reasons.items(), key=lambda rc: (-rc[1], rc[0]))),
        }


@dataclass(slots=True)
class _Batch:
    entries: list[PreparedEntry] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)


def _head_hash(path: Path, upto: int) -> str:
    """SHA-256 of the file's first min(4096, upto) bytes: identifies the file a resume offset
    belongs to (a rotated or rewritten file has another head)."""
    with path.open("rb") as fh:
        return hashlib.sha256(fh.read(min(HEAD_BYTES, upto))).hexdigest()


class _Feeder:
    """Frames a file into RawRecords (through :class:`reading.LineReader`), hands damage to
    the run's quarantine, and remembers where the current record started."""

    def __init__(self, source: reading.Input, name: str, start: int, follow: bool) -> None:
        self.source = source
        self.fh = source.fh
        self.name = name
        self.start = start
        self.offset = start  # end of the last record (or damage) handed out
        self.current_start = start  # start of the record being parsed now
        self.line = 0
        self.follow = follow
        self.read = 0
        self.last = b""
        self.prefix = b""  # the file's first bytes as read (up to 4 KiB): detects rotation
        self.before_next: Callable[[], None] | None = None
        self.on_damage: Callable[[reading.Damage], None] | None = None
        self.damaged = 0
        self.preface: list[RawRecord] = []
        # Follow mode: called at the current end of the file with (records handed out by this
        # pass, bytes of a line still being written); True when there is more to read.
        self.wait: Callable[[int, int], bool] | None = None
        self.rotated = False
        self.reader: reading.LineReader | None = None

    def _reader(self) -> reading.LineReader:
        if self.reader is None:
            self.reader = reading.LineReader(
                self.source.stream,
                self.name,
                start=self.start,
                line=self.line,
                follow=self.follow,
                limit=reading.MAX_RECORD,
                read_size=reading.READ_SIZE,
            )
            if not self.source.gzipped:
                self.reader.on_read = self._saw
        return self.reader

    def _saw(self, chunk: bytes) -> None:
        if len(self.prefix) < HEAD_BYTES:
            self.prefix += chunk[: HEAD_BYTES - len(self.prefix)]

    def lines(self) -> Iterator[RawRecord]:
        # Header lines of a resumed file come first, again (they lie before the start offset,
        # so they never move it).
        yield from self.preface
        self.preface = []
        fed = 0
        name = self.name
        for items in self._reader().items():
            if items is None:
                # The end for now. Following, the parser stays suspended right here, with
                # whatever it holds (an auditd event, a sudo command line, a Vault request),
                # so records that arrive in two polls still make one event.
                if self.wait is not None and self.wait(fed, 0):
                    continue
                return
            for item in items:
                if isinstance(item, reading.Damage):
                    self.damage(item)
                    continue
                fed += 1
                if self.before_next is not None:
                    self.before_next()
                data, number, end = item
                self.line = number
                self.current_start = self.offset
                self.offset = end
                self.read += 1
                self.last = data
                yield RawRecord(data, f"{name}:{number}", end)

    def damage(self, item: reading.Damage) -> None:
        """Quarantine damaged input in the current batch, which then runs past it."""
        if self.before_next is not None:
            self.before_next()  # a full batch is committed first, as before any record
        self.damaged += 1
        if self.damaged <= WARN_DAMAGE:
            log.warning("%s: %s (quarantined)", item.location, item.reason)
            if self.damaged == WARN_DAMAGE:
                log.warning("%s: further damage is quarantined without a warning", self.name)
        if self.on_damage is None:  # pragma: no cover - the runner always sets it
            raise RuntimeError(f"{item.location}: damaged input with nowhere to quarantine it")
        self.on_damage(item)
        self.offset = item.end


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


class _Follower:
    """What follow mode does at the current end of a file: commit the pending batch, then
    poll until the file grows, is rotated or truncated, or ``stop`` is set.

    The parser is not ended at each poll, so a record group split across polls stays one
    event. After ``settle`` seconds without growth, a pass that has read records ends (so a
    stateful parser emits an event whose tail never came, e.g. a sudo line that might still
    get continuation lines); the next pass starts with the next growth.
    """

    def __init__(
        self,
        path: Path,
        feeder: _Feeder,
        poll: float,
        settle: float | None,
        stop: threading.Event | None,
    ) -> None:
        self.path = path
        self.feeder = feeder
        self.poll = poll
        self.settle = settle if settle is not None else max(5 * poll, 1.0)
        self.stop = stop
        self.at_end: Callable[[], None] | None = None  # set by the run: commit what is pending

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def wait(self, fed: int, partial: int) -> bool:
        if self.at_end is not None:
            self.at_end()
        feeder, quiet = self.feeder, 0.0
        while not self._stopped():
            if self.stop is not None:
                self.stop.wait(self.poll)
            else:  # pragma: no cover - follow without a stop event runs until killed
                time.sleep(self.poll)
            if self._stopped():
                return False
            size = _size(self.path)
            if (
                size < max(feeder.offset, feeder.fh.tell())
                or _prefix(self.path, len(feeder.prefix)) != feeder.prefix
            ):
                feeder.rotated = True
                return False
            if size > feeder.fh.tell() + partial:
                return True
            quiet += self.poll
            if fed and quiet >= self.settle:
                return False
        return False


def worth_a_process(path: Path, start: int) -> bool:
    """Parse in a second process? The rule and its measurements live with the worker
    (:func:`edgeaudit.collect.pipeline.worth_a_worker`); the results are the same either way."""
    from edgeaudit.collect.pipeline import worth_a_worker  # it imports this module

    return worth_a_worker(_size(path) - start)


def _prefix(path: Path, n: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _first_lines(path: Path, count: int, upto: int) -> list[RawRecord]:
    out: list[RawRecord] = []
    with path.open("rb") as fh:
        offset = 0
        for number in range(1, count + 1):
            raw = fh.readline(reading.MAX_RECORD)
            if not raw or offset + len(raw) > upto:
                break
            offset += len(raw)
            out.append(RawRecord(raw.rstrip(b"\r\n"), f"{path.name}:{number}", offset))
    return out


def _lines_before(path: Path, upto: int, count: int) -> list[RawRecord]:
    """The last ``count`` complete lines before offset ``upto`` (context for a parser that
    primes its state on resume, e.g. journald's last sequence number)."""
    with path.open("rb") as fh:
        begin = max(0, upto - count * reading.MAX_RECORD)
        fh.seek(begin)
        data = fh.read(upto - begin)
    lines = data.split(b"\n")[:-1]  # upto is just after a newline
    if begin > 0:
        lines = lines[1:]  # the first piece may be the tail of a longer line
    first = _count_lines(path, upto) - len(lines[-count:]) + 1
    name = path.name
    out, end = [], upto
    for i, line in enumerate(reversed(lines[-count:])):
        out.append(RawRecord(line.rstrip(b"\r"), f"{name}:{first + count - 1 - i}", end))
        end -= len(line) + 1
    return out[::-1]


def _count_lines(path: Path, upto: int) -> int:
    count, left = 0, upto
    with path.open("rb") as fh:
        while left > 0:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def _size(path: Path) -> int:
    return path.stat().st_size


def _run(
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    parser: Parser,
    records: Iterator[RawRecord],
    feeder: _Feeder,
    ctx: ParseContext,
    summary: CollectSummary,
    batch_size: int,
    point: tuple[str, str, Path] | None,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> None:
    """Feed ``records`` to ``parser`` and hand each batch to ``sink`` (default: append it to
    ``log_`` and count the result in ``summary``)."""
    if sink is None:
        sink = store_sink(log_, summary)
    run = _Run(sink, parser, feeder, summary, batch_size, point, progress)
    before = feeder.read
    feeder.before_next = run.flush_if_full
    feeder.on_damage = lambda d: run.damaged(d, ctx)
    follower = getattr(feeder.wait, "__self__", None)
    if isinstance(follower, _Follower):
        follower.at_end = run.flush_safe
    outputs = parser.parse(records, ctx)
    while True:
        try:
            out = next(outputs)
        except StopIteration:
            break
        except _SinkFailed as failed:
            raise failed.__cause__ or RuntimeError("storing a batch failed") from None
        except Exception as exc:  # a parser bug must not lose the batch or stop collection
            run.batch.quarantine.append(_parser_error(parser, ctx, feeder, exc))
            parser = run.parser = parser_factory()  # a fresh parser goes on with the next record
            outputs = parser.parse(records, ctx)
            continue
        run.take(out)
    feeder.before_next = feeder.on_damage = None
    if isinstance(follower, _Follower):
        follower.at_end = None
    # The input is exhausted and the parser has flushed: everything read is emitted. (Unless the
    # source rewrites the end of its file when it appends: then only up to the last Resume.)
    end = feeder.offset
    if getattr(run.parser, "tail_rewritten", False):
        end = run.resume_at if run.resume_at is not None else feeder.start
    run.flush(end)
    summary.read += feeder.read - before


class _SinkFailed(BaseException):
    """Storing a batch failed inside the parser's iteration (the cause is the error)."""


class _Run:
    """One pass of a parser over records: the pending batch and the last safe offset."""

    def __init__(
        self,
        sink: Sink,
        parser: Parser,
        feeder: _Feeder,
        summary: CollectSummary,
        batch_size: int,
        point: tuple[str, str, Path] | None,
        progress: Progress | None = None,
    ) -> None:
        self.progress = progress
        self.sink = sink
        self.parser = parser
        self.feeder = feeder
        self.summary = summary
        self.batch_size = batch_size
        self.point = point
        self.batch = _Batch()
        self.resume_at: int | None = None
        self.committed: int | None = None  # the resume offset last committed

    def take(self, out: Output) -> None:
        batch = self.batch
        if isinstance(out, Resume):
            # never behind where this run started (re-fed header lines report earlier offsets)
            self.resume_at = max(out.offset, self.feeder.start)
        elif isinstance(out, Skipped):
            self.summary.skip(out.reason)
        elif isinstance(out, Quarantined):
            if out.redacted:
                self.summary.redacted += 1
            batch.quarantine.append(
                QuarantineRecord(
                    out.source_kind,
                    out.source,
                    out.location,
                    out.reason,
                    out.raw,
                    out.raw_sha256,
                )
            )
        else:
            self.summary.events += 1
            if out.redacted:
                self.summary.redacted += 1
            try:
                batch.entries.append(out.prepared())
            except InputError as exc:
                p = out.provenance
                batch.quarantine.append(
                    QuarantineRecord(
                        p.source_kind,
                        p.source,
                        p.location,
                        f"event rejected by the store: {exc}",
                        b"",
                        p.raw_sha256,
                    )
                )

    def damaged(self, d: reading.Damage, ctx: ParseContext) -> None:
        """Quarantine damaged input the reader set aside (redacted by the parser that reads
        this input, so no secret it would remove is stored in clear)."""
        record, redacted = _damage_record(self.parser, ctx, d)
        self.batch.quarantine.append(record)
        if redacted:
            self.summary.redacted += 1

    def flush_if_full(self) -> None:
        """Called by the feeder before it hands out the next record: the parser has emitted
        everything for the records before it, so their end offset is a safe resume point
        (for a stateful parser: its own last Resume).

        This runs inside the parser's iteration, so a failure to store is wrapped in
        :class:`_SinkFailed`, which no parser catches, and unwrapped by :func:`_run`: it
        must stop the collection, not pass for a parser bug."""
        if len(self.batch.entries) + len(self.batch.quarantine) >= self.batch_size:
            self.flush_safe()

    def flush_safe(self) -> None:
        """Commit the batch with the last safe resume point (see :meth:`flush_if_full`);
        nothing is written when there is nothing new. Runs inside the parser's iteration."""
        offset = self.resume_at if self.parser.stateful else self.feeder.offset
        if not self.batch.entries and not self.batch.quarantine and offset == self.committed:
            return
        try:
            self.flush(offset)
        except Exception as exc:
            raise _SinkFailed from exc

    def flush(self, offset: int | None) -> None:
        batch = self.batch
        resume = None
        if self.point is not None and offset is not None:
            kind, key, path = self.point
            resume = ResumePoint(kind, key, offset, _head_hash(path, offset))
        if not batch.entries and not batch.quarantine and resume is None:
            return
        self.sink(batch.entries, batch.quarantine, resume, self.feeder.offset)
        self.batch = _Batch()
        self.committed = offset
        if self.progress is not None and self.point is not None:
            path = self.point[2]
            self.progress(path.name, self.feeder.offset, max(_size(path), self.feeder.offset))


def _damage_record(
    parser: Parser, ctx: ParseContext, d: reading.Damage
) -> tuple[QuarantineRecord, bool]:
    """The quarantine record of damaged input, with what the parser redacts from raw bytes
    (``redact``: e.g. card numbers in a badge export) replaced; and whether anything was."""
    raw, redact = d.raw, getattr(parser, "redact", None)
    if redact is not None:
        raw = redact(raw, ctx)
    record = QuarantineRecord(
        parser.name, ctx.source, d.location, d.reason, raw, hashlib.sha256(raw).hexdigest()
    )
    return record, raw != d.raw


def _parser_error(
    parser: Parser, ctx: ParseContext, feeder: _Feeder, exc: Exception
) -> QuarantineRecord:
    location = f"{feeder.name}:{feeder.line}"
    reason = f"parser {parser.name}/{parser.version} failed: {type(exc).__name__}: {exc}"
    log.warning("%s: %s", location, reason)
    raw = feeder.last
    return QuarantineRecord(
        parser.name, ctx.source, location, reason[:1000], raw, hashlib.sha256(raw).hexdigest()
    )


def store_sink(log_: EvidenceLog, summary: CollectSummary) -> Sink:
    """A sink that appends each batch, its quarantine and its resume point in one transaction
    and counts the result."""

    def sink(
        entries: list[PreparedEntry],
        quarantine: list[QuarantineRecord],
        resume: ResumePoint | None,
        _read_to: int,
    ) -> None:
        result = log_.append(entries, quarantine=quarantine, resume=resume)
        summary.appended += result.appended
        summary.duplicates += result.duplicates
        summary.quarantined += result.quarantined

    return sink
