"""Local badge times to UTC (the ``badge-csv`` parser): RFC 3339 UTC text of a datetime, and the
UTC offset of a naive local minute in a time zone (ambiguous in a DST fall back, none in a DST
gap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def _utc_text(dt: datetime) -> str:
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def _offset(local: datetime, zone: ZoneInfo) -> tuple[timedelta, bool, str] | None:
    """The UTC offset of a naive local minute in ``zone`` (first occurrence), whether the time
    is ambiguous and the UTC minute as text ("" when the offset has seconds), or None when it
    does not exist (DST gap)."""
    first = local.replace(tzinfo=zone, fold=0)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != local:
        return None
    offset = first.utcoffset() or timedelta(0)
    second = local.replace(tzinfo=zone, fold=1).utcoffset()
    prefix = "" if offset.seconds % 60 or offset.microseconds else _utc_text(local - offset)[:16]
    return offset, second is not None and second != offset, prefix
