"""Host logs: RFC 3164 auth syslog, journald JSON export, auditd (ENRICHED) and sudo JSON.

A host's stream is its admin sessions merged with background episodes (scanners, tenant staff,
cron and systemd noise), rendered in the host's native format. Every renderer returns the
number of events the collector must produce for each line, so the manifest is exact.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson

from edgeaudit.demo._common import Action, Clock, Sink, Timed, b64ish, hexid

SCANNER_USERS = ("admin", "oracle", "test", "ubuntu", "pi", "git", "postgres", "support", "user1")
SCANNER_NETS = ("203.0.113", "198.51.100", "192.0.2")


def background(
    rng: random.Random, start: float, end: float, gap: float, staff: bool, noise_only: bool = False
) -> Iterator[list[tuple[float, Action]]]:
    """Scanner probes, failed root logins, tenant staff logins and noise, until ``end``."""
    t = start + rng.uniform(0, gap)
    while t < end:
        ip = f"{rng.choice(SCANNER_NETS)}.{rng.randint(2, 254)}"
        port, pid = rng.randint(1024, 65535), rng.randint(2000, 65000)
        r = 1.0 if noise_only else rng.random()
        if r < 0.35:
            user = rng.choice(SCANNER_USERS)
            yield [(t, ("invalid_user", user, ip, port, pid))]
        elif r < 0.6:
            yield [(t, ("failed_password", "root", ip, port, pid))]
        elif r < 0.7 and staff:
            ip, end_t = f"10.10.0.{rng.randint(50, 90)}", t + rng.uniform(300, 3600)
            fp = "SHA256:" + b64ish(rng)
            yield [
                (t, ("key_login", "lena", ip, port, pid, fp)),
                (t + 0.02, ("session_open", "lena", 1101, pid)),
                (end_t, ("logout", "lena", ip, port, pid)),
            ]
        else:
            yield [(t, ("noise", pid)), (t + rng.uniform(0.5, 2.0), ("noise_end", pid))]
        t += rng.expovariate(1.0 / gap)


# --- syslog (RFC 3164, site-local time) ------------------------------------------------------


def write_syslog(sink: Sink, host: str, clock: Clock, stream: Iterator[Timed], bad: int) -> None:
    bad_at = {1 + 97 * k for k in range(bad)}
    for n, (t, _, a) in enumerate(stream):
        head = f"{clock.rfc3164(t)} {host} "
        name = a[0]
        if name in ("cert_login", "key_login", "password_login"):
            login, ip, port, pid = (
                (a[1], a[5], a[6], a[7]) if name == "cert_login" else (a[1], a[2], a[3], a[4])
            )
            if name == "cert_login":
                extra = (
                    f": ED25519-CERT {a[4]} ID {a[2]} (serial {a[3]}) CA ED25519 "
                    "SHA256:QmFzdGlvbkNBa2V5Zm9yY2FtcHVzb3BzMDAwMDAwMDA"
                )
            elif name == "key_login":
                extra = f": ED25519 {a[5]}"
            else:
                extra = ""
            method = "password" if name == "password_login" else "publickey"
            msg = f"Accepted {method} for {login} from {ip} port {port} ssh2{extra}"
            sink.line(f"{head}sshd[{pid}]: {msg}", 1)
        elif name == "session_open":
            _, login, uid, pid = a
            msg = f"pam_unix(sshd:session): session opened for user {login}(uid={uid}) by (uid=0)"
            sink.line(f"{head}sshd[{pid}]: {msg}", 1)
        elif name == "sudo":
            login, uid, command, pid = a[1:5]
            sink.line(
                f"{head}sudo[{pid}]:     {login} : TTY=pts/{pid % 7} ; PWD=/home/{login} ; "
                f"USER=root ; COMMAND={command}",
                1,
            )
            sink.line(
                f"{head}sudo[{pid}]: pam_unix(sudo:session): session opened for user "
                f"root(uid=0) by {login}(uid={uid})",
                1,
            )
            sink.line(f"{head}sudo[{pid}]: pam_unix(sudo:session): session closed for user root", 1)
        elif name == "logout":
            _, login, ip, port, pid = a
            sink.line(
                f"{head}sshd[{pid}]: Received disconnect from {ip} port {port}:11: "
                "disconnected by user"
            )
            sink.line(f"{head}sshd[{pid}]: Disconnected from user {login} {ip} port {port}", 1)
            msg = f"pam_unix(sshd:session): session closed for user {login}"
            sink.line(f"{head}sshd[{pid}]: {msg}", 1)
        elif name == "invalid_user":
            _, user, ip, port, pid = a
            sink.line(f"{head}sshd[{pid}]: Invalid user {user} from {ip} port {port}", 1)
            sink.line(
                f"{head}sshd[{pid}]: Connection closed by invalid user {user} {ip} port "
                f"{port} [preauth]",
                1,
            )
        elif name == "failed_password":
            _, user, ip, port, pid = a
            sink.line(
                f"{head}sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2", 1
            )
        elif name == "noise":
            msg = "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            sink.line(f"{head}CRON[{a[1]}]: {msg}")
        elif name == "noise_end":
            sink.line(f"{head}CRON[{a[1]}]: pam_unix(cron:session): session closed for user root")
        if n in bad_at:  # a write torn by log rotation, then the tail of a split line
            sink.bad(f"{head[:11]}")
            sink.bad("port 4022 ssh2: ED25519 SHA256:" + "x" * 20)
    return


# --- journald (journalctl -o json) -----------------------------------------------------------


class _Journal:
    def __init__(self, sink: Sink, host: str, rng: random.Random) -> None:
        self.sink, self.host = sink, host
        self.seq_id, self.boot = hexid(rng, 32), hexid(rng, 32)
        self.seq = 1000

    def rec(
        self,
        t: float,
        comm: str,
        exe: str,
        pid: int,
        ident: str,
        msg: str,
        events: int,
        unit: str | None = None,
    ) -> None:
        self.seq += 1
        us = int(t * 1_000_000)
        cursor = (
            f"s={self.seq_id};i={self.seq:x};b={self.boot};m={us % 10**11:x};t={us:x};"
            f"x={self.seq * 2654435761 % 2**32:x}"
        )
        obj = {
            "__CURSOR": cursor,
            "__REALTIME_TIMESTAMP": str(us),
            "__MONOTONIC_TIMESTAMP": str(us % 10**11),
            "__SEQNUM": str(self.seq),
            "__SEQNUM_ID": self.seq_id,
            "_BOOT_ID": self.boot,
            "_HOSTNAME": self.host,
            "PRIORITY": "6",
            "_TRANSPORT": "syslog",
            "_UID": "0",
            "_COMM": comm,
            "_EXE": exe,
            "_PID": str(pid),
            "SYSLOG_IDENTIFIER": ident,
            "MESSAGE": msg,
        }
        if unit:
            obj["_SYSTEMD_UNIT"] = unit
        self.sink.line(orjson.dumps(obj).decode(), events)

    def sshd(self, t: float, pid: int, msg: str, events: int) -> None:
        self.rec(
            t,
            "sshd-session",
            "/usr/lib/openssh/sshd-session",
            pid,
            "sshd-session",
            msg,
            events,
            "ssh.service",
        )


def write_journald(
    sink: Sink, host: str, rng: random.Random, stream: Iterator[Timed], bad: int, forged: int
) -> None:
    j = _Journal(sink, host, rng)
    bad_at = {3 + 89 * k for k in range(bad)}
    forged_at = {7 + 131 * k for k in range(forged)}
    for n, (t, _, a) in enumerate(stream):
        name = a[0]
        if name in ("cert_login", "key_login", "password_login"):
            if name == "cert_login":
                _, login, key_id, serial, fp, ip, port, pid = a
                extra = f": ED25519-CERT {fp} ID {key_id} (serial {serial}) CA ED25519 SHA256:Qm"
            else:
                login, ip, port, pid = a[1:5]
                extra = f": ED25519 {a[5]}" if name == "key_login" else ""
            method = "password" if name == "password_login" else "publickey"
            j.sshd(t, pid, f"Accepted {method} for {login} from {ip} port {port} ssh2{extra}", 1)
        elif name == "session_open":
            _, login, uid, pid = a
            msg = f"pam_unix(sshd:session): session opened for user {login}(uid={uid}) by (uid=0)"
            j.sshd(t, pid, msg, 1)
        elif name == "sudo":
            login, uid, command, pid = a[1:5]
            tty = f"TTY=pts/{pid % 7} ; PWD=/home/{login} ; USER=root"
            msg = f"    {login} : {tty} ; COMMAND={command}"
            j.rec(t, "sudo", "/usr/bin/sudo", pid, "sudo", msg, 1)
            msg = (
                f"pam_unix(sudo:session): session opened for user root(uid=0) by {login}(uid={uid})"
            )
            j.rec(t + 0.001, "sudo", "/usr/bin/sudo", pid, "sudo", msg, 1)
            msg = "pam_unix(sudo:session): session closed for user root"
            j.rec(t + 0.8, "sudo", "/usr/bin/sudo", pid, "sudo", msg, 1)
        elif name == "logout":
            _, login, ip, port, pid = a
            j.sshd(t, pid, f"Received disconnect from {ip} port {port}:11: disconnected by user", 0)
            j.sshd(t + 0.001, pid, f"Disconnected from user {login} {ip} port {port}", 1)
            j.sshd(t + 0.002, pid, f"pam_unix(sshd:session): session closed for user {login}", 1)
        elif name == "invalid_user":  # journald's parser reads only the Failed line of these
            _, user, ip, port, pid = a
            j.sshd(t, pid, f"Invalid user {user} from {ip} port {port}", 0)
            msg = f"Failed password for invalid user {user} from {ip} port {port} ssh2"
            j.sshd(t + 1.2, pid, msg, 1)
        elif name == "failed_password":
            _, user, ip, port, pid = a
            j.sshd(t, pid, f"Failed password for {user} from {ip} port {port} ssh2", 1)
        elif name == "noise":
            msg = "NVRM: GPU at PCI:0000:41:00: GPU-3f2a utilization sample"
            j.rec(
                t,
                "nvidia-persiste",
                "/usr/bin/nvidia-persistenced",
                a[1],
                "nvidia",
                msg,
                0,
                "nvidia-persistenced.service",
            )
        elif name == "noise_end":
            j.rec(
                t,
                "systemd",
                "/usr/lib/systemd/systemd",
                1,
                "systemd",
                "Started session-c1.scope - Session c1 of User root.",
                0,
                "init.scope",
            )
        if n in forged_at:  # a local process writing as "sshd" to fake a login
            j.rec(
                t + 0.5,
                "python3",
                "/usr/bin/python3",
                31337,
                "sshd",
                "Accepted password for meera from 10.0.0.42 port 50022 ssh2",
                0,
                "session-4.scope",
            )
            sink.forged += 1
        if n in bad_at:  # torn write: never consumes a seqnum
            sink.bad('{"__CURSOR":"s=' + j.seq_id + ";i=" + f"{j.seq:x}" + ";b=" + j.boot[:9])
    return
