"""The demo pod's people and the quarter's admin sessions (shared by Teleport and the hosts).

Each admin session is derived from its own ``random.Random`` stream, so every writer that needs
the sessions (the Teleport audit log and each host's log) regenerates the same sequence instead
of holding it in memory.
"""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edgeaudit.demo._common import Action, b64ish, iso, uuid

# principal id -> (unix login, uid, teleport user, badge name, company)
STAFF = {
    "ravi.k": ("ravi", 1001, "ravi.k@campus-ops.example", "Ravi Kumar", "Campus Ops"),
    "meera.s": ("meera", 1002, "meera.s@campus-ops.example", "Meera Shah", "Campus Ops"),
    "arjun.p": ("arjun", 1003, "arjun.p@msp.example", "Arjun Pillai", "MSP Example"),
}
TENANT_STAFF = {"lena.f": ("lena", 1101, "Lena Fischer", "Fintech A Pvt Ltd")}
# A former operator engineer, offboarded six weeks into the quarter (2026-08-14 in 2026Q3)
# and since removed from policies/inventory.yaml. The campus's own inventory.yaml (the copy
# `demo collect` passes to the collectors) still lists them, as the collectors' inventory did
# while the quarter's logs were collected: their Vault key uses early in the quarter are stored
# with actor.principal = "kiran.m", and the policy engine, reading policies/inventory.yaml,
# meets a principal it no longer knows.
OFFBOARDED: dict[str, Any] = {
    "id": "kiran.m",
    "type": "person",
    "org": "operator",
    "roles": ["pod-admin"],
    "identities": {
        "unix": ["kiran"],
        "ssh_key_id": ["kiran.m"],
        "teleport": ["kiran.m@campus-ops.example"],
        "vault": ["kiran.m"],
        "badge": ["Kiran Menon"],
    },
}
OFFBOARDED_KEY_USES = 3  # decrypts with fintech-a's key, in July
HOST_ROLE = {
    "bastion-1": "pod-bastion",
    "fa-web-01": "fintech-web-admin",
    "fa-db-01": "fintech-db-access",
    "mb-render-02": "media-render-admin",
    "ac-gpu-01": "ai-gpu-root",
}
HOSTS = tuple(HOST_ROLE)
ADMIN_SRC = {"ravi.k": "10.0.0.41", "meera.s": "10.0.0.42", "arjun.p": "10.0.0.77"}
CA_FP = "SHA256:" + "QmFzdGlvbkNBa2V5Zm9yY2FtcHVzb3BzMDAwMDAwMDA"
COMMANDS = (
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/journalctl -u postgresql --since today",
    "/usr/bin/apt-get install -y --only-upgrade openssl",
    "/usr/bin/nvidia-smi -q",
    "/usr/sbin/ip -br addr",
    "/usr/bin/systemctl status render-worker",
    "/usr/bin/df -h /var/lib",
    "/usr/bin/tail -n 200 /var/log/syslog",
)
# planted session kinds -> (count, forced host, forced requester)
PLANTED_SESSIONS = {
    "no_grant": (3, None, "ravi.k"),  # direct SSH with a certificate Teleport never issued
    "self_approved": (1, "fa-web-01", "meera.s"),
    "admin_override": (1, "ac-gpu-01", "arjun.p"),
    "overlong": (1, "fa-db-01", "ravi.k"),
    "breakglass": (1, "bastion-1", None),
    # a Teleport session through a standing role left over from onboarding: no access request
    "standing_role": (1, "fa-db-01", "arjun.p"),
    # starts inside an approved 2 h grant and stays connected hours past its expiry (Teleport's
    # disconnect_expired_cert is off, so an open SSH session outlives the certificate)
    "overstay": (1, "ac-gpu-01", "ravi.k"),
    # `sudo -i` on a tenant host through a local sudoers entry, no grant (sudo JSON log only)
    "root_shell": (1, "mb-render-02", "meera.s"),
}
# kinds whose access no grant covers, in part or at all (jit-session-covered fails them)
UNCOVERED_KINDS = ("no_grant", "standing_role", "overstay", "root_shell")
PLANTED_SERIAL = 900_000  # certificate serials of sessions outside any grant start here
GRANT_GRACE = 300.0  # normal sessions end at least this long before their grant expires


@dataclass(frozen=True, slots=True)
class Admin:
    """One admin access: a Teleport request (unless planted without) and the host session."""

    index: int
    kind: str  # normal, denied or a key of PLANTED_SESSIONS
    requester: str | None  # principal id; None for break-glass
    host: str
    request_id: str
    created: float
    reviewed: float
    approved: float
    hours: float  # requested maximum duration
    start: float  # session start
    end: float
    serial: int
    fingerprint: str
    sid: str
    pid: int  # sshd's (the root shell's sudo for root_shell); unique in the quarter
    port: int
    commands: tuple[tuple[float, str, int], ...]  # (time, command, sudo pid)
    reason: str

    @property
    def login(self) -> str:
        return STAFF[self.requester][0] if self.requester else "breakglass"

    @property
    def uid(self) -> int:
        return STAFF[self.requester][1] if self.requester else 999

    @property
    def src_ip(self) -> str:
        return ADMIN_SRC[self.requester] if self.requester else "10.0.0.9"

    @property
    def granted(self) -> bool:
        """An approved access request exists for this session."""
        return self.kind not in ("no_grant", "breakglass", "denied", "standing_role", "root_shell")

    @property
    def via_teleport(self) -> bool:
        """Teleport records this access (its request and, unless denied, the session)."""
        return self.granted or self.kind in ("denied", "standing_role")

    @property
    def expires(self) -> float:
        """When the requested access ends (meaningless for kinds without a grant)."""
        return self.created + self.hours * 3600

    def host_actions(self) -> list[tuple[float, Action]]:
        """What the target host logs of this session (nothing for a denied request)."""
        if self.kind == "denied":
            return []
        if self.kind == "root_shell":  # sudo -i: the sudo record's uuid is the session id
            return [
                (self.start, ("root_shell", self.login, self.uid, self.sid, self.pid)),
                (self.end, ("root_shell_end", self.login, self.sid)),
            ]
        t, login, uid, ip = self.start + 1.5, self.login, self.uid, self.src_ip
        if self.requester is None:
            first: Action = ("password_login", login, ip, self.port, self.pid)
        else:
            first = (
                "cert_login",
                login,
                self.requester,
                self.serial,
                self.fingerprint,
                ip,
                self.port,
                self.pid,
            )
        out: list[tuple[float, Action]] = [
            (t, first),
            (t + 0.02, ("session_open", login, uid, self.pid)),
        ]
        for when, command, sudo_pid in self.commands:
            out.append((when, ("sudo", login, uid, command, sudo_pid, self.pid)))
        out.append((self.end, ("logout", login, ip, self.port, self.pid)))
        return out


