"""Access evidence for the checks of issue 15 (1-6): Teleport proxy logins with a password-guessing
burst, a cage controller's export with tamper alarms and denied badges, a host log with a local
console session and a password logon, and what operators append: reviews of the door alarms and
the partners' approved maintenance windows.

Planted (not in the clean campus): twelve failed Teleport logins of ravi.k from 203.0.113.66
within three minutes and then a successful one from there; a tamper alarm nobody followed up; a
partner's card denied four times within six minutes; a console session on fa-web-01 on a Sunday
with no badge entry of its user; an SSH logon by password on fa-web-01 (both under approved
access requests, so only the new checks see them); and the partner's session through a standing
role (``_plan``'s ``standing_role``), for which no maintenance window was approved. The clean
campus has the same console session after its user badged in, the tamper alarm reviewed and the
logon by key.
"""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from edgeaudit.demo._common import Clock, Sink, iso, uuid
from edgeaudit.demo._plan import STAFF, admin_sessions
from edgeaudit.demo._services import BADGE_COLUMNS, CLUSTER

APPEND_PATH = "ops/access-records.jsonl"
ATTACKER = "203.0.113.66"
APPROVER = "meera.s"
OWNER = {
    "bastion-1": "shared",
    "fa-web-01": "fintech-a",
    "fa-db-01": "fintech-a",
    "mb-render-02": "media-b",
    "ac-gpu-01": "ai-c",
}
ALARM_EVENTS = ("Door Held Open", "Door Forced Open", "Tamper Alarm")


def _on(after: datetime, zone: ZoneInfo, weekday: int, hour: int, minute: int) -> float:
    """The first ``weekday`` (0 Monday) on or after ``after``, at site time."""
    local = after.astimezone(zone)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    return datetime(day.year, day.month, day.day, hour, minute, 12, tzinfo=zone).timestamp()


