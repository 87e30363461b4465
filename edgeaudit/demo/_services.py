"""Service logs: Teleport audit, Vault audit device, key state snapshots, CloudTrail, door CSV."""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

from edgeaudit.demo._common import Clock, Sink, hexid, iso, uuid
from edgeaudit.demo._plan import HOST_ROLE, OFFBOARDED, STAFF, TENANT_STAFF, Admin

CLUSTER = "campus-ops"
ADDR = {
    "bastion-1": "10.0.0.5",
    "fa-web-01": "10.10.0.11",
    "fa-db-01": "10.10.0.12",
    "mb-render-02": "10.20.0.21",
    "ac-gpu-01": "10.30.0.31",
}

# --- Teleport --------------------------------------------------------------------------------


def write_teleport(sink: Sink, sessions: Iterator[Admin], bad: int) -> None:
    bad_at = {2 + 37 * k for k in range(bad)}
    approver = STAFF["meera.s"][2]
    for n, s in enumerate(sessions):
        if n in bad_at:
            sink.bad('{"ei":0,"event":"session.upload","code":"T2005I","time":"' + iso(s.end)[:13])
        if not s.via_teleport:
            continue  # direct SSH, break-glass and local sudo leave no Teleport trace
        assert s.requester is not None
        user = STAFF[s.requester][2]
        rid, ev = s.request_id, _Tp(sink, s)
        ev.put("user.login", "T1000I", s.created - 40, 1, user=user, method="saml", success=True)
        if s.kind == "standing_role":  # the user's standing roles reach the node: no request
            _session(ev, s, user, ())
            continue
        limit = iso(s.expires)
        ev.put(
            "access_request.create",
            "T5000I",
            s.created,
            1,
            user=user,
            id=rid,
            state="PENDING",
            roles=[HOST_ROLE[s.host]],
            reason=s.reason,
            resource_ids=[{"cluster": CLUSTER, "kind": "node", "name": s.host}],
            max_duration=limit,
            expires=limit,
        )
        reviewer = user if s.kind == "self_approved" else approver
        decision = "DENIED" if s.kind == "denied" else "APPROVED"
        if s.kind != "admin_override":
            ev.put(
                "access_request.review",
                "T5002I",
                s.reviewed,
                1,
                user=reviewer,
                id=rid,
                reviewer=reviewer,
                proposed_state=decision,
                state="PENDING",
                reason="ok, within change window" if decision == "APPROVED" else "no ticket",
            )
        updater = STAFF["ravi.k"][2] if s.kind == "admin_override" else reviewer
        ev.put(
            "access_request.update",
            "T5001I",
            s.approved,
            1,
            user=updater,
            id=rid,
            state=decision,
            updated_by=updater,
            roles=[HOST_ROLE[s.host]],
        )
        if decision == "APPROVED":
            _session(ev, s, user, (rid,))


def _session(ev: _Tp, s: Admin, user: str, requests: tuple[str, ...]) -> None:
    common: dict[str, Any] = {
        "user": user,
        "login": s.login,
        "sid": s.sid,
        "server_hostname": s.host,
        "server_addr": f"{ADDR[s.host]}:3022",
    }
    if requests:
        common["access_requests"] = list(requests)
    ev.put(
        "session.start",
        "T2000I",
        s.start,
        1,
        **common,
        server_labels={"role": HOST_ROLE[s.host]},
        **{"addr.remote": f"{s.src_ip}:{s.port}"},
    )
    ev.put("session.end", "T2004I", s.end, 1, **common, interactive=True)


class _Tp:
    def __init__(self, sink: Sink, s: Admin) -> None:
        self.sink, self.s, self.ei = sink, s, 0

    def put(self, event: str, code: str, t: float, events: int = 0, **fields: Any) -> None:
        uid = f"{self.s.request_id[:24]}{self.s.index % 4096:03x}{self.ei:09x}"
        obj = {
            "ei": 0,
            "event": event,
            "uid": uid,
            "code": code,
            "time": iso(t, 3),
            "cluster_name": CLUSTER,
            **fields,
        }
        self.ei += 1
        self.sink.line(orjson.dumps(obj).decode(), events)


