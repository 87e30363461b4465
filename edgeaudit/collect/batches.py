"""The batching side of a collection run: :func:`_run` feeds records to a parser and commits
its output in batches (events, the records quarantined since the last batch and a safe resume
offset, through a :data:`Sink`; :func:`store_sink` appends them to the evidence log in one
transaction), quarantining damaged input and parser failures instead of stopping."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgeaudit.collect import reading
from edgeaudit.collect.feeding import _Feeder, _Follower, _head_hash, _size, log
from edgeaudit.collect.interface import (
    Output,
    ParseContext,
    Parser,
    RawRecord,
    Resume,
    Skipped,
)
from edgeaudit.collect.model import Quarantined
from edgeaudit.collect.summary import CollectSummary
from edgeaudit.errors import InputError
from edgeaudit.events import PreparedEntry
from edgeaudit.store import EvidenceLog, QuarantineRecord, ResumePoint

Progress = Callable[[str, int, int], None]
"""Called after each committed batch with (file name, bytes read, file size)."""
Sink = Callable[[list[PreparedEntry], list[QuarantineRecord], ResumePoint | None, int], None]
"""Takes one batch: entries, quarantined records, the resume point committed with them, and
how far the input has been read (for progress)."""


@dataclass(slots=True)
class _Batch:
    entries: list[PreparedEntry] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)


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
            if out.redacted:
                self.summary.redacted += 1
            try:
                batch.entries.append(out.prepared())
                self.summary.events += 1
            except InputError as exc:  # e.g. over the entry size limit: quarantined, not counted
                # as an event, so events + quarantined + skipped still add up to what was read
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
