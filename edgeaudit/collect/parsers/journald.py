"""journald JSON export (``journalctl -o json``, one object per line) -> auth events.

Values are strings; binary values are arrays of byte numbers (decoded as UTF-8 with
replacement); repeated fields are arrays; oversized fields are null. Only the trusted fields
(``_COMM``, ``_EXE``, ``_SYSTEMD_UNIT``) decide which program wrote a record: sshd,
sshd-session, sshd-auth and sudo records have their ``MESSAGE`` parsed (sshd Accepted/Failed,
Disconnected from user, pam_unix session opened/closed, sudo command lines; see
``_journald_messages``). ``SYSLOG_IDENTIFIER`` and ``MESSAGE`` are client-supplied.

Emitted: auth.logon, auth.logon_failed, auth.logoff, session.start, session.end, priv.switch,
priv.denied, and audit.pipeline (outcome failure) when ``__SEQNUM`` jumps by more than one
within a ``__SEQNUM_ID`` (emitted just before the record after the gap). A Resume follows every
record; the last seqnum per seqnum id is the only state. When the runner resumes a file, it
primes the parser with the record before the resume offset (:meth:`JournaldParser.prime`), so
a gap that spans a restart is detected too.

Skipped (well-formed, not auth; counted with the reason): blank lines; records of other
programs; sshd/sudo messages that are not one of the forms above (including sudo "(command
continued)" lines and pam_unix authentication failures, which the program's own line already
reports).

Quarantined, with the reason: lines that are not a JSON object; values of a type journald never
writes (numbers, objects, booleans); a ``__SEQNUM`` that is not a decimal number; a trusted field
that is repeated; a record whose SYSLOG_IDENTIFIER claims sshd/sudo but whose trusted
fields disagree ("forged identifier: SYSLOG_IDENTIFIER=sshd but _COMM=..."; no auth event is
produced for it); auth-program records whose MESSAGE is missing, null (oversized) or repeated,
or whose ``__REALTIME_TIMESTAMP`` is missing or not microseconds since the epoch.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import orjson

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._journald_messages import parse_message

_FAMILY: dict[str, str] = {
    "sshd": "sshd",
    "sshd-session": "sshd",
    "sshd-auth": "sshd",
    "sudo": "sudo",
}
_SSH_UNITS = frozenset({"ssh.service", "sshd.service"})
_MAX_US = 253402300799_999999  # 9999-12-31T23:59:59.999999Z
SKIP_BLANK = "blank line"
SKIP_PROGRAM = "program not audited (only sshd and sudo records are, by their trusted fields)"


class _Bad(Exception):
    """A record journald could not have written; the message is the quarantine reason."""


def _value(rec: dict[str, Any], name: str) -> str | tuple[str, ...] | None:
    v = rec.get(name)
    if v is None or type(v) is str:
        return v
    if type(v) is list:
        if v and all(type(x) is int for x in v):
            try:
                return bytes(v).decode("utf-8", "replace")
            except ValueError:
                raise _Bad(f"field {name}: byte array has values outside 0..255") from None
        out = []
        for x in v:
            if type(x) is str:
                out.append(x)
            elif type(x) is list and x and all(type(b) is int for b in x):
                try:
                    out.append(bytes(x).decode("utf-8", "replace"))
                except ValueError:
                    raise _Bad(f"field {name}: byte array has values outside 0..255") from None
            else:
                raise _Bad(f"field {name}: unexpected {type(x).__name__} in array")
        return tuple(out)
    raise _Bad(f"field {name}: unexpected {type(v).__name__} value (journald writes strings)")


def _one(rec: dict[str, Any], name: str) -> str | None:
    v = rec.get(name)
    if v is None or type(v) is str:
        return v
    v = _value(rec, name)
    if type(v) is tuple:
        raise _Bad(f"field {name} is repeated ({len(v)} values)")
    return v  # type: ignore[return-value]


def _trusted_one(rec: dict[str, Any], name: str) -> str | None:
    v = rec.get(name)
    if v is None or type(v) is str:
        return v
    v = _value(rec, name)
    if type(v) is tuple:
        raise _Bad(f"trusted field {name} is repeated ({len(v)} values)")
    return v  # type: ignore[return-value]


def _unit_family(unit: str) -> str | None:
    if unit in _SSH_UNITS or (unit.startswith(("sshd@", "ssh@")) and unit.endswith(".service")):
        return "sshd"
    return None


def _trusted(comm: str | None, exe: str | None, unit: str | None) -> str | None:
    """The auth family the trusted fields agree on, or None (another program, or conflict)."""
    if comm is not None:
        family = _FAMILY.get(comm)
        if exe is not None and _FAMILY.get(exe.rpartition("/")[2]) != family:
            return None
        return family
    if exe is not None:
        return _FAMILY.get(exe.rpartition("/")[2])
    return _unit_family(unit) if unit is not None else None


def _utc(us_text: str | None) -> str:
    if us_text is None:
        raise _Bad("missing __REALTIME_TIMESTAMP")
    if (
        not (len(us_text) <= 18 and us_text.isascii() and us_text.isdigit())
        or int(us_text) > _MAX_US
    ):
        raise _Bad(f"bad __REALTIME_TIMESTAMP {us_text[:40]!r}: not microseconds since the epoch")
    secs, us = divmod(int(us_text), 1_000_000)
    return _second(secs) + f".{us:06d}Z"


@functools.lru_cache(maxsize=256)
def _second(secs: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))


class JournaldParser:
    name: ClassVar[str] = "journald"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True

    def __init__(self) -> None:
        self.last_seq: dict[str, int] = {}  # the last __SEQNUM per __SEQNUM_ID
        self.last_ts: str | None = None  # the last __REALTIME_TIMESTAMP seen, for gap events

    def prime(self, records: Iterable[RawRecord], ctx: ParseContext) -> None:
        """Resuming a file: take the sequence number (and time) of the record before the
        resume offset, so a gap across the restart is detected like any other."""
        for record in records:
            try:
                rec = orjson.loads(record.data)
                if type(rec) is not dict:
                    continue
                seq_id, seq = _one(rec, "__SEQNUM_ID"), _one(rec, "__SEQNUM")
                ts_text = _one(rec, "__REALTIME_TIMESTAMP")
            except (orjson.JSONDecodeError, _Bad):
                continue  # it was quarantined when it was read
            if seq_id is not None and seq is not None and seq.isascii() and seq.isdigit():
                self.last_seq[seq_id] = max(int(seq), self.last_seq.get(seq_id, 0))
            if ts_text is not None:
                self.last_ts = ts_text

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        last_seq = self.last_seq
        for record in records:
            data = record.data
            if not data.strip():
                yield Skipped(record.location, SKIP_BLANK)
                yield Resume(record.offset)
                continue
            gap: tuple[str, int, int] | None = None
            try:
                try:
                    rec = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise _Bad(f"not JSON: {exc}") from None
                if type(rec) is not dict:
                    raise _Bad(f"not a JSON object but a {type(rec).__name__}")
                seq_id, seq = _one(rec, "__SEQNUM_ID"), _one(rec, "__SEQNUM")
                if seq_id is not None and seq is not None:
                    if not (len(seq) <= 20 and seq.isascii() and seq.isdigit()):
                        raise _Bad(f"bad __SEQNUM {seq[:40]!r}: not a decimal number")
                    n, prev = int(seq), last_seq.get(seq_id)
                    if prev is not None and n > prev + 1:
                        gap = (seq_id, prev + 1, n)
                    if prev is None or n > prev:
                        last_seq[seq_id] = n
                ts_text = _one(rec, "__REALTIME_TIMESTAMP")
                if gap is not None:
                    yield self._gap(record, rec, ctx, gap, _gap_time(ts_text, self.last_ts, gap))
                if ts_text is not None:
                    self.last_ts = ts_text
                event = self._auth(record, rec, ctx, ts_text)
            except _Bad as exc:
                yield Quarantined(self.name, ctx.source, record.location, str(exc), data)
            else:
                yield Skipped(record.location, event) if isinstance(event, str) else event
            yield Resume(record.offset)

    def _auth(
        self, record: RawRecord, rec: dict[str, Any], ctx: ParseContext, ts_text: str | None
    ) -> Event | str:
        """The auth event of a record, or why it carries none (the skip reason)."""
        comm, exe, unit = (
            _trusted_one(rec, "_COMM"),
            _trusted_one(rec, "_EXE"),
            _trusted_one(rec, "_SYSTEMD_UNIT"),
        )
        family = _trusted(comm, exe, unit)
        ident = _value(rec, "SYSLOG_IDENTIFIER")
        for claim in (ident,) if type(ident) is str else ident or ():
            if claim in _FAMILY and _FAMILY[claim] != family:
                shown = f"_COMM={comm}" if comm is not None else "_COMM missing"
                if exe is not None:
                    shown += f", _EXE={exe}"
                raise _Bad(f"forged identifier: SYSLOG_IDENTIFIER={claim} but {shown}")
        if family is None:
            return SKIP_PROGRAM
        msg = _one(rec, "MESSAGE")
        if msg is None:
            raise _Bad("MESSAGE is missing or null (oversized) in a record of " + family)
        parsed = parse_message(family, msg)
        if parsed is None:
            return f"{family} message that carries no event"
        when = _utc(ts_text)
        host = _one(rec, "_HOSTNAME") or ctx.source
        actor = ctx.actor(
            parsed.identity_kind,
            parsed.identity,
            credential=parsed.credential,
            original_user=parsed.original_user,
            src_ip=parsed.src_ip,
        )
        target = ctx.target(host, account=parsed.account)
        attrs = dict(parsed.attrs)
        attrs["program"] = comm or (exe or "").rpartition("/")[2] or unit
        pid = rec.get("_PID")
        if type(pid) is str and pid.isdigit():
            attrs["pid"] = int(pid)
        return Event(
            kind=parsed.kind,
            time=when,
            time_text=ts_text or "",
            provenance=self._prov(record, ctx, rec),
            actor=actor,
            target=target,
            outcome=parsed.outcome,
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )

    def _gap(
        self,
        record: RawRecord,
        rec: dict[str, Any],
        ctx: ParseContext,
        gap: tuple[str, int, int],
        when: tuple[str, str],
    ) -> Event:
        seq_id, expected, found = gap
        host = rec.get("_HOSTNAME")
        target = ctx.target(host if type(host) is str else ctx.source)
        prov = Provenance(
            self.name,
            ctx.source,
            record.location,
            self.version,
            raw_sha256(record.data),
            f"gap:{seq_id}:{expected}-{found - 1}",
        )
        return Event(
            kind="audit.pipeline",
            time=when[0],
            time_text=when[1],
            provenance=prov,
            target=target,
            outcome="failure",
            scope=ctx.scope(target=target),
            attrs=(
                ("expected", expected),
                ("found", found),
                ("missing", found - expected),
                ("reason", "journal seqnum gap"),
                ("seqnum_id", seq_id),
            ),
        )

    def _prov(self, record: RawRecord, ctx: ParseContext, rec: dict[str, Any]) -> Provenance:
        cursor = rec.get("__CURSOR")
        return Provenance(
            self.name,
            ctx.source,
            record.location,
            self.version,
            raw_sha256(record.data),
            cursor if type(cursor) is str else None,
        )


def _gap_time(
    ts_text: str | None, last_ts: str | None, gap: tuple[str, int, int]
) -> tuple[str, str]:
    """The time of the record after a gap, else of the record before it."""
    try:
        return _utc(ts_text), ts_text or ""
    except _Bad as exc:
        try:
            return _utc(last_ts), last_ts or ""
        except _Bad:
            raise _Bad(f"{exc}; and {_gap_text(gap)} before this record") from None


def _gap_text(gap: tuple[str, int, int]) -> str:
    seq_id, expected, found = gap
    return (
        f"{found - expected} records lost (seqnum_id={seq_id}, expected {expected}, found {found})"
    )
