"""Helpers shared by the JSON audit parsers (teleport, vault, vault-keystate): JSON decoding
that never raises, RFC 3339 and Unix times to UTC, and small typed field accessors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import orjson

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
ZERO_TIME: Final = "0001-01-01T00:00:00Z"  # Go's zero time.Time: "not set"


def load_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """Decode ``raw`` as one JSON object; on failure return (None, reason)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(obj, dict):
        return None, f"not a JSON object (a JSON {type(obj).__name__})"
    return obj, ""


def utc_time(text: object) -> str | None:
    """An RFC 3339 time with any offset as UTC with 'Z', fraction digits kept (at most 9,
    extra digits are truncated); None when it is not a valid RFC 3339 time."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    if zone == "Z" and text[10] == "T" and (fraction is None or len(fraction) <= 10):
        # the common case, already UTC as RFC 3339 wants it: only check the values
        if _valid_date(year, month, day) and hour < "24" and minute < "60" and second < "60":
            return text
        return None
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None  # no such date or time of day (leap seconds included)
    fraction = fraction[:10] if fraction else ""
    if zone not in ("Z", "z", "+00:00", "-00:00"):
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            return None
        try:
            dt -= (1 if zone[0] == "+" else -1) * timedelta(hours=zh, minutes=zm)
        except OverflowError:
            return None
    return f"{_fmt(dt)}{fraction}Z"


@lru_cache(maxsize=1024)
def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def unix_time(value: object) -> str | None:
    """Unix seconds (int, or float with fraction) as RFC 3339 UTC; None if not a sane time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        dt = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if isinstance(value, int) or not dt.microsecond:
        return f"{_fmt(dt)}Z"
    return f"{_fmt(dt)}.{dt.microsecond:06d}Z"


def _fmt(dt: datetime) -> str:
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )


def text(obj: dict[str, Any], name: str) -> str | None:
    """A non-empty string field, else None."""
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def mapping(obj: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object field, or an empty dict when absent or of another type."""
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def texts(value: object) -> tuple[str, ...]:
    """The non-empty strings of a JSON list (a lone string counts as a one-item list)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def host_of(address: str | None) -> str | None:
    """The host of ``host:port``, ``[v6]:port``, a bare v6 address or a bare host."""
    if not address:
        return None
    if address.startswith("["):
        end = address.find("]")
        return address[1:end] if end > 1 else None
    if address.count(":") == 1:
        host = address.split(":", 1)[0]
        return host or None
    return address
