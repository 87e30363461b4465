"""auditd logs (``/var/log/audit/audit.log``, RAW or ENRICHED) -> auth and command events.

Records sharing (node, timestamp, serial) form one event; they may be interleaved with other
events' records and out of order. A kernel event (SYSCALL, EXECVE, CWD, PATH, PROCTITLE) is
buffered until its ``EOE`` or ``PROCTITLE`` record, or until 2 seconds of audit time (the
largest time seen in the stream, never the wall clock) have passed since its first record;
whatever is still buffered is emitted when the input ends. User-space records (``USER_*``,
``CRED_*``, ``LOGIN``, ...) are single-record events. Line framing; the parser yields
``Resume(offset)`` with the end offset of the record just before the earliest record still
buffered (so restarting there re-reads the unfinished events).

Emitted:

* USER_LOGIN: auth.logon (res=success) / auth.logon_failed (res=failed); USER_AUTH (a PAM
  authentication by sshd, sudo, su, ...): auth.verified when it succeeded (a credential was
  verified: no logon and no session, which the session checks build only from auth.logon,
  session.start and priv.switch) / auth.logon_failed when it failed; the actor is the account
  (``acct``, else ``id``), with ``addr`` as source address;
* USER_START, USER_END: session.start / session.end on account ``acct``;
* USER_CMD (sudo; ``cmd`` is hex): priv.switch, or priv.denied when res=failed, with the
  ``auid`` as actor and original_user;
* SYSCALL+EXECVE events whose ``key`` is a privilege key (``priv_esc``, ``privileged``, or the
  comma list in option ``auditd_keys``), or with euid=0 and a set auid different from uid:
  session.command with the arguments exactly as executed in ``attrs.argv`` (a list: an
  argument with spaces stays one argument) and, for display and matching, ``attrs.command``
  (the arguments joined by spaces).

Arguments, as the kernel writes them: EXECVE has ``argc`` and ``a0``, ``a1``, ... each either
``"quoted"`` or hex (when it holds a space, a quote, a control or a non-ASCII byte); a long
argument comes in pieces (``a1_len=N a1[0]=... a1[1]=...``) and many arguments continue in
further EXECVE records of the same event; all of them are joined. When EXECVE lacks some
argument (lost records), ``argv`` comes from PROCTITLE (NUL-separated, cut by the kernel at 128
bytes) with ``attrs.argv_source`` ``proctitle``, else from the arguments that are there with
``attrs.argv_incomplete``. Bytes that are not UTF-8 become U+FFFD.

Identities: ``auid=4294967295`` (or -1) is unset. ENRICHED names (``AUID="ravi"``) are looked
up as unix identities; RAW logs give only numbers, kept as the unresolved user "1000".

Host: ``node=``; a record without it (auditd's ``name_format = none``, the default) was written
by the host the collector was given: option ``host`` when set, else the source
(``collect --source``). When the source is only the input file's name (what ``collect`` uses
without ``--source``) and no inventory asset has that name, the host is unknown: the event has
no target asset rather than a file name for one. native_id is ``host:epoch.ms:serial`` (none
when the host is unknown: the event is then identified by source and location).

Skipped, and counted (``Skipped`` with the reason): record types not listed above (CRED_*,
LOGIN, USER_ACCT, SERVICE_*, AVC, ...); kernel events that are not an exec (no EXECVE), exec
events whose SYSCALL record is missing, and exec events that are not privileged (each of their
records). Not records: blank lines, and EOE, which only ends an event. Quarantined: lines that
are not UTF-8 or not an auditd record (no ``type=``/``msg=audit(...)`` header), audit times out
of range, and unterminated inner ``msg='...'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._auditd_records import (
    AuditRecord,
    BadRecord,
    is_unset,
    parse_record,
    plain,
    raw_bytes,
    text,
    utc,
)
from edgeaudit.collect.parsers._kinds import AUTH_VERIFIED

_KERNEL = frozenset({"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"})
_USER = frozenset({"USER_LOGIN", "USER_AUTH", "USER_START", "USER_END", "USER_CMD"})
_TIMEOUT_MS = 2000
_DEFAULT_KEYS = "priv_esc,privileged"
_OUTCOME = {"success": "success", "failed": "failure", "yes": "success", "no": "failure"}
_MAX_ARGS = 4096
_ARG_NAME = re.compile(r"a(\d+)(?:_len|\[\d+\])?")
SKIP_NOT_EXEC = "kernel event that is not an exec (no EXECVE record)"
SKIP_NO_SYSCALL = "exec event whose SYSCALL record is missing"
SKIP_NOT_PRIVILEGED = (
    "exec that is not privileged (no privilege key; not euid 0 under another auid)"
)


@dataclass(slots=True)
class _Pending:
    start: int | None  # end offset of the record before this event's first record
    first_ms: int
    records: list[tuple[AuditRecord, RawRecord]] = field(default_factory=list)


class AuditdParser:
    name: ClassVar[str] = "auditd"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True
    options: ClassVar[dict[str, str]] = {
        "auditd_keys": "audit rule keys (-k) whose syscall records are events, comma separated",
        "host": "the host that wrote records without node= (default: the source)",
    }

    def __init__(self) -> None:
        self._host: str | None = None  # the host of records without node= (see default_host)
        self._host_known = False

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        keys = frozenset(
            k.strip() for k in ctx.options.get("auditd_keys", _DEFAULT_KEYS).split(",") if k
        )
        self._host, self._host_known = None, False
        pending: dict[tuple[str | None, str, str], _Pending] = {}
        prev_end: int | None = None
        resumed = -1
        max_ms = -1
        for raw in records:
            data = raw.data
            start, prev_end = prev_end, raw.offset
            rec: AuditRecord | None = None
            reason = ""
            if data.strip():
                try:
                    rec = parse_record(data.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    reason = f"not UTF-8 (byte {exc.start})"
                except BadRecord as exc:
                    reason = str(exc)
                if rec is None:
                    yield Quarantined(self.name, ctx.source, raw.location, reason, data)
            if rec is not None:
                yield from self._record(rec, raw, start, pending, max_ms, ctx, keys)
                max_ms = max(max_ms, rec.ms)
            # resume before the earliest buffered record (dict order is arrival order)
            if pending:
                first = next(iter(pending.values())).start
                target = first if first is not None else -1
            else:
                target = raw.offset
            if target > resumed:
                resumed = target
                yield Resume(target)
        for p in list(pending.values()):
            yield from self._kernel(p, ctx, keys)
        if prev_end is not None and prev_end > resumed:
            yield Resume(prev_end)

    def _record(
        self,
        rec: AuditRecord,
        raw: RawRecord,
        start: int | None,
        pending: dict[tuple[str | None, str, str], _Pending],
        max_ms: int,
        ctx: ParseContext,
        keys: frozenset[str],
    ) -> Iterator[Event | Skipped]:
        if not self._host_known:
            self._host, self._host_known = default_host(ctx, raw.location), True
        if rec.ms > max_ms:
            limit = rec.ms - _TIMEOUT_MS
            for k in [k for k, p in pending.items() if p.first_ms <= limit]:
                yield from self._kernel(pending.pop(k), ctx, keys)
        typ = rec.type
        if typ in _KERNEL:
            p = pending.get(rec.key)
            if p is None:
                p = pending[rec.key] = _Pending(start, rec.ms)
            p.records.append((rec, raw))
            if typ == "PROCTITLE":
                yield from self._kernel(pending.pop(rec.key), ctx, keys)
        elif typ == "EOE":
            if rec.key in pending:
                yield from self._kernel(pending.pop(rec.key), ctx, keys)
        elif typ in _USER:
            yield self._user(rec, raw, ctx)
        else:
            yield Skipped(raw.location, f"record type {typ} is not audited")

    def _user(self, rec: AuditRecord, raw: RawRecord, ctx: ParseContext) -> Event:
        f, names, typ = rec.fields, rec.names, rec.type
        host = rec.node or self._host
        auid = plain(f, "auid")
        human = None if is_unset(auid) else names.get("AUID", auid)
        acct = text(f, "acct")
        ses = plain(f, "ses")
        session = None if is_unset(ses) else ses
        outcome = _OUTCOME.get(plain(f, "res") or "", "unknown")
        attrs: dict[str, Any] = {"type": typ}
        for name in ("op", "grantors", "exe", "terminal"):
            value = text(f, name)
            if value is not None:
                attrs[name] = value
        pid = plain(f, "pid")
        if pid is not None and pid.isdigit():
            attrs["pid"] = int(pid)
        account = acct
        if typ in ("USER_LOGIN", "USER_AUTH"):
            if outcome == "success":
                kind = "auth.logon" if typ == "USER_LOGIN" else AUTH_VERIFIED
            else:
                kind = "auth.logon_failed"
            ident = plain(f, "id")
            if account is None and not is_unset(ident):
                account = names.get("ID", ident)
            addr = plain(f, "addr")
            actor = ctx.actor("unix", account or human, src_ip=addr, session=session)
        elif typ == "USER_CMD":
            kind = "priv.denied" if outcome == "failure" else "priv.switch"
            uid = plain(f, "uid")
            who = human or names.get("UID", uid or "") or None
            actor = ctx.actor("unix", who, original_user=human, session=session)
            for name in ("cmd", "cwd"):
                value = text(f, name)
                if value is not None:
                    attrs["command" if name == "cmd" else name] = value
        else:
            kind = "session.start" if typ == "USER_START" else "session.end"
            actor = ctx.actor("unix", human or acct, original_user=human, session=session)
        target = ctx.target(host, account=account)
        return Event(
            kind=kind,
            time=utc(rec.stamp),
            time_text=rec.stamp,
            provenance=Provenance(
                self.name,
                ctx.source,
                raw.location,
                self.version,
                raw_sha256(raw.data),
                f"{host}:{rec.stamp}:{rec.serial}" if host else None,
            ),
            actor=actor,
            target=target,
            outcome=outcome,
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )

    def _kernel(
        self, p: _Pending, ctx: ParseContext, keys: frozenset[str]
    ) -> Iterator[Event | Skipped]:
        by_type: dict[str, AuditRecord] = {}
        execves: list[AuditRecord] = []
        for rec, _ in p.records:
            by_type.setdefault(rec.type, rec)
            if rec.type == "EXECVE":
                execves.append(rec)
        syscall = by_type.get("SYSCALL")
        if syscall is None or not execves:
            reason = SKIP_NOT_EXEC if not execves else SKIP_NO_SYSCALL
            for _, raw in p.records:
                yield Skipped(raw.location, reason)
            return
        f, names = syscall.fields, syscall.names
        key_text = text(f, "key")
        event_keys = sorted(k for k in (key_text or "").split("\x01") if k)
        auid, uid, euid = plain(f, "auid"), plain(f, "uid"), plain(f, "euid")
        auid_set = not is_unset(auid)
        if not (keys.intersection(event_keys) or (euid == "0" and auid_set and auid != uid)):
            for _, raw in p.records:
                yield Skipped(raw.location, SKIP_NOT_PRIVILEGED)
            return
        human = names.get("AUID", auid) if auid_set else None
        ses = plain(f, "ses")
        who = human or names.get("UID", uid or "") or None
        actor = ctx.actor("unix", who, original_user=human, session=None if is_unset(ses) else ses)
        host = syscall.node or self._host
        target = ctx.target(host, account=names.get("EUID", euid or "") or None)
        argv, origin = arguments(execves, by_type.get("PROCTITLE"))
        attrs: dict[str, Any] = {"argv": argv, "command": " ".join(argv), **origin}
        for name, value in (
            ("exe", text(f, "exe")),
            ("comm", text(f, "comm")),
            ("cwd", text(by_type["CWD"].fields, "cwd") if "CWD" in by_type else None),
            ("uid", uid),
            ("euid", euid),
            ("auid", auid if auid_set else None),
        ):
            if value is not None:
                attrs[name] = value
        if event_keys:
            attrs["key"] = event_keys if len(event_keys) > 1 else event_keys[0]
        pid = plain(f, "pid")
        if pid is not None and pid.isdigit():
            attrs["pid"] = int(pid)
        first = p.records[0][1]
        yield Event(
            kind="session.command",
            time=utc(syscall.stamp),
            time_text=syscall.stamp,
            provenance=Provenance(
                self.name,
                ctx.source,
                first.location,
                self.version,
                raw_sha256(b"\n".join(r.data for _, r in p.records)),
                f"{host}:{syscall.stamp}:{syscall.serial}" if host else None,
            ),
            actor=actor,
            target=target,
            outcome=_OUTCOME.get(plain(f, "success") or "", "unknown"),
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )


def default_host(ctx: ParseContext, location: str) -> str | None:
    """The host that wrote records without ``node=``: option ``host``, else the source unless it
    is only the input file's name (``location`` is ``file:line``) and names no inventory asset."""
    host = ctx.options.get("host")
    if host:
        return host
    name = location.rpartition(":")[0]
    if ctx.source and (ctx.source != name or ctx.inventory.asset(ctx.source) is not None):
        return ctx.source
    return None


