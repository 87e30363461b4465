"""Syslog framing for :mod:`edgeaudit.collect.parsers.syslog`: headers and times.

Three header styles are recognised, each optionally after a ``<PRI>``:

* RFC 3164 ``Mmm dd HH:MM:SS host tag: msg`` (no year, no zone; the day may be space padded);
* RFC 3339-timestamped (rsyslog's high-precision format) ``2026-11-20T08:07:02.1+05:30 host
  tag: msg``;
* RFC 5424 ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`` (``-`` is nil, MSG may start
  with a BOM).

Times become RFC 3339 UTC with ``Z``; fractional digits (1 to 9) are kept as written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo

MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# RFC 3164: the time text is group 1; month names are checked against MONTHS afterwards.
_R3164: Final = re.compile(
    r"(?:<\d{1,3}>)?([A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d) (\S+) ?(.*)", re.ASCII | re.DOTALL
)
_R3339: Final = re.compile(
    r"(?:<\d{1,3}>)?(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d))"
    r" (\S+) ?(.*)",
    re.ASCII | re.DOTALL,
)
_SD_ELEMENT: Final = r'\[(?:[^\]"]|"(?:[^"\\]|\\.)*")*\]'
_R5424: Final = re.compile(
    rf"<\d{{1,3}}>1 (\S+) (\S+) (\S+) (\S+) \S+ (?:-|(?:{_SD_ELEMENT})+)(?: (.*))?",
    re.ASCII | re.DOTALL,
)
# "prog[pid]: msg", "prog: msg"; the tag of RFC 3164 ends at '[' or ':'.
_TAG: Final = re.compile(r"([^\s\[\]:]+)(?:\[([^\]\s]*)\])?: ?(.*)", re.DOTALL)
_TS: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|([+-])(\d\d):(\d\d))",
    re.ASCII,
)

# Header styles.
RFC3164: Final = 0
RFC3339: Final = 1
RFC5424: Final = 2

NOT_SYSLOG: Final = (
    "not a syslog line (expected RFC 3164 'Mmm dd HH:MM:SS host prog[pid]: msg', "
    "an RFC 3339 timestamp and host, or RFC 5424 '<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD')"
)

Header = tuple[int, str, str | None, str | None, str | None, str]
"""(style, time text, host, program, pid, message); program None when the line has no tag."""


def split_header(line: str) -> Header | str:
    """The header fields of one line, or the reason it is not syslog."""
    first = line[:1]
    if first == "<":
        end = line.find(">", 1, 5)
        if end > 0 and line.startswith("1 ", end + 1):
            return _split_5424(line)
        first = line[end + 1 : end + 2] if end > 0 else ""
    if first.isascii() and first.isdigit():
        m = _R3339.match(line)
        style = RFC3339
    else:
        m = _R3164.match(line)
        style = RFC3164
        if m is not None and m.group(1)[:3] not in MONTHS:
            return f"unknown month name {m.group(1)[:3]!r} in an RFC 3164 timestamp"
    if m is None:
        return NOT_SYSLOG
    time_text, host, rest = m.groups()
    t = _TAG.match(rest)
    if t is None:
        return (style, time_text, host, None, None, rest)
    return (style, time_text, host, t.group(1), t.group(2), t.group(3))


def _split_5424(line: str) -> Header | str:
    m = _R5424.match(line)
    if m is None:
        return "not RFC 5424 syslog (expected '<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]')"
    ts, host, app, procid, msg = m.groups()
    if ts == "-":
        return "RFC 5424 record without a timestamp"
    msg = msg or ""
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    return (
        RFC5424,
        ts,
        None if host == "-" else host,
        None if app == "-" else app,
        None if procid == "-" else procid,
        msg,
    )


_cache: dict[tuple[str, int, object], str] = {}


def rfc3164_utc(text: str, year: int, tz: ZoneInfo) -> str | None:
    """``Mmm dd HH:MM:SS`` in ``year`` and ``tz`` as RFC 3339 UTC, or None if no such time."""
    key = (text, year, tz)
    found = _cache.get(key)
    if found is None:
        try:
            month, day, hms = text.split()
            h, mi, s = hms.split(":")
            local = datetime(year, MONTHS[month], int(day), int(h), int(mi), int(s), tzinfo=tz)
            found = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (ValueError, OverflowError, KeyError):
            return None
        if len(_cache) > 65536:
            _cache.clear()
        _cache[key] = found
    return found


def rfc3339_utc(text: str) -> str | None:
    """An RFC 3339 time with any offset as UTC with ``Z``, fraction kept; None if invalid."""
    m = _TS.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, fraction, zone, sign, zh, zm = m.groups()
    key = (text[:19], 0, zone)
    base = _cache.get(key)
    if base is None:
        try:
            if sign is None:
                offset = UTC
            else:
                delta = timedelta(hours=int(zh), minutes=int(zm))
                offset = timezone(-delta if sign == "-" else delta)
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=offset)
            base = dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        except (ValueError, OverflowError):
            return None
        if len(base) != 19:  # years before 1000 are not zero padded by strftime on every libc
            return None
        if len(_cache) > 65536:
            _cache.clear()
        _cache[key] = base
    return f"{base}{fraction or ''}Z"
