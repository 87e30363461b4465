"""An audit pack's files (directory or zip) and the report of its verification.

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from edgeaudit.errors import InputError

MAX_PROBLEMS: Final = 200


@dataclass(frozen=True, slots=True)
class PackProblem:
    file: str
    message: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        entry = f" (entry {self.index})" if self.index is not None else ""
        return f"{where}{entry}: {self.message}"


@dataclass
class PackReport:
    pack: str
    problems: list[PackProblem] = field(default_factory=list)
    entries: int = 0
    redacted: int = 0
    findings: int = 0
    bound: int = 0  # results equal to their proven policy.result entry
    bound_by_outcome: int = 0  # results whose record is redacted: kind and outcome checked
    tree_size: int | None = None
    root_hash: str | None = None
    tenant: str | None = None
    consistency_from: int | None = None  # the previous pack's checkpoint (consistency.json)
    proven_from: int = 0  # earlier checkpoints proven in consistency.jsonl
    kept_from: int | None = None  # the auditor's kept checkpoint, proven extended
    truncated: bool = False
    cosigned: bool = False  # the checkpoint note differs from the one listed (cosignatures)
    format: str | None = None  # the manifest's format (edgeaudit-pack/1, /2 or /3)
    # a campus pack (/3): per pod part, {"part", "origin", "tree_size", "root_hash", "entries",
    # "redacted", "proven_from", "kept_from"} as verified
    parts: list[dict[str, Any]] = field(default_factory=list)
    cosigned_parts: set[str] = field(default_factory=set)  # p<k>: its note was cosigned
    warnings: list[str] = field(default_factory=list)  # shown even when every check passed

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(
        self, file: str, message: str, line: int | None = None, index: int | None = None
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(PackProblem(file, message, line, index))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["cosigned_parts"] = sorted(self.cosigned_parts)
        out["problems"] = [{**asdict(p), "text": str(p)} for p in self.problems]
        return out


class PackFileError(Exception):
    """A member of the pack could not be read (a damaged archive): a failed check, not usage."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


_S_IFLNK = 0o120000


class PackFiles:
    """A pack's files, from a directory or a zip archive, top level only.

    Container rules (docs/pack-format.md, "Container"): every member is a regular file at the
    top level with a unique name. Sub-folders, links, special files, duplicate zip member names
    (a reader of the central directory and one of the local headers would disagree about
    which of two members is meant) and encrypted members are recorded in :attr:`problems`
    and never read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.problems: list[tuple[str, str]] = []
        names: list[str] = []
        if path.is_dir():
            for p in sorted(path.iterdir()):
                if p.is_symlink():
                    self.problems.append((p.name, "a link, not a file: a pack holds only files"))
                elif p.is_dir():
                    self.problems.append((p.name, "a sub-folder: a pack's files are top level"))
                elif not p.is_file():
                    self.problems.append((p.name, "not a regular file"))
                else:
                    names.append(p.name)
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{path}: not a pack directory or zip archive ({exc})") from None
            seen: dict[str, int] = {}
            reported: set[str] = set()
            for info in self._zip.infolist():
                seen[info.filename] = seen.get(info.filename, 0) + 1
            for info in self._zip.infolist():
                name = info.filename
                mode = info.external_attr >> 16
                if seen[name] > 1:
                    if name not in reported:
                        reported.add(name)
                        self.problems.append(
                            (name, f"appears {seen[name]} times in the archive (none is read)")
                        )
                elif info.is_dir() or "/" in name or "\\" in name:
                    self.problems.append((name, "in a sub-folder: a pack's files are top level"))
                elif stat.S_IFMT(mode) == _S_IFLNK:
                    self.problems.append((name, "a link, not a file: a pack holds only files"))
                elif info.flag_bits & 0x1:
                    self.problems.append((name, "encrypted: a pack's members are plain"))
                else:
                    names.append(name)
        else:
            raise InputError(f"{path}: no such pack (a directory or a .zip)")
        self._names = sorted(names)

    def names(self) -> list[str]:
        return list(self._names)

    def member(self, name: str) -> str:
        """The member name of the file ``name`` (a campus part's view prefixes it)."""
        return name

    def has(self, name: str) -> bool:
        return name in self._names

    def size(self, name: str) -> int:
        """The member's size in bytes, as its directory entry or the zip's says."""
        if self._zip is not None:
            return self._zip.getinfo(name).file_size
        return (self.path / name).stat().st_size

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            try:
                return self._zip.open(name)
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError) as exc:
                raise PackFileError(name, f"cannot be read from the archive ({exc})") from None
        return (self.path / name).open("rb")

    def read(self, name: str) -> bytes:
        try:
            with self.open(name) as fh:
                return fh.read()
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PackFileError(name, f"cannot be read from the archive ({exc})") from None

    def sha256(self, name: str) -> tuple[str, int]:
        h, size = hashlib.sha256(), 0
        try:
            with self.open(name) as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PackFileError(name, f"cannot be read from the archive ({exc})") from None
        return h.hexdigest(), size

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


