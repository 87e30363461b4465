"""Reading collector input: plain or gzipped bytes framed into lines, with damage set aside.

Damaged input is never fatal and never silently dropped. The reader hands out good lines and,
in file order between them, :class:`Damage` items that the runner quarantines:

* **a damaged gzip stream** (a truncated S3 object, a corrupt block, garbage after the last
  member): what decompressed before the failure is read as usual; the rest of the file is one
  damage item naming the compressed byte offset where decompression failed and the error. The
  incomplete last line before the failure is its raw data (never handed to a parser: its end is
  missing). See :class:`GzipStream`.
* **an over-long line** (more than :data:`MAX_RECORD` bytes): one damage item at its line
  number; its raw data is cut to :data:`RAW_MAX` bytes and the reason states the true length.
  It is never buffered whole, and later lines keep their true line numbers.
* **a binary region** (a run of NUL bytes or binary noise inside a text log, e.g. crash
  residue): one damage item, located at the region's first line, reason ``binary region of N
  bytes``. Binary bytes are NUL, the C0 controls other than TAB, LF, VT, FF, CR, ESC and the
  separators FS, GS, RS and US (auditd's enriched format ends each record's raw part with a
  GS; JSON text sequences begin records with an RS), and DEL. Binary bytes less than
  :data:`GAP` bytes apart form one cluster (across newlines); a cluster with a NUL or at least
  :data:`MIN_BINARY` binary bytes is damage (fewer, NUL-free control characters stay in their
  line for the parser). The region runs from the start of the line where the cluster begins
  (that line's beginning lost its end) to the end of the line where it ends, newline
  included; but when the cluster ends with a NUL, text after it on the same line is the first
  line written after the damage (a file system that loses data in a crash leaves NULs in its
  place, and the next write follows them) and is read as a line of its own (an over-long one
  if it is), with that physical line's number.

The outcome depends only on the bytes, never on where read buffers fall: lines are framed
across reads, a cluster is decided only once :data:`GAP` bytes past its last binary byte have
been seen (or the input ends), and line numbers count every newline, inside damage too.

A file that is *mostly* binary is refused instead, before anything of it is stored
(:func:`refuse_binary`): more than half of its bytes lie in binary regions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from edgeaudit.collect.regions import (
    _BIN,
    BINARY_BYTES,
    MIN_BINARY,
    Damage,
    Item,
    Line,
    _clean,
    _Group,
    _Long,
    _over_long,
    _Phys,
)
from edgeaudit.collect.streams import (
    COMPRESSED_READ,
    GzipStream,
    Input,
    PlainStream,
    Stream,
    StreamDamage,
    _fsize,
    is_gzip,
    open_input,
)
from edgeaudit.errors import InputError

# names this module has always offered (the runner and the tests use them from here)
__all__ = [
    "BINARY_BYTES",
    "COMPRESSED_READ",
    "GAP",
    "MAX_RECORD",
    "MIN_BINARY",
    "RAW_MAX",
    "READ_SIZE",
    "_BIN",
    "Damage",
    "GzipStream",
    "Input",
    "Item",
    "Line",
    "LineReader",
    "PlainStream",
    "Stream",
    "StreamDamage",
    "is_gzip",
    "open_input",
    "read_whole",
    "refuse_binary",
    "refuse_binary_file",
]

MAX_RECORD = 4 << 20
"""A line longer than this (without its newline) is quarantined whole, never buffered."""
RAW_MAX = 64 << 10
"""The raw bytes kept of an over-long line or a binary region (its true size is in the reason)."""
GAP = 128
"""Binary bytes closer than this belong to one cluster (one damaged region)."""
READ_SIZE = 1 << 20
"""Bytes asked of the input per read (the outcome does not depend on it)."""


def read_whole(stream: Stream, limit: int) -> bytes:
    """Up to ``limit`` + 1 bytes of the stream (a damaged gzip stream: what decompressed)."""
    parts, size = [], 0
    while size <= limit:
        data = stream.read(min(READ_SIZE, limit + 1 - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


# -- the mostly-binary test ------------------------------------------------------------------


def refuse_binary(label: str, stream: Stream, size: int | None = None) -> None:
    """Raise :class:`InputError` when more than half of the input's bytes lie in binary
    regions (as :class:`LineReader` finds them). ``size``, when known, lets the scan stop as
    soon as the answer is certain (a text file: after a little over half of it)."""
    reader = LineReader(stream, label, limit=MAX_RECORD)
    reader.scan(size)
    total = reader.offset - reader.start
    if 2 * reader.binary_bytes <= total:
        return
    if reader.first_nul >= 0:
        what = f"NUL byte at offset {reader.first_nul}"
    else:
        at = reader.first_binary
        what = f"control byte 0x{reader.first_byte:02x} at offset {at}"
    raise InputError(
        f"{label}: looks binary ({what}); {100 * reader.binary_bytes // total}% of it is "
        "binary data, not a log file (a log with damaged regions is collected, the regions "
        "quarantined)"
    )


def refuse_binary_file(path: Path) -> None:
    """:func:`refuse_binary` over the whole (decompressed) file."""
    source = open_input(path)
    try:
        size = None if source.gzipped else _fsize(source.fh)
        refuse_binary(str(path), source.stream, size)
    finally:
        source.close()


class LineReader:
    """Frames a stream into :class:`Line` and :class:`Damage` items (see the module's rules).

    :meth:`items` yields them in file order, a list per read. Without ``follow`` it ends at the
    end of the input (the last line is read even without a newline; a damaged stream ends with
    its damage). Following, it yields ``None`` whenever the input is exhausted for now, and
    iterating on after a ``None`` reads on (after the file grew).
    Following, a line still being written is held until its newline, and a cluster of binary
    bytes is decided at the current end of the file when that falls at a line's end.
    """

    def __init__(
        self,
        stream: Stream,
        name: str,
        *,
        start: int = 0,
        line: int = 0,
        follow: bool = False,
        limit: int | None = None,
        read_size: int | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.start = start
        self.offset = start  # offset of the next byte to read
        self.number = line  # physical lines completed so far
        self.follow = follow
        self.limit = MAX_RECORD if limit is None else limit
        self.read_size = READ_SIZE if read_size is None else read_size
        self._pending: list[bytes] = []  # the current, unfinished line (at most the limit)
        self._pending_len = 0
        self._pending_start = start
        self._long: _Long | None = None
        self._group: _Group | None = None
        self._after: list[_Phys] = []  # clean lines after the group, within GAP of it
        self.on_read: Callable[[bytes], None] | None = None  # sees every chunk read
        # what the mostly-binary test needs (see scan)
        self.binary_bytes = 0  # bytes in binary regions so far
        self.first_nul = self.first_binary = -1
        self.first_byte = 0
        self._scanning = False

    @property
    def holding(self) -> bool:
        """A line is unfinished (following: still being written)."""
        return bool(self._pending_len) or self._long is not None

    def items(self) -> Iterator[list[Item] | None]:
        while True:
            chunk = self.stream.read(self.read_size)
            out: list[Item] = []
            if chunk:
                if self.on_read is not None:
                    self.on_read(chunk)
                self._feed(chunk, out)
                yield out
                continue
            damage = self.stream.damage
            if damage is not None:
                self._end_damaged(damage, out)
                yield out
                return  # nothing more can be read
            if not self.follow:
                self._end(out)
                yield out
                return  # the end
            if not self.holding and self._group is not None:
                self._close(out)
            yield out
            yield None

    def scan(self, size: int | None = None) -> None:
        """Read to the end only to count the bytes in binary regions (:attr:`binary_bytes`);
        with the input's ``size``, stop once more than half of it is certainly text."""
        self._scanning = True
        for items in self.items():
            if items is None:
                return
            if (
                size is not None
                and 2 * (self._held_from() - self.start - self.binary_bytes) >= size
            ):
                return

    def _held_from(self) -> int:
        """The offset from which bytes are still undecided (held, not yet handed out)."""
        if self._group is not None:
            return self._group.start
        if self._long is not None:
            return self._long.p.start
        if self._pending_len:
            return self._pending_start
        return self.offset

    # -- framing ---------------------------------------------------------------------------

    def _feed(self, chunk: bytes, out: list[Item]) -> None:
        pos = self.offset
        self.offset += len(chunk)
        clean = _clean(chunk)
        if not clean and self.first_nul < 0:
            self._note_first(chunk, pos)
        if self._scanning and clean and self._group is None and not self.holding:
            # the mostly-binary test: clean lines need no framing
            nl = chunk.rfind(b"\n")  # (line numbers do not matter here)
            if nl + 1 < len(chunk):
                self._add_pending(chunk[nl + 1 :], pos + nl + 1)
            return
        pieces = chunk.split(b"\n")
        rest = pieces.pop()
        first = 0
        if pieces and self.holding:
            piece = pieces[0]
            self._line(self._finish_pending(piece), out)
            pos += len(piece) + 1
            first = 1
        limit = self.limit
        append = out.append
        for i in range(first, len(pieces)):
            piece = pieces[i]
            end = pos + len(piece) + 1
            if clean and self._group is None and len(piece) <= limit:
                self.number += 1
                append((piece.rstrip(b"\r"), self.number, end))
            else:
                self._line(self._phys(piece, pos, True), out)
            pos = end
        if rest:
            self._add_pending(rest, pos)

    def _note_first(self, chunk: bytes, pos: int) -> None:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            self.first_nul = pos + nul
        if self.first_binary < 0:
            m = _BIN.search(chunk)
            assert m is not None
            self.first_binary, self.first_byte = pos + m.start(), chunk[m.start()]

    def _add_pending(self, data: bytes, at: int) -> None:
        if self._long is not None:
            self._long.add(data)
            return
        if not self._pending_len:
            self._pending_start = at
        self._pending.append(data)
        self._pending_len += len(data)
        if self._pending_len > self.limit:  # over-long: from now on only its head is kept
            self._long = _Long(self._pending_start, self.limit, RAW_MAX)
            self._long.add(b"".join(self._pending))
            self._pending, self._pending_len = [], 0

    def _finish_pending(self, piece: bytes, newline: bool = True) -> _Phys:
        if self._long is not None:
            self._long.add(piece)
            self.number += 1
            p = self._long.finish(self.number, newline)
            self._long = None
            return p
        data = b"".join(self._pending) + piece
        self._pending, self._pending_len = [], 0
        return self._phys(data, self._pending_start, newline)

    def _phys(self, data: bytes, start: int, newline: bool) -> _Phys:
        self.number += 1
        if len(data) > self.limit:
            long = _Long(start, self.limit, RAW_MAX)
            long.add(data)
            return long.finish(self.number, newline)
        p = _Phys(self.number, start, len(data) + newline, newline, data, data[:RAW_MAX])
        p.add_stats(data, start)
        return p

    # -- damage ----------------------------------------------------------------------------

    def _line(self, p: _Phys, out: list[Item]) -> None:
        g = self._group
        if g is not None:
            if p.bins and p.first_bin - g.last_bin < GAP:
                g.extend(self._after, p)
                self._after = []
                return
            if not p.bins and p.start + p.length - g.last_bin < GAP:
                self._after.append(p)  # a binary byte may still follow within GAP
                return
            self._close(out)
        if p.bins:
            self._group = _Group(p, RAW_MAX)
        else:
            out.append(self._plain(p))

    def _close(self, out: list[Item]) -> None:
        g, after = self._group, self._after
        self._group, self._after = None, []
        assert g is not None
        if g.damaged:
            self.binary_bytes += g.region(self.name, self.limit, out)
        else:
            out.extend(self._plain(p) for p in g.lines)
        out.extend(self._plain(p) for p in after)

    def _plain(self, p: _Phys) -> Item:
        if p.data is not None:
            return (p.data.rstrip(b"\r"), p.number, p.start + p.length)
        return _over_long(self.name, p.number, p.length - p.newline, self.limit, p.head, p)

    def _end(self, out: list[Item]) -> None:
        """The end of the input: the last line needs no newline."""
        if self.holding:
            self._line(self._finish_pending(b"", newline=False), out)
        if self._group is not None:
            self._close(out)

    def _end_damaged(self, damage: StreamDamage, out: list[Item]) -> None:
        """The stream broke off: the incomplete last line goes with the damage."""
        fragment, length = b"", 0
        if self._long is not None:
            fragment, length = bytes(self._long._head), self._long.p.length
        elif self._pending_len:
            fragment, length = b"".join(self._pending), self._pending_len
        self._pending, self._pending_len, self._long = [], 0, None
        if self._group is not None:
            self._close(out)
        reason = damage.reason()
        if length:
            kept = "" if len(fragment) == length else f", its first {len(fragment)}"
            reason += (
                f"; the incomplete line {self.number + 1} ({length} bytes{kept}) is this "
                "record's raw data"
            )
        out.append(Damage(f"{self.name}@{damage.offset}", reason, fragment, self.offset))
