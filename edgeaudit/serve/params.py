"""Request parameters checked at the edge: a bad value is a 400 naming the parameter, never a
500 further in.

Periods are bounded to what the evidence store can hold: from 1970-01-01 (its times are epoch
seconds) to the start of 9999 (a quarter ending later cannot be written as a date). A quarter
such as ``9999Q4`` or ``0000Q1`` and a ``from`` in year 1 are refused here, with the range.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from edgeaudit.errors import InputError
from edgeaudit.pack.period import Period

FIRST: Final = 0  # 1970-01-01T00:00:00Z
LAST: Final = 253370764800  # 9999-01-01T00:00:00Z, exclusive
RANGE: Final = "1970-01-01 .. 9999-01-01"
_QUARTER: Final = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)
_DATE_OR_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?", re.IGNORECASE)
_JOB_ID: Final = re.compile(r"[0-9a-f]{32}")


def quarter(text: str, name: str = "period") -> Period:
    """A calendar quarter such as ``2026Q3`` within the store's range."""
    m = _QUARTER.fullmatch(text.strip())
    if m is None:
        raise InputError(f"{name} {text[:40]!r}: expected a quarter such as 2026Q3")
    if not 1970 <= int(m.group(1)) <= 9998:
        raise InputError(f"{name} {text[:40]!r}: the year must be 1970..9998")
    return _bounded(lambda: Period.quarter(text), name, text)


def between(date_from: str, date_to: str) -> Period:
    """``from``/``to``: dates (``2026-07-01``) or RFC 3339 UTC times within the store's range."""
    for name, text in (("from", date_from), ("to", date_to)):
        if not _DATE_OR_TIME.fullmatch(text.strip()):
            raise InputError(
                f"{name} {text[:40]!r}: expected a date (2026-07-01) or an RFC 3339 UTC time"
            )
    return _bounded(lambda: Period.between(date_from, date_to), "from/to", date_from)


def _bounded(make: Callable[[], Period], name: str, text: str) -> Period:
    try:
        period = make()
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None
    except (ValueError, OverflowError):
        raise InputError(f"{name} {text[:40]!r}: not a date within {RANGE}") from None
    if period.start < FIRST or period.end > LAST:
        raise InputError(f"{name} {text[:40]!r}: the period must lie within {RANGE}")
    return period


def period(text: str | None, date_from: str | None = None, date_to: str | None = None) -> Period:
    """``period=2026Q3``, or both ``from`` and ``to``."""
    if text and (date_from or date_to):
        raise InputError("give either period or from/to, not both")
    if text:
        return quarter(text)
    if date_from and date_to:
        return between(date_from, date_to)
    raise InputError("give the period: period=2026Q3, or both from and to")


def job_id(text: str) -> str:
    """An export id is 32 lower-case hex digits; anything else is an unknown export."""
    return text if _JOB_ID.fullmatch(text) else ""
