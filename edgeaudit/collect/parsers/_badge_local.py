"""Local badge times to RFC 3339 UTC text for the ``badge-csv`` parser (ISO 8601 or a
``time_format``; a naive time in the configured zone, one offset computed per local minute),
and the exception by which the parser quarantines a line. :class:`LocalTimes` is a part of
:class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`, which sets the format and the
cache of offsets before parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from edgeaudit.collect.parsers._badge_times import _offset, _utc_text

NO_ZONE: Final = "no time zone configured: badge times are local (set site.timezone or --timezone)"
DST_GAP: Final = "local time does not exist (DST gap)"


class _Bad(Exception):
    """A line to quarantine (internal control flow only)."""


class LocalTimes:
    """The time handling of :class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`."""

    _format: str | None
    # local minute -> (offset, ambiguous, UTC "YYYY-MM-DDTHH:MM" or ""), None in a DST gap
    _offsets: dict[datetime, tuple[timedelta, bool, str] | None]

    def _utc(self, text: str, zone: ZoneInfo | None) -> tuple[str, bool]:
        """RFC 3339 UTC text of a local time, and whether it was ambiguous."""
        if zone is None:
            raise _Bad(NO_ZONE)
        try:
            if self._format is not None:
                local = datetime.strptime(text, self._format)
            elif len(text) > 10:  # ISO 8601 date and time (a date alone is no time)
                local = datetime.fromisoformat(text)
            else:
                raise ValueError(text)
        except ValueError:
            if self._format is None:
                raise _Bad(
                    f"time {text!r} is not an ISO 8601 date and time such as "
                    "'2026-11-22 09:00:00' (give its format: --option time_format=...)"
                ) from None
            raise _Bad(f"time {text!r} does not match the format {self._format!r}") from None
        if local.tzinfo is not None:
            return _utc_text(local.astimezone(UTC)), False
        minute = local.replace(second=0, microsecond=0)
        try:
            if minute in self._offsets:
                found = self._offsets[minute]
            else:
                if len(self._offsets) > 4096:
                    self._offsets.clear()
                found = self._offsets[minute] = _offset(minute, zone)
            if found is None:
                raise _Bad(DST_GAP)
            offset, ambiguous, prefix = found
            if not prefix:  # an offset in seconds (old local mean time): no shortcut
                return _utc_text(local - offset), ambiguous
            fraction = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
            return f"{prefix}:{local.second:02d}{fraction}Z", ambiguous
        except (OverflowError, ValueError):
            raise _Bad(f"time {text!r} is out of the supported range") from None