def write_access(
    out: Path,
    seed: int,
    t0: float,
    t1: float,
    n_admin: int,
    clock: Clock,
    zone_name: str,
    year: int,
    card_key_env: str,
    clean: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Write the files and the append; return the files' manifest entries, the append's entry
    and what was planted (empty when clean)."""
    first = datetime.fromtimestamp(t0, UTC)
    zone = clock.zone
    planted: dict[str, Any] = {}
    rng = random.Random(f"{seed}:access")
    # site time: the clean console session on a Saturday (its user badged in an hour before,
    # inside the working hours), the planted one on a Sunday morning (no door opens on Sundays
    # before it, nor after 20:00 on the Saturday: 13 h 40 min), the SSH logon on a Tuesday
    console_ok = _on(first + timedelta(days=22), zone, 5, 10, 30)
    console_bad = _on(first + timedelta(days=50), zone, 6, 9, 40)
    password_at = _on(first + timedelta(days=57), zone, 1, 11, 5)
    burst_at = t0 + 64 * 86400 + 3 * 3600 + 1017.25  # 08:46 site time
    tamper_at = t0 + 36 * 86400 + 9 * 3600 + 611.0
    denied_at = t0 + 43 * 86400 + 5 * 3600 + 97.0
    files = []

    # -- Teleport proxy: logins and the access requests of the two host sessions below -------
    sink = Sink(out, "teleport/proxy-audit.json", "teleport")
    tp = _Teleport(sink, rng)
    ravi = STAFF["ravi.k"][2]
    for k in range(3):  # a few mistyped passwords in the quarter (never a burst)
        at = t0 + (10 + 27 * k) * 86400 + 4 * 3600 + rng.uniform(0, 3600)
        tp.login(at, STAFF["meera.s"][2], "10.0.0.42", ok=False)
        tp.login(at + 40, STAFF["meera.s"][2], "10.0.0.42", ok=True)
    if not clean:
        for k in range(12):
            tp.login(burst_at + k * 14.5, ravi, ATTACKER, ok=False)
        success = burst_at + 11 * 14.5 + 131.0
        tp.login(success, ravi, ATTACKER, ok=True)
        planted["failed_logon_burst"] = {
            "principal": "ravi.k",
            "src_ip": ATTACKER,
            "failures": 12,
            "first": iso(burst_at, 3),
            "success": iso(success, 3),
        }
    grants = [("fa-web-01", console_ok if clean else console_bad), ("fa-web-01", password_at)]
    for host, at in grants:
        tp.grant(at - 1800, ravi, host)
    files.append(sink.close())

    # -- the host's log: a console session and an SSH logon ---------------------------------
    sink = Sink(out, "syslog/fa-web-01-console.log", "syslog", timezone=zone_name, year=year)
    console_at = console_ok if clean else console_bad
    head = f"{clock.rfc3164(console_at)} fa-web-01 "
    sink.line(
        f"{head}login[4242]: pam_unix(login:session): session opened for user ravi(uid=1001) "
        "by LOGIN(uid=0)",
        1,
    )
    end = console_at + 1260
    sink.line(
        f"{clock.rfc3164(end)} fa-web-01 login[4242]: pam_unix(login:session): session closed "
        "for user ravi",
        1,
    )
    method = "publickey" if clean else "password"
    extra = ": ED25519 SHA256:" + "UmF2aUtleUZvckZhV2ViMDFsb2dpbnNvbmx5MDAwMDA" if clean else ""
    pid, port = 77321, 52110
    h = f"{clock.rfc3164(password_at)} fa-web-01 "
    sink.line(
        f"{h}sshd[{pid}]: Accepted {method} for ravi from 10.0.0.41 port {port} ssh2{extra}", 1
    )
    sink.line(
        f"{h}sshd[{pid}]: pam_unix(sshd:session): session opened for user ravi(uid=1001) "
        "by (uid=0)",
        1,
    )
    h = f"{clock.rfc3164(password_at + 1500)} fa-web-01 "
    sink.line(
        f"{h}sshd[{pid}]: Received disconnect from 10.0.0.41 port {port}:11: disconnected by user"
    )
    sink.line(f"{h}sshd[{pid}]: Disconnected from user ravi 10.0.0.41 port {port}", 1)
    sink.line(f"{h}sshd[{pid}]: pam_unix(sshd:session): session closed for user ravi", 1)
    files.append(sink.close())
    if not clean:
        planted["console_without_badge"] = {
            "principal": "ravi.k",
            "asset": "fa-web-01",
            "account": "ravi",
            "start": iso(console_bad),
        }
        planted["password_logon"] = {
            "principal": "ravi.k",
            "asset": "fa-web-01",
            "pid": pid,
            "start": iso(password_at),
        }

    # -- the cage controller's export --------------------------------------------------------
    sink = Sink(
        out,
        "badge/cage-controller.csv",
        "badge-csv",
        timezone=zone_name,
        options=dict(BADGE_COLUMNS),
        card_key_env=card_key_env,
    )
    sink.line(",".join(BADGE_COLUMNS.values()))
    log_id = 90000
    rows: list[tuple[float, str, str, str, str, str, str]] = [
        (tamper_at, "Tamper Alarm", "CAGE-AC-1", "", "", "", ""),
        (
            denied_at,
            "Access Denied - Invalid Time Zone",
            "CAGE-AC-1",
            "40010002",
            "Arjun Pillai",
            "MSP Example",
            "",
        ),
    ]
    if clean:  # ravi badges in an hour before the console session
        rows.append(
            (console_ok - 3600, "Granted", "DC-MAIN-IN", "40010000", "Ravi Kumar", "Campus Ops", "")
        )
    else:
        for k in range(1, 4):
            rows.append(
                (
                    denied_at + k * 110.0,
                    "Access Denied - Invalid Time Zone",
                    "CAGE-AC-1",
                    "40010002",
                    "Arjun Pillai",
                    "MSP Example",
                    "",
                )
            )
        planted["tamper_alarm"] = {"door": "CAGE-AC-1", "time": iso(tamper_at)}
        planted["repeated_denied"] = {
            "principal": "arjun.p",
            "door": "CAGE-AC-1",
            "denials": 4,
            "first": iso(denied_at),
        }
    rows.sort()
    for t, event, door, card, holder, company, reason in rows:
        log_id += 1
        sink.line(
            f"{clock.local_text(t)},{log_id},{event},{door},{card},{holder},{company},{reason}", 1
        )
    files.append(sink.close())

    # -- what operators append: alarm reviews and approved maintenance windows --------------
    recs: list[dict[str, Any]] = []
    alarms = _alarms(out / "badge/door-export.csv", zone)
    if clean:
        alarms.append((tamper_at, "CAGE-AC-1"))
    for at, door in alarms:
        recs.append(
            {
                "time": iso(at + 5400 + rng.uniform(0, 3600)),
                "kind": "review.alarm",
                "reviewer": APPROVER,
                "door": door,
                "alarm_time": iso(at),
                "note": "checked the camera footage and the door contact",
            }
        )
    missing = None
    for s in admin_sessions(seed, t0, t1, n_admin, clean):
        if s.requester != "arjun.p" or s.kind == "denied":
            continue
        if s.kind == "standing_role":
            missing = s
            continue
        tenant = OWNER[s.host]
        recs.append(
            {
                "time": iso(s.created - 3600),
                "kind": "maintenance.window",
                "tenant": tenant,
                **({"scope": [tenant]} if tenant != "shared" else {}),
                "from": iso(s.created - 600),
                "to": iso(s.expires + 600),
                "approver": APPROVER,
                "reason": s.reason,
            }
        )
    if missing is not None:
        planted["partner_outside_window"] = {
            "principal": "arjun.p",
            "asset": missing.host,
            "start": iso(missing.start, 3),
            "teleport_sid": missing.sid,
        }
    recs.sort(key=lambda r: (r["time"], r["kind"]))
    path = out / APPEND_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in recs))
    append = {
        "path": APPEND_PATH,
        "kind": "access-records",
        "records": len(recs),
        "events": len(recs),
        "note": "edgeaudit append: reviews of door alarms and partners' approved maintenance "
        "windows, as operators record them",
    }
    return files, append, planted


def _alarms(path: Path, zone: ZoneInfo) -> list[tuple[float, str]]:
    """(UTC time, door) of the door alarms of the main controller's export."""
    names = BADGE_COLUMNS
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get(names["col.event"]) not in ALARM_EVENTS:
                continue
            try:
                local = datetime.strptime(row[names["col.time"]], "%Y-%m-%d %H:%M:%S")
            except (TypeError, ValueError):
                continue  # a planted malformed line
            out.append((local.replace(tzinfo=zone).timestamp(), row[names["col.door"]]))
    return out


class _Teleport:
    def __init__(self, sink: Sink, rng: random.Random) -> None:
        self.sink, self.rng, self.n = sink, rng, 0

    def put(self, event: str, code: str, t: float, **fields: Any) -> None:
        self.n += 1
        obj = {
            "ei": 0,
            "event": event,
            "uid": f"c15a0000-0000-4000-8000-{self.n:012x}",
            "code": code,
            "time": iso(t, 3),
            "cluster_name": CLUSTER,
            **fields,
        }
        self.sink.line(orjson.dumps(obj).decode(), 1)

    def login(self, t: float, user: str, ip: str, ok: bool) -> None:
        fields: dict[str, Any] = {
            "user": user,
            "method": "local",
            "success": ok,
            "addr.remote": f"{ip}:{self.rng.randint(30000, 60000)}",
        }
        if not ok:
            fields["error"] = "invalid username, password or second factor"
        self.put("user.login", "T1000I" if ok else "T1000W", t, **fields)

    def grant(self, t: float, user: str, host: str) -> None:
        """An access request for ``host`` approved by the approver, valid for 2 hours."""
        rid = uuid(self.rng)
        limit = iso(t + 2 * 3600)
        approver = STAFF[APPROVER][2]
        role = f"{host}-console"
        self.put(
            "access_request.create",
            "T5000I",
            t,
            user=user,
            id=rid,
            state="PENDING",
            roles=[role],
            reason="CHG-7100 maintenance at the machine",
            resource_ids=[{"cluster": CLUSTER, "kind": "node", "name": host}],
            max_duration=limit,
            expires=limit,
        )
        self.put(
            "access_request.review",
            "T5002I",
            t + 300,
            user=approver,
            id=rid,
            reviewer=approver,
            proposed_state="APPROVED",
            state="PENDING",
            reason="ok, within change window",
        )
        self.put(
            "access_request.update",
            "T5001I",
            t + 330,
            user=approver,
            id=rid,
            state="APPROVED",
            updated_by=approver,
            roles=[role],
        )
