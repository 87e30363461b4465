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

* USER_LOGIN: auth.logon (res=success) / auth.logon_failed (res=failed); USER_AUTH only when it
  failed (a successful one is the PAM step of a login or sudo, recorded by those); the actor
  is the account (``acct``, else ``id``), with ``addr`` as source address;
* USER_START, USER_END: session.start / session.end on account ``acct``;
* USER_CMD (sudo; ``cmd`` is hex): priv.switch, or priv.denied when res=failed, with the
  ``auid`` as actor and original_user;
* SYSCALL+EXECVE events whose ``key`` is a privilege key (``priv_esc``, ``privileged``, or the
  comma list in option ``auditd_keys``), or with euid=0 and a set auid different from uid:
  session.command with the command line from EXECVE (else PROCTITLE).

Identities: ``auid=4294967295`` (or -1) is unset. ENRICHED names (``AUID="ravi"``) are looked
up as unix identities; RAW logs give only numbers, kept as the unresolved user "1000". The host
is ``node=`` or else the source. native_id is ``node:epoch.ms:serial``.

Skipped: blank lines; record types not listed above (CRED_*, LOGIN, SERVICE_*, AVC, ...); EOE
with nothing buffered; kernel events without SYSCALL and EXECVE (other syscalls, or records
whose SYSCALL was lost) and exec events that are not privileged. Quarantined: lines that are
not UTF-8 or not an auditd record (no ``type=``/``msg=audit(...)`` header), audit times out of
range, and unterminated inner ``msg='...'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._auditd_records import (
    AuditRecord,
    BadRecord,
    is_unset,
    parse_record,
    plain,
    text,
    utc,
)

_KERNEL = frozenset({"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"})
_USER = frozenset({"USER_LOGIN", "USER_AUTH", "USER_START", "USER_END", "USER_CMD"})
_TIMEOUT_MS = 2000
_DEFAULT_KEYS = "priv_esc,privileged"
_OUTCOME = {"success": "success", "failed": "failure", "yes": "success", "no": "failure"}


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

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        keys = frozenset(
            k.strip() for k in ctx.options.get("auditd_keys", _DEFAULT_KEYS).split(",") if k
        )
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
    ) -> Iterator[Event]:
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
        elif typ == "USER_AUTH" and _OUTCOME.get(plain(rec.fields, "res") or "") == "success":
            pass  # the PAM authentication step of a login or sudo: USER_LOGIN/USER_CMD record it
        elif typ in _USER:
            yield self._user(rec, raw, ctx)

    def _user(self, rec: AuditRecord, raw: RawRecord, ctx: ParseContext) -> Event:
        f, names, typ = rec.fields, rec.names, rec.type
        host = rec.node or ctx.source
        auid = plain(f, "auid")
        human = None if is_unset(auid) else names.get("AUID", auid)
        acct = text(f, "acct")
        ses = plain(f, "ses")
        session = None if is_unset(ses) else ses
        outcome = _OUTCOME.get(plain(f, "res") or "", "unknown")
        attrs: dict[str, Any] = {"type": typ}
        for name in ("op", "exe", "terminal"):
            value = text(f, name)
            if value is not None:
                attrs[name] = value
        pid = plain(f, "pid")
        if pid is not None and pid.isdigit():
            attrs["pid"] = int(pid)
        account = acct
        if typ in ("USER_LOGIN", "USER_AUTH"):
            kind = "auth.logon" if outcome == "success" else "auth.logon_failed"
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
                f"{host}:{rec.stamp}:{rec.serial}",
            ),
            actor=actor,
            target=target,
            outcome=outcome,
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )

    def _kernel(self, p: _Pending, ctx: ParseContext, keys: frozenset[str]) -> Iterator[Event]:
        by_type: dict[str, AuditRecord] = {}
        for rec, _ in p.records:
            by_type.setdefault(rec.type, rec)
        syscall, execve = by_type.get("SYSCALL"), by_type.get("EXECVE")
        if syscall is None or execve is None:
            return
        f, names = syscall.fields, syscall.names
        key_text = text(f, "key")
        event_keys = sorted(k for k in (key_text or "").split("\x01") if k)
        auid, uid, euid = plain(f, "auid"), plain(f, "uid"), plain(f, "euid")
        auid_set = not is_unset(auid)
        if not (keys.intersection(event_keys) or (euid == "0" and auid_set and auid != uid)):
            return
        human = names.get("AUID", auid) if auid_set else None
        ses = plain(f, "ses")
        who = human or names.get("UID", uid or "") or None
        actor = ctx.actor("unix", who, original_user=human, session=None if is_unset(ses) else ses)
        host = syscall.node or ctx.source
        target = ctx.target(host, account=names.get("EUID", euid or "") or None)
        attrs: dict[str, Any] = {"command": _command(execve, by_type.get("PROCTITLE"))}
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
                f"{host}:{syscall.stamp}:{syscall.serial}",
            ),
            actor=actor,
            target=target,
            outcome=_OUTCOME.get(plain(f, "success") or "", "unknown"),
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )


def _command(execve: AuditRecord, proctitle: AuditRecord | None) -> str:
    f = execve.fields
    argc = plain(f, "argc")
    if argc is not None and argc.isdigit():
        args = [text(f, f"a{i}") for i in range(min(int(argc), 4096))]
        if all(a is not None for a in args):
            return " ".join(a for a in args if a is not None)
    if proctitle is not None:
        title = text(proctitle.fields, "proctitle")
        if title is not None:
            return title.replace("\x00", " ")
    return " ".join(v for k, v in sorted(f.items()) if k[:1] == "a" and k[1:].isdigit())
