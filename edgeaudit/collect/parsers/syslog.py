"""Syslog auth text (``/var/log/auth.log``, ``/var/log/secure``): sshd, pam_unix and sudo.

Headers: RFC 3164 (local time without year or zone: ``ctx.timezone`` is required, the year is
``ctx.year`` or the current UTC year, and advances when the month goes back by more than six
months, e.g. December -> January; a line whose month jumps forward by more than six months is
a straggler from the previous year), rsyslog's RFC 3339 high-precision format and RFC 5424,
each optionally after ``<PRI>``. Bytes that are not UTF-8 are kept as ``\\xNN`` escapes.

Events (target = the line's host with the account acted on, scope from target and actor):

* sshd, sshd-session, sshd-auth: ``Accepted`` -> auth.logon; ``Failed`` -> auth.logon_failed;
  ``Invalid user`` and ``Connection closed by|Disconnected from authenticating|invalid user
  ... [preauth]`` -> auth.logon_failed; ``Disconnected from user`` -> auth.logoff; rsyslog's
  ``message repeated N times: [ ... ]`` -> the inner event with attrs ``repeated``. A
  certificate login resolves its principal by the certificate key id (``ssh_key_id``), any
  other by the unix user. The actor's session is the sshd process id (also attrs ``pid``).
* pam_unix (from sshd*, sudo, su, login): ``session opened`` -> session.start (actor = the
  ``by`` user when there is one, as original_user), ``session closed`` -> session.end,
  ``authentication failure`` -> auth.logon_failed.
* su: ``(to root) ravi on pts/0`` and ``pam_unix(su:session): session opened for user root by
  ravi(uid=1000)`` -> priv.switch by ravi (actor and original_user) to account root (one event
  when both lines of one switch are present: same host, pid and account; BSD ``ravi to root
  on /dev/pts/0`` too); ``FAILED SU (to root) ...``, BSD ``BAD SU ravi to root on ...`` and
  ``'su root' failed for ravi on ...`` -> priv.denied. Other pam_unix(su) lines are handled as
  for any program.
* sudo: ``user : TTY=... ; [CHROOT=... ;] PWD=... ; [CWD=... ;] USER=... ; [...] COMMAND=...``
  (attrs ``chroot``, ``cwd`` when present) -> priv.switch, or
  priv.denied when a reason (``user NOT in sudoers``, ``command not allowed``, ``3 incorrect
  password attempts``, ...) precedes ``TTY=``. ``#0nn`` escapes are decoded. sudo splits long
  commands into ``(command continued)`` lines; they are joined (with a space, as sudo splits at
  spaces) to the pending line of the same host and pid, which is emitted when another line of
  that host and pid arrives, after 16 further lines, or at the end of input. The event keeps
  the first line's location; its raw hash covers all joined lines. When the first line of a
  command was ambiguous (a ``PWD`` containing `` ; USER=``) the first match is used.

Skipped (counted with the reason, no event): blank lines, lines of other programs (cron,
systemd, kernel, ...) or with no program tag, sshd/sudo/su/login forms that carry no event
(``Partial``/``Postponed`` results, ``Received disconnect``, ``Server listening``, other
pam_unix messages, ...), and the second line of an su switch whose first line made the event.
``(command continued)`` lines are part of their sudo event (attrs ``continued_lines``).

Quarantined: lines that are not syslog at all, RFC 3164 lines when no timezone is configured,
impossible times (``Feb 30``, ``25:00:00``, offsets beyond 23:59), RFC 5424 records without a
timestamp, and ``(command continued)`` lines with no pending sudo line to join.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Actor, Event, Provenance, Quarantined, Target, raw_sha256
from edgeaudit.collect.parsers._syslog_formats import (
    MONTHS,
    RFC3164,
    rfc3164_utc,
    rfc3339_utc,
    split_header,
)
from edgeaudit.collect.parsers._syslog_messages import (
    CONTINUED,
    PAM_PROGRAMS,
    SSHD_PROGRAMS,
    SUDO,
    Finding,
    number,
    pam,
    sshd,
    su,
    su_session,
    sudo_fields,
    unescape,
)

NO_ZONE: Final = "RFC 3164 time without zone: configure a timezone"
SKIP_BLANK: Final = "blank line"
SKIP_NO_TAG: Final = "line without a program tag"
SKIP_PROGRAM: Final = "program not audited (only sshd, sudo, su and login lines are)"
SKIP_SSHD: Final = "sshd message that carries no event"
SKIP_SUDO: Final = "sudo message that carries no event"
SKIP_SU: Final = "su message that carries no event"
SKIP_SU_SECOND: Final = "second line of an su switch already recorded (same host, pid, account)"
MAX_GAP: Final = 16  # lines after which a sudo line's continuation can no longer follow


@dataclass(slots=True)
class _Pending:
    """A sudo command line waiting for its ``(command continued)`` lines."""

    time: str
    time_text: str
    host: str | None
    pid: str | None
    location: str
    raws: list[bytes]
    user: str
    reason: str | None
    runas: str
    attrs: dict[str, Any]
    command: list[str]
    deadline: int


_TARGETS_KEPT = 4096
"""(host, account) targets remembered: a log of many distinct accounts (failed logons for
invented user names) would otherwise grow memory with its length."""


class SyslogAuthParser:
    name: ClassVar[str] = "syslog"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True
    uses: ClassVar[frozenset[str]] = frozenset({"timezone", "year"})  # RFC 3164 times

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        return _Run(ctx).run(records)


class _Run:
    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.tz = ctx.timezone
        self.year = ctx.year or datetime.now(UTC).year
        self.last_month = 0
        self.pending: dict[tuple[str | None, str | None], _Pending] = {}
        self.targets: dict[tuple[str | None, str | None], Target] = {}
        self.su_seen: dict[tuple[str | None, str | None, str | None], None] = {}
        self.out: list[Output] = []

    def run(self, records: Iterable[RawRecord]) -> Iterator[Output]:
        pending, out = self.pending, self.out
        offset = None
        for index, rec in enumerate(records, 1):
            offset = rec.offset
            if pending:
                for key in [k for k, p in pending.items() if p.deadline < index]:
                    self._flush(pending.pop(key))
            self._record(rec, index)
            if out:
                yield from out
                out.clear()
            if not pending:
                yield Resume(offset)
        if pending:
            for p in pending.values():
                self._flush(p)
            pending.clear()
            yield from out
            out.clear()
            if offset is not None:
                yield Resume(offset)

    def _record(self, rec: RawRecord, index: int) -> None:
        data = rec.data
        if not data or data.isspace():
            self.out.append(Skipped(rec.location, SKIP_BLANK))
            return
        header = split_header(data.decode("utf-8", "backslashreplace"))
        if isinstance(header, str):
            self._quarantine(rec, header)
            return
        style, time_text, host, program, pid, msg = header
        year = self.year
        if style == RFC3164:
            if self.tz is None:
                self._quarantine(rec, NO_ZONE)
                return
            year = self._year(MONTHS[time_text[:3]])
        found: Finding | str | None
        if program in SSHD_PROGRAMS:
            found = sshd(msg, self.ctx, pid) or SKIP_SSHD
        elif program == "sudo":
            found = self._sudo(rec, msg, time_text, year, host, pid, index)
        elif program == "su":
            found = self._su(msg, host, pid)
        elif program in PAM_PROGRAMS:
            found = (pam(msg, self.ctx, None) if msg.startswith("pam_unix(") else None) or (
                f"{program} message that carries no event"
            )
        else:
            found = SKIP_PROGRAM if program else SKIP_NO_TAG
        if found is None:  # buffered, joined or quarantined by the program's handler
            return
        if isinstance(found, str):
            self.out.append(Skipped(rec.location, found))
            return
        time = self._time(time_text, year)
        if time is None:
            self._quarantine(rec, f"invalid time {time_text!r}")
            return
        kind, outcome, actor, account, attrs = found
        attrs["program"], attrs["pid"] = program, pid
        self._event(kind, outcome, time, time_text, actor, host, account, attrs, rec.location, data)

    def _year(self, month: int) -> int:
        """The year of an RFC 3164 line in ``month``, rolling over at December -> January."""
        last = self.last_month
        if last and month < last - 6:
            self.year += 1
        elif last and month > last + 6:
            return self.year - 1  # a straggler from before the rollover
        self.last_month = month
        return self.year

    def _time(self, time_text: str, year: int) -> str | None:
        if time_text[:1].isdigit():
            return rfc3339_utc(time_text)
        return rfc3164_utc(time_text, year, self.tz) if self.tz is not None else None

    def _sudo(
        self,
        rec: RawRecord,
        msg: str,
        time_text: str,
        year: int,
        host: str | None,
        pid: str | None,
        index: int,
    ) -> Finding | str | None:
        """Join continuation lines; buffer command lines; return a pam_unix finding, or why
        the line carries no event (None: buffered, joined or quarantined here)."""
        key = (host, pid)
        waiting = self.pending.pop(key, None)
        if "(command continued)" in msg and (c := CONTINUED.fullmatch(msg)) is not None:
            if waiting is None:
                why = f"sudo continuation line without a pending sudo line (host {host}, pid {pid})"
                self._quarantine(rec, why)
                return None
            waiting.command.append(c.group(1))
            waiting.raws.append(rec.data)
            waiting.deadline = index + MAX_GAP
            self.pending[key] = waiting
            return None
        if waiting is not None:
            self._flush(waiting)
        if msg.startswith("pam_unix("):
            return pam(msg, self.ctx, None) or SKIP_SUDO
        m = SUDO.fullmatch(msg)
        if m is None:
            return SKIP_SUDO
        time = self._time(time_text, year)
        if time is None:
            self._quarantine(rec, f"invalid time {time_text!r}")
            return None
        user, reason, runas, attrs = sudo_fields(m)
        self.pending[key] = _Pending(
            time, time_text, host, pid, rec.location, [rec.data], user, reason, runas, attrs,
            [m.group("command")], index + MAX_GAP,
        )  # fmt: skip
        return None

    def _su(self, msg: str, host: str | None, pid: str | None) -> Finding | str:
        """su writes one switch as up to two lines (Debian: ``(to root) ravi on pts/0`` and
        ``pam_unix(su:session): session opened ...``; RHEL only the second): the first of
        them for a (host, pid, target account) is the priv.switch event, a second is not."""
        if msg.startswith("pam_unix("):
            found = pam(msg, self.ctx, None)
            found = su_session(found) if found is not None else None
        else:
            found = su(msg, self.ctx, None)
        if found is None:
            return SKIP_SU
        if found[0] != "priv.switch":
            return found
        key = (host, pid, found[3])
        if key in self.su_seen:
            del self.su_seen[key]
            return SKIP_SU_SECOND
        if len(self.su_seen) >= 1024:
            del self.su_seen[next(iter(self.su_seen))]
        self.su_seen[key] = None
        return found

    def _flush(self, p: _Pending) -> None:
        attrs = p.attrs
        attrs["command"] = unescape(" ".join(p.command))
        attrs["program"], attrs["pid"] = "sudo", p.pid
        if len(p.raws) > 1:
            attrs["continued_lines"] = len(p.raws) - 1
        actor = self.ctx.actor("unix", p.user)
        kind, outcome = ("priv.denied", "failure") if p.reason else ("priv.switch", "success")
        raw = b"\n".join(p.raws)
        self._event(
            kind, outcome, p.time, p.time_text, actor, p.host, p.runas, attrs, p.location, raw
        )

    def _event(
        self,
        kind: str,
        outcome: str,
        time: str,
        time_text: str,
        actor: Actor,
        host: str | None,
        account: str | None,
        attrs: dict[str, Any],
        location: str,
        raw: bytes,
    ) -> None:
        target = self.targets.get((host, account))
        if target is None:
            if len(self.targets) >= _TARGETS_KEPT:  # e.g. a spray of invented user names
                self.targets.clear()
            target = self.targets[(host, account)] = self.ctx.target(host, account)
        pid = attrs["pid"]
        if pid is not None:
            attrs["pid"] = number(pid) or pid
        provenance = Provenance("syslog", self.ctx.source, location, "1", raw_sha256(raw))
        self.out.append(
            Event(
                kind=kind,
                time=time,
                time_text=time_text,
                provenance=provenance,
                actor=actor,
                target=target,
                outcome=outcome,
                scope=self.ctx.scope(target=target, actor=actor),
                attrs=tuple(sorted((k, v) for k, v in attrs.items() if v is not None)),
            )
        )

    def _quarantine(self, rec: RawRecord, reason: str) -> None:
        self.out.append(Quarantined("syslog", self.ctx.source, rec.location, reason, rec.data))
