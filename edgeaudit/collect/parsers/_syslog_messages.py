"""Message forms of sshd, pam_unix and sudo for :mod:`edgeaudit.collect.parsers.syslog`.

Each function takes the message text of a line whose program is known and returns a
:data:`Finding` (kind, outcome, actor, target account, attrs), or None for a form that is
well-formed but carries no event (``Partial``/``Postponed`` results, ``Received disconnect``,
``Server listening``, ...). User names in sshd messages are client-controlled and may contain
spaces or text such as `` from 1.2.3.4 port 22``: the patterns anchor on the end of the line,
so the last ``from <ip> port <n>`` is the one sshd wrote.
"""

from __future__ import annotations

import re
from typing import Any, Final

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Actor

Finding = tuple[str, str, Actor, str | None, dict[str, Any]]

_CERT: Final = re.compile(
    r"(\S+) (\S+) ID (.*) \(serial (\d+)\) CA (\S+) (\S+)", re.ASCII | re.DOTALL
)
_KEY: Final = re.compile(r"(\S+) (\S+)", re.ASCII)
_INVALID: Final = re.compile(
    r"Invalid user (.*) from (\S+)(?: port (\d+))?(?: \[preauth\])?", re.ASCII | re.DOTALL
)
_PREAUTH: Final = re.compile(
    r"(?:Connection closed by|Disconnected from) (authenticating|invalid) user (.*) (\S+) "
    r"port (\d+)(?: \[preauth\])?",
    re.ASCII | re.DOTALL,
)
_LOGOFF: Final = re.compile(r"Disconnected from user (.*) (\S+) port (\d+)", re.ASCII | re.DOTALL)
_REPEATED: Final = re.compile(r"message repeated (\d+) times: \[ ?(.*)\]", re.ASCII | re.DOTALL)

_PAM: Final = re.compile(r"pam_unix\(([^:()]*):([^()]*)\): (.*)", re.DOTALL)
_OPENED: Final = re.compile(
    r"session opened for user (\S+?)(?:\(uid=(\d+)\))? by (\S*?)(?:\(uid=(\d+)\))?", re.ASCII
)
_CLOSED: Final = re.compile(r"session closed for user (\S+)", re.ASCII)
_KV: Final = re.compile(r"(\w+)=(\S*)", re.ASCII)

# sudo 1.9 writes CHROOT= (sudo -R) before PWD= and CWD= (sudo -D) after it.
SUDO: Final = re.compile(
    r" *(?P<user>\S+) : (?:(?P<reason>.*?) ; )?TTY=(?P<tty>.*?) ; "
    r"(?:CHROOT=(?P<chroot>.*?) ; )?PWD=(?P<pwd>.*?) ; (?:CWD=(?P<cwd>.*?) ; )?"
    r"USER=(?P<runas>.*?) ; (?P<middle>.*?)COMMAND=(?P<command>.*)",
    re.DOTALL,
)
# su (util-linux, shadow): "(to root) ravi on pts/0", "FAILED SU (to root) ravi on pts/0",
# older "+ pts/0 ravi:root" / "- pts/0 ravi:root".
SU_TO: Final = re.compile(r"(FAILED SU )?\(to (\S+)\) (\S+) on (\S+)", re.ASCII)
SU_OLD: Final = re.compile(r"([+-]) (\S+) (\S+):(\S+)", re.ASCII)
# BSD su: "BAD SU ravi to root on /dev/pts/0", "ravi to root on /dev/pts/0"; and the form of
# the RFC 3164 / RFC 5424 examples: "'su root' failed for lonvick on /dev/pts/8".
SU_BSD: Final = re.compile(r"(BAD SU )?(\S+) to (\S+) on (\S+)", re.ASCII)
SU_QUOTED: Final = re.compile(r"'su (\S+)' failed for (\S+) on (\S+)", re.ASCII)
CONTINUED: Final = re.compile(r" *(?:\S+ : )?\(command continued\) ?(.*)", re.DOTALL)
_ESCAPE: Final = re.compile(r"#(0[0-3][0-7]|177)", re.ASCII)

SSHD_PROGRAMS: Final = frozenset({"sshd", "sshd-session", "sshd-auth"})
# Programs whose pam_unix lines are logins or privilege changes; cron, systemd --user and the
# like also log pam_unix sessions, and those are skipped with the rest of their lines.
PAM_PROGRAMS: Final = SSHD_PROGRAMS | {"sudo", "su", "login"}