# --- Vault audit device ----------------------------------------------------------------------

SERVICES = (  # (display name, own key, source address, policy)
    ("token-svc-fintech-a", "fintech-a-data", "10.10.0.11", "fintech-a-app"),
    ("token-svc-media-b", "media-b-data", "10.20.0.21", "media-b-app"),
    ("token-svc-ai-c", "ai-c-data", "10.30.0.31", "ai-c-app"),
)
OPS = ("encrypt", "decrypt", "decrypt", "datakey/plaintext")
OFFBOARDED_VAULT = (f"userpass-{OFFBOARDED['id']}", "", "10.0.0.43", "ops-admin")
HMAC = "hmac-sha256:"


def _vault_pair(
    sink: Sink,
    rng: random.Random,
    t: float,
    who: tuple[str, str, str, str],
    path: str,
    operation: str = "update",
) -> None:
    display, _, addr, policy = who
    h = HMAC + hexid(rng, 64)
    auth = {
        "client_token": h,
        "accessor": h,
        "display_name": display,
        "policies": ["default", policy],
        "token_policies": ["default", policy],
        "entity_id": uuid(random.Random(display)),
        "token_type": "service",
    }
    transit = path.startswith("transit/")
    req: dict[str, Any] = {
        "id": uuid(rng),
        "operation": operation,
        "client_token": h,
        "client_token_accessor": h,
        "namespace": {"id": "root"},
        "path": path,
        "remote_address": addr,
        "remote_port": rng.randint(30000, 60000),
    }
    if transit:
        req.update(mount_type="transit", mount_point="transit/", mount_accessor="transit_5c1e0a2b")
        req["data"] = {"plaintext": HMAC + hexid(rng, 64)}
    else:
        req.update(mount_type="token", mount_point="auth/token/")
    sink.line(
        orjson.dumps({"time": iso(t, 6), "type": "request", "auth": auth, "request": req}).decode()
    )
    resp: dict[str, Any] = {"mount_type": req["mount_type"]}
    if transit:
        resp["data"] = {"ciphertext": HMAC + hexid(rng, 64)}
    obj = {
        "time": iso(t + rng.uniform(0.0005, 0.004), 6),
        "type": "response",
        "auth": auth,
        "request": req,
        "response": resp,
    }
    sink.line(orjson.dumps(obj).decode(), 1 if transit else 0)


def write_vault(
    sink: Sink,
    rng: random.Random,
    start: float,
    end: float,
    budget: int,
    rotations: dict[str, float],
    cross_tenant: int,
    bad: int,
    offboarded: tuple[float, ...] = (),
) -> None:
    """Tenant services using their own transit keys; rotations; planted: cross-tenant use, and
    decrypts with fintech-a's key by the offboarded operator at ``offboarded`` times."""
    gap = (end - start) / max(budget, 1)
    planted = sorted(
        start + (end - start) * (k + 1) / (cross_tenant + 1) + 777 for k in range(cross_tenant)
    )
    due = sorted(
        [(t, "rotate", key) for key, t in rotations.items()]
        + [(t, "cross", "") for t in planted]
        + [(t, "offboarded", "") for t in offboarded]
    )
    bad_at = {int(budget * (k + 1) / (bad + 1)) for k in range(bad)}
    meera = ("userpass-meera.s", "", "10.0.0.42", "key-admin")
    t, n = start + rng.uniform(0, gap), 0
    while t < end:
        while due and due[0][0] <= t:
            when, what, key = due.pop(0)
            _planted_vault(sink, rng, when, what, key, meera)
        who = rng.choice(SERVICES)
        if rng.random() < 0.05:
            _vault_pair(sink, rng, t, who, "auth/token/lookup-self", "read")
        else:
            _vault_pair(sink, rng, t, who, f"transit/{rng.choice(OPS)}/{who[1]}")
        n += 1
        if n in bad_at:
            sink.bad('{"time":"' + iso(t, 6) + '","type":"response","auth":{"client_token":"hmac')
        t += rng.expovariate(1.0 / gap)
    for when, what, key in due:  # a tiny campus may end before its planted entries
        _planted_vault(sink, rng, when, what, key, meera)


