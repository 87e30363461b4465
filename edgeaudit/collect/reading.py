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

import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edgeaudit.errors import InputError

MAX_RECORD = 4 << 20
"""A line longer than this (without its newline) is quarantined whole, never buffered."""
RAW_MAX = 64 << 10
"""The raw bytes kept of an over-long line or a binary region (its true size is in the reason)."""
GAP = 128
"""Binary bytes closer than this belong to one cluster (one damaged region)."""
MIN_BINARY = 4
"""A NUL-free cluster needs this many binary bytes to be damage."""
READ_SIZE = 1 << 20
"""Bytes asked of the input per read (the outcome does not depend on it)."""
COMPRESSED_READ = 64 << 10

BINARY_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1B), 0x7F])
_BIN = re.compile(b"[" + b"".join(b"\\x%02x" % b for b in BINARY_BYTES) + b"]")


Line = tuple[bytes, int, int]
"""A good line: (its bytes without the line terminator, its number, the offset just after it,
its newline included). A plain tuple: there is one per line, and tuples are built fastest."""


@dataclass(frozen=True, slots=True)
class Damage:
    """Input set aside: quarantined by the runner as one record. ``end`` is the offset just
    after the damaged bytes."""

    location: str
    reason: str
    raw: bytes
    end: int


Item = Line | Damage


@dataclass(frozen=True, slots=True)
class StreamDamage:
    """Where and why a gzip stream could not be decompressed further."""

    offset: int  # byte offset in the (compressed) file where decompression failed
    size: int  # the file's size
    error: str  # "EOFError: ..." or "zlib.error: ..."
    decompressed: int  # bytes decompressed before the failure

    def reason(self) -> str:
        return (
            f"damaged gzip: decompression failed at byte {self.offset} of {self.size} "
            f"({self.error}); the {self.decompressed} bytes decompressed before it were read, "
            "the rest of the file cannot be"
        )


# -- streams ---------------------------------------------------------------------------------


class PlainStream:
    """A file's bytes from an offset; a read error names the file and the offset."""

    damage: StreamDamage | None = None

    def __init__(self, fh: BinaryIO, path: Path, start: int = 0) -> None:
        self.fh = fh
        self.path = path
        self.pos = start

    def read(self, n: int) -> bytes:
        try:
            data = self.fh.read(n)
        except OSError as exc:
            raise InputError(
                f"{self.path}: read error at byte {self.pos}: {exc.strerror or exc}; what was "
                "collected before it is stored, a rerun resumes there"
            ) from None
        self.pos += len(data)
        return data


class GzipStream:
    """The decompressed bytes of a gzip file (members concatenated, NUL padding between them
    skipped, as :mod:`gzip` reads them). Damage does not raise: the stream ends where
    decompression failed and :attr:`damage` says where and why, with everything decompressed
    before the failing byte returned (a failure inside a read is located byte by byte)."""

    def __init__(self, fh: BinaryIO, path: Path, size: int) -> None:
        self.fh = fh
        self.path = path
        self.size = size
        self.damage: StreamDamage | None = None
        self.out = 0  # decompressed bytes returned
        self._d = zlib.decompressobj(31)
        self._in = b""  # compressed bytes not yet fed
        self._pos = 0  # file offset of self._in[0]
        self._between = False  # after a member's end: padding, the next member, or the end
        self._done = False

    def read(self, n: int) -> bytes:
        while not self._done:
            if not self._in:
                self._in = self._read_compressed()
                if not self._in:
                    self._done = True
                    if self._between:
                        return b""
                    # truncated: the stream ends before the end of its member
                    try:
                        tail = self._d.flush()
                    except zlib.error:  # pragma: no cover - flush only returns buffered output
                        tail = b""
                    self.out += len(tail)
                    self._fail(
                        self._pos,
                        "EOFError: compressed file ended before the end-of-stream marker was "
                        "reached",
                    )
                    return tail
            if self._between:
                rest = self._in.lstrip(b"\x00")
                self._pos += len(self._in) - len(rest)
                self._in = rest
                if not rest:
                    continue
                self._d = zlib.decompressobj(31)
                self._between = False
            data, before = self._in, self._d.copy()
            try:
                out = self._d.decompress(data, n)
            except zlib.error as exc:
                out, at = _locate(before, data)
                self._done = True
                self.out += len(out)
                self._fail(self._pos + at, f"zlib.error: {exc}")
                return out
            if self._d.eof:
                self._in = self._d.unused_data
                self._between = True
            else:
                self._in = self._d.unconsumed_tail
            self._pos += len(data) - len(self._in)
            if out:
                self.out += len(out)
                return out
        return b""

    def _read_compressed(self) -> bytes:
        try:
            return self.fh.read(COMPRESSED_READ)
        except OSError as exc:
            raise InputError(
                f"{self.path}: read error at byte {self._pos}: {exc.strerror or exc}"
            ) from None

    def _fail(self, offset: int, error: str) -> None:
        self.damage = StreamDamage(offset, self.size, error, self.out)


