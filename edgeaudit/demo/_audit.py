"""Host logs, continued: auditd (ENRICHED format) and the sudo JSON event log."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import orjson

from edgeaudit.demo._common import Clock, Sink, Timed, iso, uuid

# --- auditd (ENRICHED) -----------------------------------------------------------------------


class _Audit:
    def __init__(self, sink: Sink, host: str) -> None:
        self.sink, self.host, self.serial = sink, host, 7000

    def rec(
        self,
        t: float,
        typ: str,
        body: str,
        enriched: str = "",
        events: int = 0,
        serial: int | None = None,
    ) -> None:
        if serial is None:
            self.serial += 1
            serial = self.serial
        sep = "\x1d" + enriched if enriched else ""
        self.sink.line(
            f"node={self.host} type={typ} msg=audit({t:.3f}:{serial}): {body}{sep}", events
        )

    def user(
        self, t: float, typ: str, pid: int, uid: int, auid: int, ses: int, msg: str, names: str
    ) -> int:
        """A user-space record; returns the events it produces."""
        # every user-space record of these types is one event (a successful USER_AUTH is an
        # auth.verified, a failed one an auth.logon_failed)
        events = (
            0 if typ not in ("USER_LOGIN", "USER_AUTH", "USER_START", "USER_END", "USER_CMD") else 1
        )
        self.rec(
            t,
            typ,
            f"pid={pid} uid={uid} auid={auid} ses={ses} subj=unconfined msg='{msg}'",
            names,
            events,
        )
        return events


def write_auditd(sink: Sink, host: str, stream: Iterator[Timed], bad: int) -> None:
    au = _Audit(sink, host)
    bad_at = {5 + 113 * k for k in range(bad)}
    sessions: dict[int, int] = {}  # sshd pid -> audit session id of the login
    next_ses = itertools.count(101)  # the kernel numbers login sessions upwards, never reusing
    unset = 4294967295
    for n, (t, _, a) in enumerate(stream):
        name = a[0]
        if name in ("cert_login", "key_login", "password_login"):
            login = a[1]
            ip, pid = (a[5], a[7]) if name == "cert_login" else (a[2], a[4])
            uid = {"ravi": 1001, "meera": 1002, "arjun": 1003, "lena": 1101}.get(login, 999)
            ses = sessions[pid] = next(next_ses)
            names = f'UID="root" AUID="{login}" ID="{login}"'
            tail = f'exe="/usr/sbin/sshd" hostname={ip} addr={ip} terminal=ssh res=success'
            au.user(
                t,
                "USER_AUTH",
                pid,
                0,
                unset,
                unset,
                f'op=PAM:authentication grantors=pam_permit acct="{login}" {tail}',
                'UID="root" AUID="unset"',
            )
            au.user(
                t,
                "CRED_ACQ",
                pid,
                0,
                unset,
                unset,
                f'op=PAM:setcred acct="{login}" {tail}',
                'UID="root" AUID="unset"',
            )
            au.user(t + 0.01, "LOGIN", pid, 0, uid, ses, "old-auid=4294967295 res=1", "")
            au.user(t + 0.02, "USER_LOGIN", pid, 0, uid, ses, f"op=login id={uid} {tail}", names)
        elif name == "session_open":
            _, login, uid, pid = a
            au.user(
                t,
                "USER_START",
                pid,
                0,
                uid,
                sessions.get(pid, 1),
                "op=PAM:session_open "
                f'grantors=pam_unix acct="{login}" exe="/usr/sbin/sshd" hostname=? addr=? '
                "terminal=ssh res=success",
                f'UID="root" AUID="{login}"',
            )
        elif name == "sudo":
            _, login, uid, command, pid, login_pid = a
            # sudo inherits the audit session of the login it runs in
            ses, names = sessions.get(login_pid, 100), f'UID="{login}" AUID="{login}"'
            cmd_hex = command.encode().hex().upper()
            au.user(
                t,
                "USER_CMD",
                pid,
                uid,
                uid,
                ses,
                f'cwd="/home/{login}" cmd={cmd_hex} exe="/usr/bin/sudo" terminal=pts/0 res=success',
                names,
            )
            start = 'op=PAM:session_open grantors=pam_limits,pam_unix acct="root" '
            tail = 'exe="/usr/bin/sudo" hostname=? addr=? terminal=/dev/pts/0 res=success'
            au.user(t + 0.01, "USER_START", pid, uid, uid, ses, start + tail, names)
            argv = command.split()
            au.serial += 1
            s, te = au.serial, t + 0.02
            args = " ".join(f'a{i}="{x}"' for i, x in enumerate(argv))
            au.rec(
                te,
                "SYSCALL",
                f"arch=c000003e syscall=59 success=yes exit=0 items=2 ppid={pid} "
                f"pid={pid + 1} auid={uid} uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 tty=pts0 "
                f'ses={ses} comm="{argv[0].rsplit("/", 1)[-1][:15]}" exe="{argv[0]}" '
                'key="priv_esc"',
                f'AUID="{login}" UID="root" EUID="root"',
                serial=s,
            )
            au.rec(te, "EXECVE", f"argc={len(argv)} {args}", serial=s)
            au.rec(te, "CWD", f'cwd="/home/{login}"', serial=s)
            au.rec(te, "PATH", f'item=0 name="{argv[0]}" inode=1442 nametype=NORMAL', serial=s)
            au.rec(
                te, "PROCTITLE", "proctitle=" + command.encode().hex().upper(), serial=s, events=1
            )
            end = start.replace("session_open", "session_close")
            au.user(t + 0.9, "USER_END", pid, uid, uid, ses, end + tail, names)
        elif name == "logout":
            _, login, ip, _port, pid = a
            au.user(
                t,
                "USER_END",
                pid,
                0,
                0,
                sessions.pop(pid, 1),
                "op=PAM:session_close "
                f'grantors=pam_unix acct="{login}" exe="/usr/sbin/sshd" hostname={ip} '
                f"addr={ip} terminal=ssh res=success",
                f'UID="root" AUID="{login}"',
            )
        elif name in ("invalid_user", "failed_password"):
            _, user, ip, _port, pid = a
            tail = f'exe="/usr/sbin/sshd" hostname={ip} addr={ip} terminal=ssh res=failed'
            au.user(
                t,
                "USER_AUTH",
                pid,
                0,
                unset,
                unset,
                f'op=PAM:authentication grantors=? acct="{user}" {tail}',
                'UID="root" AUID="unset"',
            )
            if name == "invalid_user":
                au.user(
                    t + 0.5,
                    "USER_LOGIN",
                    pid,
                    0,
                    unset,
                    unset,
                    f'op=login acct="{user}" {tail}',
                    'UID="root" AUID="unset"',
                )
        elif name == "noise":
            au.serial += 1
            s = au.serial
            au.rec(
                t,
                "SYSCALL",
                f"arch=c000003e syscall=257 success=yes exit=3 items=1 ppid=1 "
                f'pid={a[1]} auid={unset} uid=0 gid=0 euid=0 ses={unset} comm="systemd-journal" '
                'exe="/usr/lib/systemd/systemd-journald" key=(null)',
                serial=s,
            )
            au.rec(t, "PATH", 'item=0 name="/run/log/journal" inode=2 nametype=NORMAL', serial=s)
            au.rec(
                t,
                "PROCTITLE",
                "proctitle=2F6C69622F73797374656D642F73797374656D642D6A6F75726E616C64",
                serial=s,
            )
        elif name == "noise_end":
            au.rec(
                t,
                "SERVICE_START",
                f"pid=1 uid=0 auid={unset} ses={unset} msg='unit=logrotate "
                'comm="systemd" exe="/usr/lib/systemd/systemd" res=success\'',
            )
        if n in bad_at:
            sink.bad(
                f"node={host} type=SYSCALL msg=audit({t:.3f}:{au.serial + 1}): arch=c000003e sysc"[
                    :44
                ]
            )
            sink.bad("audit: backlog limit exceeded")
    return


# --- sudo JSON (sudo >= 1.9, log_format=json) ------------------------------------------------


def write_sudo_json(
    sink: Sink, host: str, clock: Clock, rng: random.Random, stream: Iterator[Timed], bad: int
) -> None:
    bad_at = {11 + 173 * k for k in range(bad)}
    for n, (t, _, a) in enumerate(stream):
        if n in bad_at:  # a line cut short when the disk filled up
            sink.bad('{"accept":{"submit_time":{"seconds":' + str(int(t)))
        if a[0] == "sudo":
            _, login, _uid, command, _pid, _login_pid = a
            _sudo_record(sink, host, clock, rng, t, "accept", login, command, None)
        elif a[0] == "root_shell":  # `sudo -i`: a login shell as root, ended by its exit
            _, login, _uid, sudo_uuid, _pid = a
            _sudo_record(
                sink, host, clock, rng, t, "accept", login, "/bin/bash", None,
                ident=sudo_uuid, runargv=["-bash"], exits=False,
            )  # fmt: skip
        elif a[0] == "root_shell_end":
            _, login, sudo_uuid = a
            _sudo_exit(sink, host, t, sudo_uuid, login, "/bin/bash")
        elif a[0] == "noise":
            if rng.random() < 0.85:
                command = rng.choice(
                    (
                        "/usr/bin/systemctl restart render-worker",
                        "/usr/bin/systemctl status render-worker",
                    )
                )
                _sudo_record(sink, host, clock, rng, t, "accept", "render", command, None)
            else:
                _sudo_record(
                    sink,
                    host,
                    clock,
                    rng,
                    t,
                    "reject",
                    "intern",
                    "/usr/bin/cat /etc/shadow",
                    "command not allowed",
                )


def _sudo_record(
    sink: Sink,
    host: str,
    clock: Clock,
    rng: random.Random,
    t: float,
    what: str,
    user: str,
    command: str,
    reason: str | None,
    ident: str | None = None,
    runargv: list[str] | None = None,
    exits: bool = True,
) -> None:
    """An accept or reject record; an accept's exit follows within 30 s unless ``exits`` is
    False (then the caller writes the exit when the command ends)."""
    argv = command.split()
    body: dict[str, object] = {
        "submit_time": {
            "seconds": int(t),
            "nanoseconds": int((t - int(t)) * 1e9),
            "iso8601": iso(t).replace("-", "").replace(":", "").replace("T", ""),
            "localtime": clock.rfc3164(t),
        },
        "uuid": ident or uuid(rng),
        "submituser": user,
        "submithost": host,
        "submitcwd": f"/home/{user}",
        "ttyname": "/dev/pts/0",
        "command": argv[0],
        "runargv": runargv or [argv[0].rsplit("/", 1)[-1], *argv[1:]],
        "runuser": "root",
        "runuid": 0,
        "runcwd": "/root" if runargv else f"/home/{user}",
        "source": "/etc/sudoers.d/10-operators:3:1",
    }
    if reason:
        body["reason"] = reason
    sink.line(orjson.dumps({what: body}).decode(), 1)
    if what == "accept" and exits:  # the command's exit, tied to it by the uuid
        _sudo_exit(sink, host, t + rng.uniform(0.05, 30.0), str(body["uuid"]), user, argv[0])


def _sudo_exit(sink: Sink, host: str, done: float, ident: str, user: str, command: str) -> None:
    exit_ = {
        "exit_time": {"seconds": int(done), "nanoseconds": int((done - int(done)) * 1e9)},
        "uuid": ident,
        "exit_value": 0,
        "submituser": user,
        "submithost": host,
        "runuser": "root",
        "command": command,
    }
    sink.line(orjson.dumps({"exit": exit_}).decode(), 1)