def _planted_vault(
    sink: Sink,
    rng: random.Random,
    when: float,
    what: str,
    key: str,
    meera: tuple[str, str, str, str],
) -> None:
    if what == "rotate":
        _vault_pair(sink, rng, when, meera, f"transit/keys/{key}/rotate")
    elif what == "cross":  # svc-media-b using fintech-a's key
        op = rng.choice(("encrypt", "decrypt"))
        _vault_pair(sink, rng, when, SERVICES[1], f"transit/{op}/fintech-a-data")
    else:  # the offboarded operator's userpass login, decrypting with fintech-a's key
        _vault_pair(sink, rng, when, OFFBOARDED_VAULT, "transit/decrypt/fintech-a-data")


# --- door controller CSV ---------------------------------------------------------------------

BADGE_COLUMNS = {
    "col.time": "Event Time",
    "col.log_id": "Log ID",
    "col.event": "Event Type",
    "col.door": "Door",
    "col.card": "Card Number",
    "col.holder": "Cardholder",
    "col.company": "Company",
    "col.reason": "Reason",
}
PEOPLE = [
    (name, company, f"4001{i:04d}") for i, (_, _, _, name, company) in enumerate(STAFF.values())
]
PEOPLE += [
    (name, company, f"4002{i:04d}") for i, (_, _, name, company) in enumerate(TENANT_STAFF.values())
]
DOORS = ("DC-MAIN-IN", "DC-MAIN-OUT", "CAGE-FA-1", "CAGE-MB-1", "CAGE-AC-1")


def write_badge(
    sink: Sink,
    clock: Clock,
    rng: random.Random,
    start: float,
    end: float,
    budget: int,
    off_hours: list[float],
    bad: int,
) -> None:
    """Working-hours entries (Mon-Sat 08:00-20:00 local); planted entries at ``off_hours``."""
    sink.line(",".join(BADGE_COLUMNS.values()))
    gap = (end - start) * (72 / 168) / max(budget, 1)
    log_id, t, due, n = 20000, start, sorted(off_hours), 0
    bad_at = {int(budget * (k + 1) / (bad + 1)) for k in range(bad)}
    while t < end:
        g = clock.local(t)
        if g.tm_wday == 6 or not 8 <= g.tm_hour < 20:
            t += 1800 + rng.uniform(0, 600)
            continue
        if due and due[0] <= t:
            when = due.pop(0)
            log_id += 1
            sink.line(
                f"{clock.local_text(when)},{log_id},Granted,DC-MAIN-IN,40010002,"
                "Arjun Pillai,MSP Example,",
                1,
            )
            continue
        log_id += 1
        r = rng.random()
        if r < 0.85:
            name, company, card = rng.choice(PEOPLE)
            door = "CAGE-FA-1" if company.startswith("Fintech") else rng.choice(DOORS)
            sink.line(f"{clock.local_text(t)},{log_id},Granted,{door},{card},{name},{company},", 1)
        elif r < 0.95:
            card = f"5{rng.randint(1000000, 9999999)}"
            sink.line(
                f"{clock.local_text(t)},{log_id},Denied,{rng.choice(DOORS)},{card},"
                f"Visitor {card[-3:]},Guest,card not valid for door",
                1,
            )
        else:
            sink.line(f"{clock.local_text(t)},{log_id},Door Held Open,{rng.choice(DOORS)},,,,", 1)
        n += 1
        if n in bad_at:
            sink.bad(f"{clock.local_text(t)[:13]}")
        t += rng.expovariate(1.0 / gap)
