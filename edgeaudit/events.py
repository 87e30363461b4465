"""Events at the boundary of the store: validated once, then immutable.

An event is a JSON object that carries at least ``time`` (RFC 3339, UTC) and ``kind``; it may
carry ``tenant`` and ``source`` and any other JSON fields. :func:`prepare` checks it and turns
it into a :class:`PreparedEntry`: the exact canonical bytes that will be hashed, plus the few
columns the store indexes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Final, NamedTuple

import orjson

from edgeaudit.canonical import (
    canonical_json,
    canonical_json_fast,
    canonical_json_plain,
    fingerprint_key,
    leaf_hash,
)
from edgeaudit.errors import CanonicalError, InputError

MAX_ENTRY_BYTES: Final = 65_535
"""The largest entry, in canonical bytes: what a C2SP tlog-tiles entry bundle can carry (a
uint16 length before each entry), so every entry of a log can be published and mirrored."""
_RFC3339: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_KIND: Final = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]*")
_EPOCH_DATE: Final = date(1970, 1, 1)
_MAX_PLAIN_DEPTH: Final = 64


class PreparedEntry(NamedTuple):
    """An event ready to append: canonical bytes, their leaf hash and indexed fields.

    Immutable (a named tuple: built once per event on the hot path, where a frozen dataclass
    costs several times more).
    """

    body: bytes
    leaf_hash: bytes
    fp_key: bytes
    time: str
    kind: str
    tenant: str | None
    source: str | None


@lru_cache(maxsize=4096)
def _epoch_day(date: str) -> int:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` date; ValueError if it does not exist."""
    return (datetime.strptime(date, "%Y-%m-%d").date() - _EPOCH_DATE).days


_valid_times: dict[str, tuple[str, int]] = {}
_VALID_TIMES_MAX: Final = 4096


def parse_utc_time(value: object, field: str = "time") -> tuple[str, int]:
    """Validate an RFC 3339 UTC timestamp; return its normalized text and epoch seconds.

    Normalized means ``T`` and ``Z`` in upper case; fractional digits are kept as written.
    Recently validated times are remembered (logs write many events per second).
    """
    if type(value) is str:
        found = _valid_times.get(value)
        if found is not None:
            return found
        found = _parse_utc_time(value, field)
        if len(_valid_times) >= _VALID_TIMES_MAX:
            _valid_times.clear()
        _valid_times[value] = found
        return found
    return _parse_utc_time(value, field)


def _parse_utc_time(value: object, field: str) -> tuple[str, int]:
    if not isinstance(value, str):
        raise InputError(f"field {field!r}: expected an RFC 3339 UTC string, got {value!r}")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise InputError(
            f"field {field!r}: {value!r} is not an RFC 3339 timestamp "
            "(expected e.g. 2026-11-22T10:15:00Z)"
        )
    date, hour, minute, second, fraction, zone = m.groups()
    if zone not in ("Z", "z", "+00:00"):
        raise InputError(
            f"field {field!r}: {value!r} is not UTC; write the time in UTC with a 'Z' suffix"
        )
    h, mi, sec = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or sec > 59:
        leap = " (leap seconds are not supported)" if sec == 60 else ""
        raise InputError(f"field {field!r}: {value!r} is not a valid time of day{leap}")
    try:
        day = _epoch_day(date)
    except ValueError:
        raise InputError(f"field {field!r}: {value!r} is not a valid date") from None
    if zone == "Z" and value[10] == "T":
        text = value
    else:
        text = f"{date}T{hour}:{minute}:{second}{fraction or ''}Z"
    return text, day * 86400 + h * 3600 + mi * 60 + sec


_seen_kinds: set[object] = set()
_seen_names: set[object] = set()
_SEEN_MAX: Final = 10_000


def _valid_kind(kind: object) -> bool:
    if not isinstance(kind, str) or len(kind) > 128 or not _KIND.fullmatch(kind):
        return False
    if len(_seen_kinds) < _SEEN_MAX:
        _seen_kinds.add(kind)
    return True


