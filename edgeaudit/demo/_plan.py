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

from edgeaudit.demo._common import Action, b64ish, uuid

# principal id -> (unix login, uid, teleport user, badge name, company)
STAFF = {
    "ravi.k": ("ravi", 1001, "ravi.k@campus-ops.example", "Ravi Kumar", "Campus Ops"),
    "meera.s": ("meera", 1002, "meera.s@campus-ops.example", "Meera Shah", "Campus Ops"),
    "arjun.p": ("arjun", 1003, "arjun.p@msp.example", "Arjun Pillai", "MSP Example"),
}
TENANT_STAFF = {"lena.f": ("lena", 1101, "Lena Fischer", "Fintech A Pvt Ltd")}
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
    "no_grant": (3, None, "ravi.k"),
    "self_approved": (1, "fa-web-01", "meera.s"),
    "admin_override": (1, "ac-gpu-01", "arjun.p"),
    "overlong": (1, "fa-db-01", "ravi.k"),
    "breakglass": (1, "bastion-1", None),
}
PLANTED_SERIAL = 900_000  # certificate serials of sessions outside any grant start here


@dataclass(frozen=True, slots=True)
class Admin:
    """One admin access: a Teleport request (unless planted without) and the host session."""

    index: int
    kind: str  # normal, denied, no_grant, self_approved, admin_override, overlong, breakglass
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
    pid: int
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
        return self.kind not in ("no_grant", "breakglass", "denied")

    def host_actions(self) -> list[tuple[float, Action]]:
        """What the target host logs of this session (nothing for a denied request)."""
        if self.kind == "denied":
            return []
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
            out.append((when, ("sudo", login, uid, command, sudo_pid)))
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
        duration = rng.uniform(600, min(hours * 3600 - 300, 5400))
        sudo_n = rng.randint(1, 3)
        commands = tuple(
            (
                session_start + duration * (k + 1) / (sudo_n + 1),
                rng.choice(COMMANDS),
                rng.randint(20000, 60000),
            )
            for k in range(sudo_n)
        )
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
            pid=rng.randint(2000, 19999),
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