def _locate(before: zlib._Decompress, data: bytes) -> tuple[bytes, int]:
    """Replay ``data`` byte by byte from the decompressor state ``before`` it: the output
    up to the first byte that fails, and that byte's index."""
    out = []
    for i in range(len(data)):
        try:
            out.append(before.decompress(data[i : i + 1]))
        except zlib.error:
            return b"".join(out), i
    return b"".join(out), len(data)  # pragma: no cover - the whole of data failed before


Stream = PlainStream | GzipStream


@dataclass(slots=True)
class Input:
    """An opened input file: the raw handle (for follow mode's position and size checks) and
    the stream of its (decompressed) bytes."""

    fh: BinaryIO
    stream: Stream
    gzipped: bool

    def seek(self, offset: int) -> None:
        """Read a plain file from ``offset`` on."""
        assert isinstance(self.stream, PlainStream)
        self.fh.seek(offset)
        self.stream.pos = offset

    def close(self) -> None:
        self.fh.close()


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_input(path: Path, start: int = 0) -> Input:
    """Open ``path`` for reading (gunzipped when it is gzip), positioned at ``start`` (plain
    files only; a gzip stream is always read from its beginning)."""
    try:
        fh: BinaryIO = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        gzipped = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        if gzipped:
            return Input(fh, GzipStream(fh, path, _fsize(fh)), True)
        fh.seek(start)
        return Input(fh, PlainStream(fh, path, start), False)
    except BaseException:
        fh.close()
        raise


def _fsize(fh: BinaryIO) -> int:
    return os.fstat(fh.fileno()).st_size


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


def _clean(data: bytes) -> bool:
    """No binary byte in ``data`` (translate is several times faster than a regex search)."""
    return len(data.translate(None, BINARY_BYTES)) == len(data)


# -- framing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Phys:
    """A physical line with what the damage rules need to know of it."""

    number: int
    start: int
    length: int  # bytes, its newline included
    newline: bool
    data: bytes | None  # its bytes without the newline, when at most the limit
    head: bytes  # its first RAW_MAX bytes
    bins: int = 0  # binary bytes
    nul: bool = False
    first_bin: int = -1  # absolute offsets
    last_bin: int = -1
    last_nul: bool = False
    tail: bytes | None = None  # an over-long line's bytes after its last binary byte (if short)
    tail_head: bytes = b""  # ... and their first RAW_MAX bytes

    def add_stats(self, data: bytes, at: int) -> None:
        """Count the binary bytes of ``data`` (a piece of this line at offset ``at``)."""
        m = _BIN.search(data)
        if m is None:
            return
        self.bins += len(data) - len(data.translate(None, BINARY_BYTES))
        self.nul = self.nul or b"\x00" in data
        if self.first_bin < 0:
            self.first_bin = at + m.start()
        r = _BIN.search(data[::-1])
        assert r is not None
        last = len(data) - 1 - r.start()
        self.last_bin = at + last
        self.last_nul = data[last] == 0