def _optional_name(event: Mapping[str, object], field: str) -> str | None:
    value = event.get(field)
    if value is None:
        return None
    if type(value) is str and value in _seen_names:
        return value
    if not isinstance(value, str) or len(value) > 128 or not _NAME.fullmatch(value):
        raise InputError(
            f"field {field!r}: {value!r} must be a name of letters, digits and _.:@/- "
            "(at most 128 characters) or null"
        )
    if len(_seen_names) < _SEEN_MAX:
        _seen_names.add(value)
    return value


def prepare(event: object, *, fingerprint: str | None = None) -> PreparedEntry:
    """Validate one event and compute its canonical bytes.

    ``fingerprint`` identifies the source record (e.g. source id + native id + raw hash);
    appending an entry whose (time, fingerprint) is already stored adds nothing. Without it,
    the entry's own bytes are its fingerprint.
    """
    if not isinstance(event, dict):
        raise InputError(f"expected a JSON object, got {type(event).__name__}")
    text, seconds = parse_utc_time(event.get("time"))
    kind = event.get("kind")
    if type(kind) is not str or (kind not in _seen_kinds and not _valid_kind(kind)):
        raise InputError(
            f"field 'kind': {kind!r} must be a dotted lower-case name such as 'auth.logon'"
        )
    if text != event["time"]:
        event = {**event, "time": text}
    return _finish(event, text, seconds, kind, fingerprint, canonical_json)


def prepare_timed(
    event: dict[str, object], seconds: int, *, fingerprint: str | None = None
) -> PreparedEntry:
    """:func:`prepare` for an event whose ``time`` was already validated: it is the normalized
    text :func:`parse_utc_time` returned, and ``seconds`` the epoch seconds it returned (the
    collector's model validates time once, when an event is built). Everything else is checked
    as :func:`prepare` checks it; the bytes are the same.
    """
    kind = event.get("kind")
    if type(kind) is not str or (kind not in _seen_kinds and not _valid_kind(kind)):
        raise InputError(
            f"field 'kind': {kind!r} must be a dotted lower-case name such as 'auth.logon'"
        )
    text = event["time"]
    assert type(text) is str
    return _finish(event, text, seconds, kind, fingerprint, canonical_json_fast)


def _finish(
    event: dict[str, object],
    text: str,
    seconds: int,
    kind: str,
    fingerprint: str | None,
    encode: Callable[[object], bytes],
) -> PreparedEntry:
    tenant = _optional_name(event, "tenant")
    source = _optional_name(event, "source")
    try:
        body = encode(event)
    except CanonicalError as exc:
        raise CanonicalError(str(exc).replace("field $.", "field ", 1)) from None
    if len(body) > MAX_ENTRY_BYTES:
        raise InputError(f"event is {len(body)} bytes; the limit is {MAX_ENTRY_BYTES}")
    leaf = leaf_hash(body)
    # positional: keyword construction of a named tuple costs twice as much on the hot path
    return PreparedEntry(
        body, leaf, fingerprint_key(seconds, fingerprint, leaf), text, kind, tenant, source
    )


def prepare_plain(event: object) -> PreparedEntry | None:
    """:func:`prepare` for a value ``orjson.loads`` made, or None where that value may not be
    what the strict parse of the same text makes, or :func:`prepare` refuses it.

    ``orjson`` silently turns an integer beyond 64 bits into a float (the strict parse keeps it
    an integer, which canonicalization then refuses), so a value holding any float is None; so is
    anything but exact dict/list/str/int/bool/None nested at most 64 deep. What is left is the
    value the strict parse makes of the same text, as long as no object repeats a member name:
    ``edgeaudit.collect.jsonl_line`` checks that. None is never an answer about the event: the
    caller takes the strict path (:func:`prepare` on the standard library's parse), which
    accepts or refuses with the usual message. Otherwise the entry is exactly :func:`prepare`'s.
    """
    row = prepare_plain_row(event)
    return None if row is None else PreparedEntry._make(row)


