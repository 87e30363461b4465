"""An audit pack's files (directory or zip) and the report of its verification.

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import hashlib
import zipfile
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
    tree_size: int | None = None
    root_hash: str | None = None
    tenant: str | None = None
    consistency_from: int | None = None
    truncated: bool = False

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
        out["problems"] = [{**asdict(p), "text": str(p)} for p in self.problems]
        return out


class PackFiles:
    """A pack's files, from a directory or a zip archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            self._names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{path}: not a pack directory or zip archive ({exc})") from None
            self._names = sorted(i.filename for i in self._zip.infolist() if not i.is_dir())
        else:
            raise InputError(f"{path}: no such pack (a directory or a .zip)")

    def names(self) -> list[str]:
        return list(self._names)

    def has(self, name: str) -> bool:
        return name in self._names

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(name)
        return (self.path / name).open("rb")

    def read(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def sha256(self, name: str) -> tuple[str, int]:
        h, size = hashlib.sha256(), 0
        with self.open(name) as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def lines(files: PackFiles, name: str) -> Iterator[tuple[int, bytes]]:
    with files.open(name) as fh:
        yield from enumerate(fh, 1)