def planted_indices(seed: int, n: int, clean: bool = False) -> dict[int, str]:
    if clean:
        return {}
    rng = random.Random(f"{seed}:planted-sessions")
    kinds = [k for k, (count, _, _) in PLANTED_SESSIONS.items() for _ in range(count)]
    slots = rng.sample(range(2, n - 1), len(kinds))  # never first or last: always in range
    return dict(zip(slots, kinds, strict=True))


def admin_sessions(
    seed: int, start: float, end: float, n: int, clean: bool = False
) -> Iterator[Admin]:
    """The quarter's ``n`` admin sessions in order of request time (none planted if clean)."""
    planted = planted_indices(seed, n, clean)
    spacing = (end - start - 86400) / n
    for i in range(n):
        rng = random.Random(f"{seed}:admin:{i}")
        kind = planted.get(i) or ("denied" if rng.random() < 0.06 else "normal")
        _, host, who = PLANTED_SESSIONS.get(kind, (0, None, None))
        requester: str | None = who or rng.choice(("ravi.k", "ravi.k", "arjun.p"))
        if kind == "breakglass":
            requester = None
        host = host or rng.choice(HOSTS)
        if kind == "no_grant":
            host = rng.choice(("bastion-1", "fa-web-01"))
        created = start + 3600 + i * spacing + rng.uniform(0, spacing * 0.4)
        reviewed = created + rng.uniform(120, 900)
        approved = reviewed + rng.uniform(20, 90)
        session_start = approved + rng.uniform(30, 300)
        hours = 8.0 if kind == "overlong" else rng.choice((1.0, 2.0, 2.0, 4.0))
        if kind == "overstay":
            hours = 2.0
        # a session ends before its grant expires (the certificate's validity), with margin
        room = created + hours * 3600 - GRANT_GRACE - session_start
        duration = rng.uniform(600, min(room, 5400))
        if kind == "overstay":  # 2.5-3.5 h past the expiry
            duration = room + GRANT_GRACE + rng.uniform(2.5, 3.5) * 3600
        elif kind == "standing_role":  # about 90 minutes
            duration = rng.uniform(85, 95) * 60
        elif kind == "root_shell":
            duration = rng.uniform(35, 55) * 60
        # process ids grow through the quarter and never repeat (sshd, then its sudo children)
        pid = 100_000 + (i * 1000) % 4_000_000 + rng.randint(0, 99)
        sudo_n = rng.randint(1, 3)
        commands = tuple(
            (
                session_start + duration * (k + 1) / (sudo_n + 1),
                rng.choice(COMMANDS),
                pid + 100 + 200 * k + rng.randint(0, 150),
            )
            for k in range(sudo_n)
        )
        if kind == "root_shell":  # the `sudo -i` is the whole access
            commands = ()
        serial = PLANTED_SERIAL + i if kind == "no_grant" else 10_000 + i
        yield Admin(
            index=i,
            kind=kind,
            requester=requester,
            host=host,
            request_id=uuid(rng),
            created=created,
            reviewed=reviewed,
            approved=approved,
            hours=hours,
            start=session_start,
            end=session_start + duration,
            serial=serial,
            fingerprint="SHA256:" + b64ish(rng),
            sid=uuid(rng),
            pid=pid,
            port=rng.randint(32768, 60999),
            commands=commands,
            reason=f"CHG-{4000 + i} {rng.choice(('patching', 'incident', 'capacity', 'audit'))}",
        )


def host_admin_episodes(
    seed: int, start: float, end: float, n: int, host: str, clean: bool = False
) -> Iterator[list[tuple[float, Action]]]:
    for s in admin_sessions(seed, start, end, n, clean):
        if s.host == host:
            yield s.host_actions()


def planted_summary(s: Admin) -> dict[str, object]:
    """A planted session as the manifest lists it."""
    out: dict[str, object] = {
        "kind": s.kind,
        "principal": s.requester,
        "account": s.login,
        "asset": s.host,
        "start": iso(s.start, 3),
        "end": iso(s.end, 3),
    }
    if s.kind == "root_shell":
        out["sudo_uuid"] = s.sid
    else:
        out["pid"] = s.pid
    if s.via_teleport:
        out["teleport_sid"] = s.sid
    if s.granted:
        out["grant"] = s.request_id
        out["grant_expires"] = iso(s.expires, 3)
    if s.kind == "no_grant":
        out["cert_serial"] = s.serial
    return out