class _Group:
    """Lines whose binary bytes are less than GAP apart (a cluster), held until it is known
    whether they are damage."""

    def __init__(self, p: _Phys) -> None:
        self.number = p.number
        self.start = p.start
        self.lines = [p]
        self.head = bytearray()  # the region's first bytes, of lines before lines[0]
        self.bins = p.bins
        self.nul = p.nul
        self.last_bin = p.last_bin
        self.last_nul = p.last_nul
        self._collapse()

    @property
    def damaged(self) -> bool:
        return self.nul or self.bins >= MIN_BINARY

    def extend(self, clean: list[_Phys], p: _Phys) -> None:
        self.lines += clean
        self.lines.append(p)
        self.bins += p.bins
        self.nul = self.nul or p.nul
        self.last_bin = p.last_bin
        self.last_nul = p.last_nul
        self._collapse()

    def _collapse(self) -> None:
        """Once it is damage, keep only the raw head of all but the last line (bounded
        memory, whatever the region's size)."""
        if not self.damaged:
            return
        for p in self.lines[:-1]:
            self._take(_bytes_of(p))
        del self.lines[:-1]

    def _take(self, data: bytes) -> None:
        room = RAW_MAX - len(self.head)
        if room > 0:
            self.head += data[:room]

    def region(self, name: str, limit: int, out: list[Item]) -> int:
        """Append the region (and the line after its NULs) to ``out``; return its size."""
        last = self.lines[-1]
        end = last.start + last.length
        tail: Item | None = None
        if self.last_nul:
            after = last.start + last.length - last.newline - (self.last_bin + 1)
            rest = last.tail if last.data is None else last.data[self.last_bin + 1 - last.start :]
            if after > limit:  # the line after the NULs is over-long itself
                end = self.last_bin + 1
                tail = _over_long(name, last.number, after, limit, last.tail_head, last)
            elif rest is not None and rest.strip():
                end = self.last_bin + 1
                tail = (rest.rstrip(b"\r"), last.number, last.start + last.length)
        self._take(_bytes_of(last)[: end - last.start])
        n = end - self.start
        out.append(
            Damage(f"{name}:{self.number}", f"binary region of {n} bytes", bytes(self.head), end)
        )
        if tail is not None:
            out.append(tail)
        return n


def _over_long(name: str, number: int, n: int, limit: int, head: bytes, p: _Phys) -> Damage:
    return Damage(
        f"{name}:{number}",
        f"line of {n} bytes is longer than the limit of {limit} bytes; its first {len(head)} "
        "bytes are kept here",
        head,
        p.start + p.length,
    )


def _bytes_of(p: _Phys) -> bytes:
    """The line's bytes, its newline included (an over-long line: as many as were kept)."""
    data = p.data
    if data is None:
        if len(p.head) < p.length - p.newline:
            return p.head
        data = p.head
    return data + b"\n" if p.newline else data


class _Long:
    """An over-long line being read: only its head and what the damage rules need are kept
    (with the bytes after its last binary byte while they are within the limit: after a NUL
    run they are a line of their own)."""

    def __init__(self, start: int, limit: int) -> None:
        self.p = _Phys(0, start, 0, False, None, b"")
        self._head = bytearray()
        self._limit = limit
        self._tail: bytearray | None = bytearray()  # None once longer than the limit
        self._tail_head = bytearray()

    def add(self, data: bytes) -> None:
        p = self.p
        room = RAW_MAX - len(self._head)
        if room > 0:
            self._head += data[:room]
        at, bins = p.start + p.length, p.bins
        p.add_stats(data, at)
        p.length += len(data)
        if p.bins != bins:
            after = data[p.last_bin + 1 - at :]
            self._tail, self._tail_head = bytearray(after), bytearray(after[:RAW_MAX])
            return
        room = RAW_MAX - len(self._tail_head)
        if room > 0:
            self._tail_head += data[:room]
        if self._tail is not None:
            self._tail += data
            if len(self._tail) > self._limit:
                self._tail = None

    def finish(self, number: int, newline: bool) -> _Phys:
        p = self.p
        p.number, p.head, p.newline = number, bytes(self._head), newline
        p.length += newline
        if p.bins:
            p.tail = None if self._tail is None else bytes(self._tail)
            p.tail_head = bytes(self._tail_head)
        return p


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
            self._long = _Long(self._pending_start, self.limit)
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
            long = _Long(start, self.limit)
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
            self._group = _Group(p)
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
