"""One line of pre-normalized events (``edgeaudit append FILE.jsonl``): its entry or its error.

Parsing is exact and fast at once: ``orjson`` parses a line, and its value is used only when it
is provably the value of the strict parse (:func:`parse_line`, the standard library with
duplicate member names and NaN/Infinity refused); otherwise the strict parse decides, with its
usual message. See :func:`_fast`. The passes over whole inputs are in
:mod:`edgeaudit.collect.jsonl`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import orjson

from edgeaudit.errors import InputError
from edgeaudit.events import MAX_ENTRY_BYTES, EntryRow, PreparedEntry, prepare, prepare_plain_row

MAX_LINE_BYTES: Final = 2 * MAX_ENTRY_BYTES

_loads: Final = orjson.loads
_JSONDecodeError: Final = orjson.JSONDecodeError


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


def _fast(raw: bytes) -> PreparedEntry | None:
    """The entry of ``raw`` from orjson's parse, or None: then the strict path decides
    (:func:`_fast_row`, as a named tuple)."""
    row = _fast_row(raw)
    return None if row is None else PreparedEntry._make(row)


def _fast_row(raw: bytes) -> EntryRow | None:
    """The entry of ``raw`` (a plain tuple) from orjson's parse, or None: then the strict path
    decides.

    orjson and the strict parse make the same value of the same text, except that orjson
    refuses some texts the strict parse accepts (they go the strict way), turns integers beyond
    64 bits into floats (:func:`~edgeaudit.events.prepare_plain` returns None for any float) and
    keeps the last of repeated member names where the strict parse refuses the line. That last
    difference is caught by counting colons:

    * in the line, every ``:`` outside a string separates one member: the line's colons are
      M (its members, repeats included) plus the colons written inside its strings;
    * the canonical body is the parsed value written out, and no encoder escapes ``:``: its
      colons are P (the members the parsed value kept) plus the colons of the kept strings.

    If no string of the line spells a colon as an escape (no ``\\u003``: the escape of ``:`` is
    ``\\u003a``), every colon of a kept string is a colon written in the line, so the line has
    at least as many colons as the body, and exactly as many only when M == P, i.e. when no
    object repeats a name (however the names are escaped). Normalizing ``time`` may drop the
    colon of ``+00:00``; that difference is added back. ``tests/test_events_fast.py`` checks
    repeats at every depth, escaped names and colons, and differentially random lines.
    """
    try:
        value = _loads(raw)
    except _JSONDecodeError:
        return None
    row = prepare_plain_row(value)
    if row is None or b"\\u003" in raw:
        return None
    colons = row[0].count(b":")  # the body
    written, text = value["time"], row[3]  # prepare_plain_row accepted it: a str
    if text != written:
        colons += written.count(":") - text.count(":")
    return row if raw.count(b":") == colons else None


def _strict(name: str, number: int, raw: bytes) -> PreparedEntry | LineError | None:
    """The exact path for one line: None for a blank line, else its entry or its error."""
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE_BYTES:
        return LineError(name, number, f"line is longer than {MAX_LINE_BYTES}")
    try:
        value = parse_line(raw)
    except UnicodeDecodeError as exc:
        return LineError(
            name, number, f"not valid UTF-8: byte {raw[exc.start]:#04x} at {exc.start}"
        )
    except ValueError as exc:  # json.JSONDecodeError and our own refusals
        return LineError(name, number, f"not valid JSON: {exc}")
    except RecursionError:
        return LineError(name, number, "not valid JSON: nested deeper than the parser allows")
    try:
        return prepare(value)
    except InputError as exc:
        return LineError(name, number, str(exc))
