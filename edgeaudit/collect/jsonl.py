"""Pre-normalized events, one JSON object per line (``edgeaudit append FILE.jsonl``).

Every line is validated before anything is stored; a bad line is reported with its file, line
number and reason, and then nothing of the batch is written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from edgeaudit.errors import InputError
from edgeaudit.events import MAX_ENTRY_BYTES, PreparedEntry, prepare


@dataclass(frozen=True, slots=True)
class LineError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"member {key!r} appears more than once in an object")
            seen.add(key)
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_line(raw: bytes) -> Any:
    """Parse one line as I-JSON (RFC 7493), the input RFC 8785 requires.

    The standard library parser is used on purpose: it keeps big integers exact (so they are
    refused later instead of silently becoming floats), and lets us refuse duplicate member
    names and NaN/Infinity literals, which orjson accepts or silently resolves.
    """
    text = raw.decode("utf-8")  # strict: JSON text exchanged between systems is UTF-8
    return json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constants)


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
            value = parse_line(raw)
        except UnicodeDecodeError as exc:
            errors.append(
                LineError(
                    name, number, f"not valid UTF-8: byte {raw[exc.start]:#04x} at {exc.start}"
                )
            )
            continue
        except ValueError as exc:  # json.JSONDecodeError and our own refusals
            errors.append(LineError(name, number, f"not valid JSON: {exc}"))
            continue
        try:
            entries.append(prepare(value))
        except InputError as exc:
            errors.append(LineError(name, number, str(exc)))
    return entries, errors