def arguments(
    execves: list[AuditRecord], proctitle: AuditRecord | None
) -> tuple[list[str], dict[str, Any]]:
    """The exec's arguments, one string per argument, and what attrs say of where they came
    from: nothing (EXECVE), ``argv_source: proctitle`` or ``argv_incomplete: true``."""
    fields: dict[str, str] = {}
    for rec in execves:  # arguments continue in further EXECVE records of the same event
        fields.update(rec.fields)
    argc_text = plain(fields, "argc")
    argc = int(argc_text) if argc_text is not None and argc_text.isdigit() else -1
    args = [_argument(fields, i) for i in range(min(argc, _MAX_ARGS))]
    if argc >= 0 and all(a is not None for a in args):
        argv = [_text(a) for a in args if a is not None]
        return argv, {} if argc <= _MAX_ARGS else {"argv_incomplete": True}
    if proctitle is not None:
        title = proctitle.fields.get("proctitle")
        if title is not None and title not in ("(null)", "?"):
            parts = raw_bytes(title).split(b"\x00")
            if parts and parts[-1] == b"":
                parts.pop()
            return [_text(a) for a in parts], {"argv_source": "proctitle"}
    numbers = sorted({int(m.group(1)) for k in fields if (m := _ARG_NAME.fullmatch(k))})
    found = (_argument(fields, i) for i in numbers)
    return [_text(a) for a in found if a is not None], {"argv_incomplete": True}


def _argument(fields: dict[str, str], i: int) -> bytes | None:
    """Argument ``i`` as bytes: ``a<i>``, or its pieces ``a<i>[0]``, ``a<i>[1]``, ... ."""
    whole = fields.get(f"a{i}")
    if whole is not None:
        return raw_bytes(whole)
    pieces: list[str] = []
    while (piece := fields.get(f"a{i}[{len(pieces)}]")) is not None:
        pieces.append(piece)
    if not pieces:
        return None
    arg = b"".join(raw_bytes(p) for p in pieces)
    # a<i>_len is the length as logged: twice the bytes when hex. A piece lost with its
    # record makes the argument incomplete, never silently shorter.
    logged = plain(fields, f"a{i}_len")
    quoted = pieces[0][:1] == '"'
    if logged is not None and logged != str(len(arg) if quoted else 2 * len(arg)):
        return None
    return arg


def _text(arg: bytes) -> str:
    return arg.decode("utf-8", "replace")
