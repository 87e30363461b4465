"""Pre-normalized events, one JSON object per line (``edgeaudit append FILE.jsonl``).

Every line is validated before anything is stored; a bad line is reported with its file, line
number and reason, and then nothing of the batch is written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from edgeaudit.errors import InputError
from edgeaudit.events import MAX_ENTRY_BYTES, PreparedEntry, prepare


@dataclass(frozen=True, slots=True)
class LineError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def read_events(paths: list[str]) -> tuple[list[PreparedEntry], list[LineError]]:
    """Parse and validate every line of every file (``-`` is standard input)."""
    entries: list[PreparedEntry] = []
    errors: list[LineError] = []
    for name in paths:
        if name == "-":
            entries_errors = _read(name, sys.stdin.buffer)
        else:
            try:
                with Path(name).open("rb") as fh:
                    entries_errors = _read(name, fh)
            except OSError as exc:
                raise InputError(f"{name}: cannot read: {exc.strerror}") from None
        entries += entries_errors[0]
        errors += entries_errors[1]
    return entries, errors


def _read(name: str, fh: BinaryIO) -> tuple[list[PreparedEntry], list[LineError]]:
    entries: list[PreparedEntry] = []
    errors: list[LineError] = []
    for number, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        if len(raw) > 2 * MAX_ENTRY_BYTES:
            errors.append(LineError(name, number, f"line is longer than {2 * MAX_ENTRY_BYTES}"))
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            errors.append(LineError(name, number, f"not valid JSON: {exc}"))
            continue
        try:
            entries.append(prepare(value))
        except InputError as exc:
            errors.append(LineError(name, number, str(exc)))
    return entries, errors
