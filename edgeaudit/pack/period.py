"""The period a pack covers: a calendar quarter (``2026Q3``) or explicit ``--from``/``--to``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time

_QUARTER = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Period:
    """Entries whose ``time`` (whole seconds) is in ``[start, end)``."""

    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive
    label: str

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InputError(
                f"the period must end after it starts: {self.start_text} .. {self.end_text}"
            )

    @property
    def start_text(self) -> str:
        return _iso(self.start)

    @property
    def end_text(self) -> str:
        return _iso(self.end)

    def contains(self, seconds: int) -> bool:
        return self.start <= seconds < self.end

    @classmethod
    def quarter(cls, text: str) -> Period:
        m = _QUARTER.fullmatch(text.strip())
        if m is None:
            raise InputError(f"--quarter {text!r}: expected a quarter such as 2026Q3")
        year, q = int(m.group(1)), int(m.group(2))
        first = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
        last = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
        return cls(int(first.timestamp()), int(last.timestamp()), f"{year}Q{q}")

    @classmethod
    def between(cls, start: str, end: str) -> Period:
        s = _bound(start, "--from")
        e = _bound(end, "--to")
        return cls(s, e, f"{_iso(s)} .. {_iso(e)}")


def _bound(text: str, option: str) -> int:
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00Z"
    try:
        normalized, seconds = parse_utc_time(value, option)
    except InputError as exc:
        raise InputError(f"{option}: {exc}") from None
    if "." in normalized:
        raise InputError(f"{option} {text!r}: use whole seconds")
    return seconds