EntryRow = tuple[bytes, bytes, bytes, str, str, str | None, str | None]
"""The fields of a :class:`PreparedEntry` as a plain tuple (what a spool marshals)."""


def prepare_plain_row(event: object) -> EntryRow | None:
    """:func:`prepare_plain` as a plain tuple: the hot path of a large append builds no named
    tuple per event (``PreparedEntry._make`` makes one later, a batch at a time)."""
    if type(event) is not dict or not _plain(event, 0):
        return None
    # prepare's checks, with the caches consulted inline (the hot path of a large append)
    written = event.get("time")
    found = _valid_times.get(written) if type(written) is str else None
    kind = event.get("kind")
    tenant = event.get("tenant")
    source = event.get("source")
    try:
        text, seconds = found or parse_utc_time(written)
        if type(kind) is not str or (kind not in _seen_kinds and not _valid_kind(kind)):
            return None
        if tenant is not None and (type(tenant) is not str or tenant not in _seen_names):
            _optional_name(event, "tenant")
        if source is not None and (type(source) is not str or source not in _seen_names):
            _optional_name(event, "source")
        if text != written:
            event = {**event, "time": text}
        # _plain checked the types: canonical_json_plain is canonical_json without a re-walk
        body = canonical_json_plain(event)
    except InputError:  # CanonicalError included
        return None
    if len(body) > MAX_ENTRY_BYTES:
        return None
    leaf = leaf_hash(body)
    return body, leaf, fingerprint_key(seconds, None, leaf), text, kind, tenant, source


def _plain(value: dict[str, object] | list[object], depth: int) -> bool:
    """True when ``value`` holds only dict/list/str/int/bool/None, at most 64 levels deep."""
    if depth >= _MAX_PLAIN_DEPTH:
        return False
    for v in value.values() if type(value) is dict else value:
        t = type(v)
        if t is str or t is int or t is bool or v is None:
            continue
        if (t is dict or t is list) and _plain(v, depth + 1):  # type: ignore[arg-type]
            continue
        return False
    return True


def prepare_canonical(raw: bytes) -> PreparedEntry:
    """The entry :func:`prepare` makes of the event whose canonical bytes are ``raw``, for bytes
    a log stored and another store copies (a mirror): ``raw`` must be exactly what
    :func:`prepare` writes for the event it encodes, else :class:`InputError` saying why (not
    JSON, an invalid event, or not its canonical form).

    The dedupe key is the one of an entry appended without a fingerprint (time and leaf hash);
    a collector's fingerprint is not in the bytes. The parse is append's: ``orjson`` when its
    value re-encodes to exactly ``raw`` (then it is the strict parse's value, see
    :func:`prepare_plain`), otherwise the strict I-JSON parse of ``edgeaudit append``.
    """
    try:
        row = prepare_plain_row(orjson.loads(raw))
    except orjson.JSONDecodeError:
        row = None
    if row is not None and row[0] == raw:
        return PreparedEntry._make(row)
    from edgeaudit.collect.jsonl_line import parse_line  # imports this module

    try:
        value = parse_line(raw)
    except ValueError as exc:  # UnicodeDecodeError and json.JSONDecodeError included
        raise InputError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError("not valid JSON: nested deeper than the parser allows") from None
    entry = prepare(value)
    if entry.body != raw:
        at = next(
            (i for i, (a, b) in enumerate(zip(raw, entry.body, strict=False)) if a != b),
            min(len(raw), len(entry.body)),
        )
        raise InputError(
            f"not the canonical (RFC 8785) form of its event: the {len(raw)} bytes differ from "
            f"the {len(entry.body)} canonical bytes from offset {at}"
        )
    return entry
