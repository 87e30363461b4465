"""sudo >= 1.9 JSON event log (``log_format=json``): one JSON object per line.

Each object holds one event under ``accept``, ``reject``, ``alert`` or ``exit`` (optionally
wrapped as ``{"sudo": {...}}`` and prefixed with ``@cee:``, as sudo writes JSON to syslog).

* ``accept`` -> priv.switch (success); ``reject`` and ``alert`` -> priv.denied (failure, attrs
  ``reason``); ``exit`` -> session.end (success; attrs ``exit_value``/``signal``) of the command
  started by the ``accept`` with the same ``uuid``.
* actor = ``submituser`` (unix identity; session = the event's ``uuid``); target = account
  ``runuser`` on ``submithost``; native id = ``<key>:<uuid>``.
* time: ``submit_time`` (``alert_time`` for alerts, ``exit_time`` for exits when present,
  ``server_time`` as the last resort), either ``{"seconds", "nanoseconds"}`` (time_text is then
  ``<seconds>.<nanoseconds>``; nanoseconds are kept when not zero), a dict with only ``iso8601``,
  or a string: sudo's compact ``YYYYMMDDHHMMSSZ`` or RFC 3339.

Skipped (counted with the reason): blank lines. Quarantined: anything that is not a JSON
object, objects without exactly one event key, events without a usable time, without
``submituser`` (accept/reject/alert) or ``command`` (accept/reject), and fields of the wrong
type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

import orjson

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Skipped
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._syslog_formats import rfc3339_utc

KINDS: Final = {
    "accept": ("priv.switch", "success"),
    "reject": ("priv.denied", "failure"),
    "alert": ("priv.denied", "failure"),
    "exit": ("session.end", "success"),
}
TIME_FIELDS: Final = {
    "accept": ("submit_time", "server_time"),
    "reject": ("submit_time", "server_time"),
    "alert": ("alert_time", "submit_time", "server_time"),
    "exit": ("exit_time", "submit_time", "server_time"),
}
REQUIRED: Final = {
    "accept": ("submituser", "command"),
    "reject": ("submituser", "command"),
    "alert": ("submituser",),
    "exit": ("uuid",),  # an exit is tied to its command by the uuid
}
_COMPACT: Final = re.compile(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z", re.ASCII)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_STRINGS: Final = ("uuid", "submituser", "submithost", "runuser", "command", "ttyname", "reason")
_STRINGS_ATTRS: Final = ("submitcwd", "cwd", "runcwd", "source", "rungroup", "runchroot")
_NUMBERS_ATTRS: Final = ("exit_value", "runuid", "rungid")


class _Bad(Exception):
    """A record that cannot become an event; the message is the quarantine reason."""


class SudoJsonParser:
    name: ClassVar[str] = "sudo-json"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = False

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for rec in records:
            if not rec.data or rec.data.isspace():
                yield Skipped(rec.location, "blank line")
                continue
            try:
                yield _event(rec, ctx)
            except _Bad as exc:
                yield Quarantined(self.name, ctx.source, rec.location, str(exc), rec.data)


def _event(rec: RawRecord, ctx: ParseContext) -> Event:
    obj = _load(rec.data)
    keys = [k for k in KINDS if k in obj]
    if len(keys) != 1:
        found = f"found {', '.join(keys)}" if keys else f"found {', '.join(sorted(obj)) or 'none'}"
        raise _Bad(f"expected exactly one of accept, reject, alert, exit ({found[:200]})")
    key = keys[0]
    body = obj[key]
    if not isinstance(body, dict):
        raise _Bad(f"{key!r} must be an object")
    fields = {}
    for name in _STRINGS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise _Bad(f"{key}.{name} must be a string")
        fields[name] = value or None
    for name in REQUIRED[key]:
        if fields[name] is None:
            raise _Bad(f"{key} event without {name}")
    time, time_text = _time(key, body)
    attrs: dict[str, Any] = {"command": fields["command"], "tty": fields["ttyname"]}
    if key != "accept":
        attrs["reason"] = fields["reason"]
    for name in _STRINGS_ATTRS:
        if isinstance(body.get(name), str):
            attrs[name] = body[name]
    for name in _NUMBERS_ATTRS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
            attrs[name] = value
    argv = body.get("runargv")
    if argv is not None:
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise _Bad(f"{key}.runargv must be a list of strings")
        attrs["runargv"] = argv
    if key == "exit":
        for name in ("signal", "dumped_core"):
            if isinstance(body.get(name), str | bool):
                attrs[name] = body[name]
    actor = ctx.actor("unix", fields["submituser"], session=fields["uuid"])
    target = ctx.target(fields["submithost"], account=fields["runuser"])
    kind, outcome = KINDS[key]
    uuid = fields["uuid"]
    return Event(
        kind=kind,
        time=time,
        time_text=time_text,
        provenance=Provenance(
            "sudo-json",
            ctx.source,
            rec.location,
            SudoJsonParser.version,
            raw_sha256(rec.data),
            f"{key}:{uuid}" if uuid else None,
        ),
        actor=actor,
        target=target,
        outcome=outcome,
        scope=ctx.scope(target=target, actor=actor),
        attrs=tuple(sorted((k, v) for k, v in attrs.items() if v is not None)),
    )


def _load(data: bytes) -> dict[str, Any]:
    text = data.strip()
    if not text.startswith(b"{"):
        at = text.find(b"@cee:")
        if at < 0:
            raise _Bad("not a JSON object (expected '{' or a '@cee:' prefix)")
        text = text[at + 5 :].lstrip()
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _Bad(f"invalid JSON: {exc}") from None
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get("sudo"), dict):
        obj = obj["sudo"]
    if not isinstance(obj, dict):
        raise _Bad(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _time(key: str, body: dict[str, Any]) -> tuple[str, str]:
    """(RFC 3339 UTC, the time as written) from the first time field the event has."""
    for name in TIME_FIELDS[key]:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, dict):
            if "seconds" in value:
                return _epoch(f"{key}.{name}", value.get("seconds"), value.get("nanoseconds"))
            value = value.get("iso8601")
        if isinstance(value, str):
            m = _COMPACT.fullmatch(value)
            utc = rfc3339_utc(value) if m is None else _compact(m)
            if utc is None:
                raise _Bad(f"{key}.{name}: {value[:64]!r} is not a valid time")
            return utc, value
        raise _Bad(f"{key}.{name} must be {{seconds, nanoseconds}} or an ISO 8601 string")
    raise _Bad(f"{key} event without {' or '.join(TIME_FIELDS[key])}")


def _number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _epoch(name: str, seconds: object, nanoseconds: object) -> tuple[str, str]:
    s, ns = _number(seconds), _number(0 if nanoseconds is None else nanoseconds)
    if s is None or ns is None or not 0 <= ns < 1_000_000_000:
        raise _Bad(f"{name}: seconds and nanoseconds must be non-negative integers")
    try:
        base = (_EPOCH + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")
    except OverflowError:
        raise _Bad(f"{name}: {s} seconds is out of range") from None
    if len(base) != 19:
        raise _Bad(f"{name}: {s} seconds is out of range")
    fraction = f".{ns:09d}" if ns else ""
    return f"{base}{fraction}Z", str(s) if nanoseconds is None else f"{s}.{ns:09d}"


def _compact(m: re.Match[str]) -> str | None:
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        dt = datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except ValueError:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt.year >= 1000 else None
