"""The bytes of a collector input file: plain from an offset, or gunzipped with damage reported
instead of raised (:class:`GzipStream`: a truncated or corrupt stream ends where decompression
failed, :class:`StreamDamage` saying where and why); :func:`open_input` picks between them.
:mod:`edgeaudit.collect.reading` frames these streams into lines."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edgeaudit.errors import InputError

COMPRESSED_READ = 64 << 10


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