def number(text: str | None) -> int | str | None:
    """Decimal digits as an int; beyond 15 digits (not exact in JSON numbers, and a u64
    certificate serial can be that long) the digits are kept as a string."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 15 else text


def sshd(msg: str, ctx: ParseContext, session: str | None) -> Finding | None:
    """An sshd / sshd-session / sshd-auth message."""
    first = msg[:1]
    if first == "A" or first == "F":
        parts = split_result(msg)
        return None if parts is None else _result(parts, ctx, session)
    if first == "I":
        m = _INVALID.fullmatch(msg)
        if m is None:
            return None
        user, ip, port = m.groups()
        actor = ctx.actor("unix", user, src_ip=ip, session=session)
        attrs = {"invalid_user": True, "reason": "invalid user", "src_port": number(port)}
        return ("auth.logon_failed", "failure", actor, user, attrs)
    if first == "C" or first == "D":
        m = _PREAUTH.fullmatch(msg)
        if m is not None:
            how, user, ip, port = m.groups()
            actor = ctx.actor("unix", user, src_ip=ip, session=session)
            closed = "close" if msg[0] == "C" else "disconnect"
            attrs = {"reason": f"preauth {closed}", "src_port": number(port)}
            if how == "invalid":
                attrs["invalid_user"] = True
            return ("auth.logon_failed", "failure", actor, user, attrs)
        m = _LOGOFF.fullmatch(msg)
        if m is None:
            return None
        user, ip, port = m.groups()
        actor = ctx.actor("unix", user, src_ip=ip, session=session)
        return ("auth.logoff", "success", actor, user, {"src_port": number(port)})
    if first == "p":
        return pam(msg, ctx, session)
    if first == "m":
        m = _REPEATED.fullmatch(msg)
        if m is None or m.group(2).startswith("message repeated"):
            return None
        found = sshd(m.group(2), ctx, session)
        if found is not None:
            found[4]["repeated"] = number(m.group(1))
        return found
    return None


def split_result(msg: str) -> tuple[str, str, bool, str, str, str, str | None] | None:
    """``<Accepted|Failed> <method> for [invalid user ]<user> from <ip> port <n> ssh2[: <x>]``
    as (result, method, invalid, user, ip, port, extra), taking the last ``from ... ssh2`` that
    fits (what a greedy pattern would; string searches are four times faster here)."""
    head, sep, rest = msg.partition(" for ")
    result, _, method = head.partition(" ")
    if not sep or result not in ("Accepted", "Failed") or not method or " " in method:
        return None
    end = len(rest)
    while (i := rest.rfind(" ssh2", 0, end)) >= 0:
        end = i
        tail = rest[i + 5 :]
        if tail and tail != " [preauth]" and not tail.startswith(": "):
            continue
        p = rest.rfind(" port ", 0, i)
        f = rest.rfind(" from ", 0, p) if p >= 0 else -1
        port, ip = rest[p + 6 : i], rest[f + 6 : p]
        if f < 0 or not (port.isascii() and port.isdigit()) or not ip or " " in ip:
            continue
        extra = tail[2:] if tail.startswith(": ") else None
        if extra is not None and extra.endswith(" [preauth]"):
            extra = extra[:-10]
        user = rest[:f]
        invalid = user.startswith("invalid user ")
        return result, method, invalid, user[13:] if invalid else user, ip, port, extra
    return None


def _result(
    parts: tuple[str, str, bool, str, str, str, str | None],
    ctx: ParseContext,
    session: str | None,
) -> Finding:
    result, method, invalid, user, ip, port, extra = parts
    attrs: dict[str, Any] = {"method": method, "src_port": number(port)}
    if invalid:
        attrs["invalid_user"] = True
    credential = None
    key_id = None
    if extra:
        c = _CERT.fullmatch(extra) if " ID " in extra else None
        if c is not None:
            key_type, fp, key_id, serial, ca_type, ca_fp = c.groups()
            attrs.update(cert_id=key_id, cert_serial=number(serial), ca_type=ca_type, ca_fp=ca_fp)
            attrs.update(key_type=key_type, key_fp=fp)
            credential = key_id
        elif (k := _KEY.fullmatch(extra)) is not None:
            attrs.update(key_type=k.group(1), key_fp=k.group(2))
            credential = k.group(2)
        else:
            attrs["extra"] = extra
    if key_id is not None:
        actor = ctx.actor("ssh_key_id", key_id, src_ip=ip, session=session, credential=credential)
    else:
        actor = ctx.actor("unix", user, src_ip=ip, session=session, credential=credential)
    if result == "Accepted":
        return ("auth.logon", "success", actor, user, attrs)
    attrs["reason"] = f"failed {method}"
    return ("auth.logon_failed", "failure", actor, user, attrs)


def pam(msg: str, ctx: ParseContext, session: str | None) -> Finding | None:
    """A ``pam_unix(<service>:<type>): ...`` message."""
    m = _PAM.fullmatch(msg)
    if m is None:
        return None
    service, _, text = m.groups()
    attrs: dict[str, Any] = {"service": service}
    if text.startswith("session opened"):
        o = _OPENED.fullmatch(text)
        if o is None:
            return None
        user, uid, by, by_uid = o.groups()
        if by == "LOGIN":  # login(1) on a terminal names itself: the user logged on
            by = ""
        attrs.update(uid=number(uid), by_uid=number(by_uid))
        actor = ctx.actor("unix", by or user, original_user=by or None, session=session)
        return ("session.start", "success", actor, user, attrs)
    if text.startswith("session closed"):
        c = _CLOSED.fullmatch(text)
        if c is None:
            return None
        actor = ctx.actor("unix", c.group(1), session=session)
        return ("session.end", "success", actor, c.group(1), attrs)
    if text.startswith("authentication failure; "):
        kv = dict(_KV.findall(text, 24))
        user = kv.get("user") or kv.get("ruser") or kv.get("logname") or None
        actor = ctx.actor("unix", user, src_ip=kv.get("rhost") or None, session=session)
        attrs.update(reason="authentication failure", tty=kv.get("tty") or None)
        attrs["uid"] = number(kv.get("uid"))
        if kv.get("ruser") and kv.get("ruser") != user:
            attrs["ruser"] = kv["ruser"]
        return ("auth.logon_failed", "failure", actor, kv.get("user") or None, attrs)
    return None


def unescape(text: str) -> str:
    """Decode the ``#0nn`` octal escapes sudo and rsyslog write for control characters."""
    if "#" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def sudo_fields(m: re.Match[str]) -> tuple[str, str | None, str, dict[str, Any]]:
    """(invoking user, denial reason, run-as user, attrs) of a :data:`SUDO` match."""
    user, reason, tty, pwd, runas, middle = m.group(
        "user", "reason", "tty", "pwd", "runas", "middle"
    )
    attrs: dict[str, Any] = {"tty": tty, "pwd": unescape(pwd)}
    for name in ("chroot", "cwd"):
        if (value := m.group(name)) is not None:
            attrs[name] = unescape(value)
    for part in middle.split(" ; "):
        name, eq, value = part.partition("=")
        if eq and name.isupper() and name.isalpha():
            attrs[name.lower()] = unescape(value)
    if reason:
        attrs["reason"] = reason
    return user, reason, runas, attrs


