"""The MESSAGE grammar the journald parser needs: the few sshd, sudo and pam_unix forms that
become auth events (the message part of the syslog auth text forms; see
:mod:`edgeaudit.collect.parsers.syslog`).

Kept private and small on purpose: the syslog parser owns the full grammar. A message that
matches none of these forms returns None (the caller skips it: sshd and sudo write many lines
that are not auth events, e.g. "Server listening", "Received disconnect", sudo continuation
lines).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

_SSHD_RESULT = re.compile(
    r"(Accepted|Failed) (\S+) for (invalid user )?(.+) from (\S+) port (\d+)(?: ssh2)?(?:: (.*))?$"
)
_SSHD_CERT = re.compile(r"(\S+) (\S+) ID (.*) \(serial (\d+)\) CA (\S+) (\S+)$")
_SSHD_KEY = re.compile(r"(\S+) (\S+)$")
_SSHD_DISCONNECTED = re.compile(r"Disconnected from user (.+?) (\S+) port (\d+)$")
_PAM_SESSION = re.compile(
    r"pam_unix\(([^:()]+):(\w+)\): session (opened|closed) for user (.+?)(?:\(uid=(\d+)\))?"
    r"(?: by (.*?)(?:\(uid=(\d+)\))?)?$"
)
_SUDO_HEAD = re.compile(r"\s*(\S+) : (.*)$", re.DOTALL)
_SUDO_FIELD = re.compile(r"([A-Z]+)=(.*)$", re.DOTALL)


class Message(NamedTuple):
    """What an auth message says. ``identity_kind``/``identity`` name the actor as the source
    does (unix user or ssh certificate key id); ``account`` is the account on the target."""

    kind: str
    outcome: str
    identity_kind: str
    identity: str
    account: str | None
    src_ip: str | None = None
    credential: str | None = None
    original_user: str | None = None
    attrs: tuple[tuple[str, Any], ...] = ()


def parse_message(family: str, msg: str) -> Message | None:
    """Parse an sshd-family or sudo MESSAGE; None when it is not an auth event."""
    if msg.startswith("pam_unix("):
        return _pam(msg)
    if family == "sshd":
        if msg.startswith(("Accepted ", "Failed ")):
            return _sshd_result(msg)
        if msg.startswith("Disconnected from user "):
            m = _SSHD_DISCONNECTED.match(msg)
            if m:
                user, ip, port = m.groups()
                return Message(
                    "auth.logoff", "success", "unix", user, user, ip, attrs=(("port", int(port)),)
                )
        return None
    if family == "sudo":
        return _sudo(msg)
    return None


def _sshd_result(msg: str) -> Message | None:
    m = _SSHD_RESULT.match(msg)
    if m is None:
        return None
    result, method, invalid, user, ip, port, extra = m.groups()
    kind, outcome = (
        ("auth.logon", "success") if result == "Accepted" else ("auth.logon_failed", "failure")
    )
    attrs: dict[str, Any] = {"method": method, "port": int(port)}
    if invalid:
        attrs["invalid_user"] = True
    ident_kind, ident, credential = "unix", user, None
    if extra:
        cert = _SSHD_CERT.match(extra)
        if cert:
            key_type, fp, key_id, serial, _ca_type, ca_fp = cert.groups()
            ident_kind, ident, credential = "ssh_key_id", key_id, fp
            attrs.update(key_type=key_type, cert_serial=int(serial), ca_fingerprint=ca_fp)
        else:
            key = _SSHD_KEY.match(extra)
            if key:
                attrs["key_type"], credential = key.groups()
    return Message(
        kind, outcome, ident_kind, ident, user, ip, credential, attrs=tuple(sorted(attrs.items()))
    )


def _pam(msg: str) -> Message | None:
    m = _PAM_SESSION.match(msg)
    if m is None:
        return None  # authentication failure etc.: the program's own line carries the event
    service, _type, what, user, uid, by, by_uid = m.groups()
    attrs: dict[str, Any] = {"pam_service": service}
    if uid is not None:
        attrs["uid"] = int(uid)
    if what == "closed":
        return Message(
            "session.end", "success", "unix", user, user, attrs=tuple(sorted(attrs.items()))
        )
    if by_uid is not None:
        attrs["by_uid"] = int(by_uid)
    # "for user root by ravi": ravi (the human) acts on the root account; sshd writes "by (uid=0)"
    human = by if by and by != user else user
    original = by if by and by != user else None
    return Message(
        "session.start",
        "success",
        "unix",
        human,
        user,
        original_user=original,
        attrs=tuple(sorted(attrs.items())),
    )


def _sudo(msg: str) -> Message | None:
    head = _SUDO_HEAD.match(msg)
    if head is None:
        return None
    user, rest = head.groups()
    if rest.startswith("COMMAND="):
        left, command = "", rest[8:]
    else:
        idx = rest.find(" ; COMMAND=")
        if idx < 0:
            return None
        left, command = rest[:idx], rest[idx + 11 :]
    fields: dict[str, str] = {}
    reasons: list[str] = []
    for part in left.split(" ; ") if left else ():
        f = _SUDO_FIELD.match(part)
        if f:
            fields[f.group(1)] = f.group(2)
        else:
            reasons.append(part)
    attrs: dict[str, Any] = {"command": command}
    for name in ("TTY", "PWD", "GROUP", "TSID"):
        if name in fields:
            attrs[name.lower()] = fields[name]
    runas = fields.get("USER")
    if reasons:
        attrs["reason"] = " ; ".join(reasons)
        return Message(
            "priv.denied",
            "failure",
            "unix",
            user,
            runas,
            original_user=user,
            attrs=tuple(sorted(attrs.items())),
        )
    return Message(
        "priv.switch",
        "success",
        "unix",
        user,
        runas,
        original_user=user,
        attrs=tuple(sorted(attrs.items())),
    )
