"""sudo >= 1.9 JSON event log (``log_format=json``), as sudo writes it to its log file or to
syslog, or one JSON object per line.

Each event is an object under ``accept``, ``reject``, ``alert`` or ``exit``. Sudo's log file is
one JSON object with every event a member, written indented over many lines (``{``, then
``"accept": {`` ... ``},`` per event, and ``}``): the lines of one member make one event (its
location is its first line). Sudo appends by overwriting the file's last 3 bytes (``\n}\n``)
with ``,`` and the next member, so a resume offset never falls after the last member (it is read
again on the next run, the same event: nothing is added). To syslog, sudo writes
``@cee:{"sudo":{"accept":{...}}}`` on one line (after the syslog header); a line may also hold
``{"accept": {...}}`` or ``{"sudo": {...}}``.

* ``accept`` -> priv.switch (success); ``reject`` and ``alert`` -> priv.denied (failure, attrs
  ``reason``); ``exit`` -> session.end (success; attrs ``exit_value``/``signal``) of the command
  started by the ``accept`` with the same ``uuid``.
* actor = ``submituser`` (unix identity; session = the event's ``uuid``); target = account
  ``runuser`` on ``submithost``; native id = ``<key>:<uuid>``.
* time: ``submit_time`` (``alert_time`` for alerts, ``exit_time`` for exits when present,
  ``server_time`` as the last resort), either ``{"seconds", "nanoseconds"}`` (time_text is then
  ``<seconds>.<nanoseconds>``; nanoseconds are kept when not zero), a dict with only ``iso8601``,
  or a string: sudo's compact ``YYYYMMDDHHMMSSZ`` or RFC 3339.

Skipped (counted with the reason): blank lines, the log file's opening and closing braces.
Quarantined: a log file member that does not close (within 10 000 lines or 4 MiB, or before the
input ends), anything that is not a JSON object, objects without exactly one event key,
events without a usable time, without ``submituser`` (accept/reject/alert) or ``command``
(accept/reject), and fields of the wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

import orjson

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
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


# sudo's own log file (log_format=json with a logfile): one JSON object holding every event as
# a member, written indented: '{', then '"accept": {' ... '},' and so on, and a closing '}'
_ENTRY_START: Final = re.compile(rb'\s*"(?:accept|reject|alert|exit)"\s*:\s*\{\s*')
MAX_ENTRY_LINES: Final = 10_000
MAX_ENTRY_BYTES: Final = 4 << 20
SKIP_BRACE: Final = "opening or closing brace of sudo's JSON log file"


class _Bad(Exception):
    """A record that cannot become an event; the message is the quarantine reason."""


class SudoJsonParser:
    name: ClassVar[str] = "sudo-json"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True  # an event of sudo's own log file spans lines
    tail_rewritten: ClassVar[bool] = True  # sudo appends by overwriting the file's last '}'

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        entry: list[RawRecord] = []  # the lines of a log file entry read so far
        depth = size = 0
        for rec in records:
            data = rec.data
            if entry:
                entry.append(rec)
                depth += _depth(data)
                size += len(data)
                if depth > 0 and len(entry) < MAX_ENTRY_LINES and size < MAX_ENTRY_BYTES:
                    continue
                yield self._entry(entry, ctx, depth)
                last, entry, depth = data, [], 0
                if not last.rstrip().endswith(b","):
                    continue  # the last member so far: sudo appends by rewriting its end
            elif not data or data.isspace():
                yield Skipped(rec.location, "blank line")
            elif _ENTRY_START.fullmatch(data):
                entry, depth, size = [rec], _depth(data), len(data)
                continue
            elif data.strip() in (b"{", b"}"):
                yield Skipped(rec.location, SKIP_BRACE)
                if data.strip() == b"}":
                    continue  # the end of the file: rewritten when sudo appends
            else:
                try:
                    yield _event(rec, ctx)
                except _Bad as exc:
                    yield Quarantined(self.name, ctx.source, rec.location, str(exc), data)
            yield Resume(rec.offset)
        if entry:
            # The input ended inside a member: quarantined (a crash may have cut it) but no
            # Resume past it, so a member sudo was still writing is read again, whole, later.
            yield self._entry(entry, ctx, depth)

    def _entry(self, lines: list[RawRecord], ctx: ParseContext, depth: int) -> Output:
        """One event of sudo's log file: ``"<key>": {`` and the lines up to its closing brace,
        parsed as the object ``{"<key>": {...}}``."""
        first = lines[0]
        raw = b"\n".join(r.data for r in lines)
        record = RawRecord(b"{" + raw.strip().removesuffix(b",") + b"}", first.location, 0)
        try:
            if depth > 0:
                raise _Bad(
                    f"log file entry not closed after {len(lines)} lines (input ended, or it "
                    f"is longer than {MAX_ENTRY_LINES} lines or {MAX_ENTRY_BYTES} bytes)"
                )
            return _event(record, ctx)
        except _Bad as exc:
            return Quarantined(self.name, ctx.source, first.location, str(exc), raw)


def _depth(line: bytes) -> int:
    """How many more braces ``line`` opens than it closes, outside JSON strings."""
    if b'"' not in line:
        return line.count(b"{") - line.count(b"}")
    depth, quoted, escaped = 0, False, False
    for c in line:
        if escaped:
            escaped = False
        elif c == 0x5C and quoted:  # backslash
            escaped = True
        elif c == 0x22:  # double quote
            quoted = not quoted
        elif not quoted and c == 0x7B:
            depth += 1
        elif not quoted and c == 0x7D:
            depth -= 1
    return depth


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