class PartFiles(PackFiles):
    """The files of one part of a campus pack (``edgeaudit-pack/3``) under their /2 names:
    ``evidence.jsonl`` is the member ``p<k>.evidence.jsonl`` of the pack ``files``. Reads go
    to the pack; closing the view closes nothing."""

    def __init__(self, files: PackFiles, part: str) -> None:  # a view: no super().__init__
        self.path = files.path
        self.problems = []
        self._pack = files
        self._prefix = part + "."
        self._zip = None
        self._names = [n[len(self._prefix) :] for n in files.names() if n.startswith(self._prefix)]

    def member(self, name: str) -> str:
        return self._prefix + name

    def size(self, name: str) -> int:
        return self._pack.size(self._prefix + name)

    def open(self, name: str) -> IO[bytes]:
        return self._pack.open(self._prefix + name)

    def read(self, name: str) -> bytes:
        return self._pack.read(self._prefix + name)

    def sha256(self, name: str) -> tuple[str, int]:
        return self._pack.sha256(self._prefix + name)

    def close(self) -> None:
        return None


def lines(files: PackFiles, name: str) -> Iterator[tuple[int, bytes]]:
    try:
        with files.open(name) as fh:
            yield from enumerate(fh, 1)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PackFileError(name, f"cannot be read from the archive ({exc})") from None


CHUNK_BYTES: Final = 1 << 20


def chunks(
    files: PackFiles, name: str, split: int | None = None, size: int | None = None
) -> Iterator[tuple[int, bytes | None]]:
    """The file in pieces of whole lines, about ``size`` bytes each, with the number of each
    piece's first line: the lines of :func:`lines`, split where it splits them (at ``\\n``).
    Only the last piece may lack a final newline (a file that does not end with one).

    With ``split`` (> 0): a ``(number, None)`` marker between the pieces before the split
    point and those after, if the file has one: the offset after its first ``\\n`` at
    ``split - 1`` or later (:func:`tail_chunks` yields what follows it)."""
    size = size or CHUNK_BYTES
    number, rest, at = 1, b"", 0  # at: the file offset where ``rest`` starts
    try:
        with files.open(name) as fh:
            for block in _blocks(fh, size):
                data = rest + block
                if split is not None and (mark := data.find(b"\n", max(split - 1 - at, 0)) + 1):
                    if mark > 0:
                        yield number, data[:mark]
                        number += data.count(b"\n", 0, mark)
                    yield number, None
                    data, at, split = data[mark:], at + mark, None
                limit = len(data) if split is None else max(split - 1 - at, 0)
                cut = data.rfind(b"\n", 0, limit) + 1
                piece, rest, at = data[:cut], data[cut:], at + cut
                if piece:
                    yield number, piece
                    number += piece.count(b"\n")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PackFileError(name, f"cannot be read from the archive ({exc})") from None
    if rest:
        yield number, rest


def tail_chunks(
    files: PackFiles, name: str, split: int, size: int | None = None
) -> Iterator[bytes]:
    """The pieces :func:`chunks` yields after its marker for ``split``: the file from its split
    point on (nothing when it has none), read from near ``split`` without reading what lies
    before (a zip member that is compressed is still decompressed from its start)."""
    size = size or CHUNK_BYTES
    try:
        with files.open(name) as fh:
            fh.seek(split - 1)
            rest, skipping = b"", True
            for block in _blocks(fh, size):
                rest += block
                if skipping:  # up to the split point
                    if not (found := rest.find(b"\n") + 1):
                        continue
                    rest, skipping = rest[found:], False
                cut = rest.rfind(b"\n") + 1
                if cut:
                    yield rest[:cut]
                    rest = rest[cut:]
            if skipping:
                return
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PackFileError(name, f"cannot be read from the archive ({exc})") from None
    if rest:
        yield rest


def _blocks(fh: IO[bytes], size: int) -> Iterator[bytes]:
    """The file in blocks of about ``size`` bytes, each holding a newline but the last: the
    reads of one long line are joined once, not copied again with every read."""
    parts: list[bytes] = []
    while block := fh.read(size):
        parts.append(block)
        if b"\n" in block:
            yield block if len(parts) == 1 else b"".join(parts)
            parts = []
    if parts:
        yield b"".join(parts)
