"""The items a :class:`~edgeaudit.collect.reading.LineReader` hands out (:data:`Line`,
:class:`Damage`) and the physical lines, clusters of binary bytes and over-long lines it holds
while deciding what is damage (the rules are in :mod:`edgeaudit.collect.reading`). The raw bytes
kept of a damaged region or an over-long line are bounded by the ``raw_max`` the reader passes
(its ``RAW_MAX``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_BINARY = 4
"""A NUL-free cluster needs this many binary bytes to be damage."""

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


def _clean(data: bytes) -> bool:
    """No binary byte in ``data`` (translate is several times faster than a regex search)."""
    return len(data.translate(None, BINARY_BYTES)) == len(data)


@dataclass(slots=True)
class _Phys:
    """A physical line with what the damage rules need to know of it."""

    number: int
    start: int
    length: int  # bytes, its newline included
    newline: bool
    data: bytes | None  # its bytes without the newline, when at most the limit
    head: bytes  # its first raw_max bytes
    bins: int = 0  # binary bytes
    nul: bool = False
    first_bin: int = -1  # absolute offsets
    last_bin: int = -1
    last_nul: bool = False
    tail: bytes | None = None  # an over-long line's bytes after its last binary byte (if short)
    tail_head: bytes = b""  # ... and their first raw_max bytes

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

    def __init__(self, p: _Phys, raw_max: int) -> None:
        self._raw_max = raw_max
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
        room = self._raw_max - len(self.head)
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

    def __init__(self, start: int, limit: int, raw_max: int) -> None:
        self._raw_max = raw_max
        self.p = _Phys(0, start, 0, False, None, b"")
        self._head = bytearray()
        self._limit = limit
        self._tail: bytearray | None = bytearray()  # None once longer than the limit
        self._tail_head = bytearray()

    def add(self, data: bytes) -> None:
        p = self.p
        room = self._raw_max - len(self._head)
        if room > 0:
            self._head += data[:room]
        at, bins = p.start + p.length, p.bins
        p.add_stats(data, at)
        p.length += len(data)
        if p.bins != bins:
            after = data[p.last_bin + 1 - at :]
            self._tail, self._tail_head = bytearray(after), bytearray(after[: self._raw_max])
            return
        room = self._raw_max - len(self._tail_head)
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