def su(msg: str, ctx: ParseContext, session: str | None) -> Finding | None:
    """A su(1) line: ``(to root) ravi on pts/0`` (BSD: ``ravi to root on /dev/pts/0``) ->
    priv.switch by ravi to root (original user ravi); ``FAILED SU (to root) ravi on pts/0``
    (the old ``- pts/0 ravi:root``, BSD ``BAD SU ravi to root on ...``, and ``'su root' failed
    for ravi on ...``) -> priv.denied."""
    m = SU_TO.fullmatch(msg)
    if m is not None:
        failed, to, user, tty = m.groups()
        ok = failed is None
    elif (o := SU_OLD.fullmatch(msg)) is not None:
        sign, tty, user, to = o.groups()
        ok = sign == "+"
    elif (b := SU_BSD.fullmatch(msg)) is not None:
        bad, user, to, tty = b.groups()
        ok = bad is None
    elif (q := SU_QUOTED.fullmatch(msg)) is not None:
        to, user, tty = q.groups()
        ok = False
    else:
        return None
    actor = ctx.actor("unix", user, original_user=user, session=session)
    attrs: dict[str, Any] = {"tty": tty}
    if ok:
        return ("priv.switch", "success", actor, to, attrs)
    attrs["reason"] = "su authentication failed"
    return ("priv.denied", "failure", actor, to, attrs)


def su_session(found: Finding) -> Finding:
    """pam_unix(su:session) ``session opened for user root by ravi(uid=1000)`` is the switch
    itself: priv.switch by ravi (original user) to root."""
    kind, outcome, actor, account, attrs = found
    return ("priv.switch", outcome, actor, account, attrs) if kind == "session.start" else found
