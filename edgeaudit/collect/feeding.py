"""The input side of a collection run: :class:`_Feeder` frames a file into records (through
:class:`~edgeaudit.collect.reading.LineReader`) and hands damage on to be quarantined,
:class:`_Follower` waits at the end of a followed file for it to grow or be rotated, and the
helpers read what a resumed run needs from before its offset (the file's head, header lines,
context lines, the line count)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edgeaudit.collect import reading
from edgeaudit.collect.interface import RawRecord

log = logging.getLogger("edgeaudit.collect")

HEAD_BYTES = 4096
WARN_DAMAGE = 10  # damaged regions of one file reported on stderr (all are quarantined)


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
