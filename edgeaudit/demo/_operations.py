"""The pod's operations records and key administration for the demo quarter (issue 15,
checks 7-12): what operators append (``ops/operations.jsonl``: log reviews, clock-sync reports,
backup runs, per-tenant access reviews, incidents and their reports to the authorities) and a
second Vault audit file of key administration (``vault/audit-admin.log``) with a key-state
snapshot taken after it.

Planted (not in the clean campus): three site-local days without a log review, one clock
synchronized to an unconfigured server far off, one backup of a tenant's data outside its
allowed regions, ai-c's access review by someone who may not review it, an incident reported
to CERT-In after six hours, a key configuration changed by an operator without key custody
(the key made exportable, as the next key-state snapshot shows) and a Vault root-token request.
"""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from edgeaudit.demo._common import Sink, hexid, iso, uuid
from edgeaudit.demo._keys import write_keystate

DAY = 86400.0
OPS_PATH = "ops/operations.jsonl"
ADMIN_PATH = "vault/audit-admin.log"
HOSTS = ("bastion-1", "fa-web-01", "fa-db-01", "mb-render-02", "ac-gpu-01")
TIME_SERVERS = ("samay1.nic.in", "samay2.nic.in")
MISSED_REVIEW_DAYS = (40, 41, 42)  # days after the quarter's first (site-local dates)
BACKUP_OUTAGE_DAYS = (70, 71, 72, 73)  # the backup agent wrote nothing (a collection gap)
BACKUP_SOURCE = "backup-agent"
PLANTED: dict[str, Any] = {
    "clock": {"asset": "ac-gpu-01", "day": 33, "server": "pool.ntp.org", "offset_ms": 2400.0},
    "backup": {
        "tenant": "media-b",
        "day": 47,
        "destination": "s3://mb-render-archive",
        "region": "eu-west-1",
    },
    "review": {"tenant": "ai-c", "reviewer": "ravi.k", "day": 22},
    "incident": {"id": "INC-2026-002", "tenant": "ai-c", "day": 61, "cert_in_after_h": 9.0},
    "key_config": {"key": "media-b-data", "principal": "ravi.k", "day": 50},
    "root_token": {"path": "sys/policies/acl/ops-admin", "day": 50},
}


def _local(day: datetime, zone: ZoneInfo, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()


def write_operations(
    root: Path, seed: int, t0: float, t1: float, zone: ZoneInfo, clean: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The operators' records as JSON lines for ``edgeaudit append``: its ``appends`` manifest
    entry and what was planted (for the tests)."""
    rng = random.Random(f"{seed}:operations")
    recs: list[dict[str, Any]] = []
    first = datetime.fromtimestamp(t0, UTC).astimezone(zone).date()
    last = datetime.fromtimestamp(t1 - 1, UTC).astimezone(zone).date()
    missed = [] if clean else [(first + timedelta(days=d)).isoformat() for d in MISSED_REVIEW_DAYS]
    d, n = first, 0
    while d <= last:
        day = datetime(d.year, d.month, d.day)
        review = _local(day, zone, 10) + rng.uniform(-1800, 1800)
        if d.isoformat() not in missed and t0 <= review < t1:
            recs.append(
                {
                    "time": iso(review),
                    "kind": "review.log",
                    "reviewer": ("ravi.k", "meera.s")[n % 2],
                    "sources": ["syslog", "journald", "auditd", "sudo-json", "teleport", "vault"],
                    "note": "daily review of the previous day's security events",
                }
            )
        backup = _local(day, zone, 2, 15) + rng.uniform(0, 600)
        outage = not clean and (d - first).days in BACKUP_OUTAGE_DAYS
        if t0 <= backup < t1 and not outage:
            recs.append(
                {
                    "time": iso(backup),
                    "kind": "backup.run",
                    "source": BACKUP_SOURCE,
                    "destination": "offsite-backup",
                    "region": "ap-south-2",
                    "outcome": "success",
                }
            )
        d += timedelta(days=1)
        n += 1
    t = t0 + 600.0
    while t < t1:  # chrony reports every 8 hours per host
        for host in HOSTS:
            at = t + rng.uniform(0, 900)
            if at < t1:
                recs.append(_clock(host, at, rng.choice(TIME_SERVERS), rng.uniform(-12, 12)))
        t += 8 * 3600
    summary: dict[str, Any] = {"missed_log_review_days": missed}
    if not clean:
        summary["backup_outage_days"] = [
            (first + timedelta(days=d)).isoformat() for d in BACKUP_OUTAGE_DAYS
        ]
    if not clean:
        c = PLANTED["clock"]
        at = t0 + c["day"] * DAY + 4 * 3600
        recs.append(_clock(c["asset"], at, c["server"], c["offset_ms"]))
        summary["clock"] = {**c, "time": iso(at)}
        b = PLANTED["backup"]
        at = t0 + b["day"] * DAY + 3 * 3600
        recs.append(
            {
                "time": iso(at),
                "kind": "backup.run",
                "source": BACKUP_SOURCE,
                "tenant": b["tenant"],
                "scope": [b["tenant"]],
                "destination": b["destination"],
                "region": b["region"],
                "outcome": "success",
            }
        )
        summary["backup"] = {**b, "time": iso(at)}
    recs += _tenant_reviews(t0, clean, summary)
    recs += _incidents(t0, clean, summary)
    recs.sort(key=lambda r: (r["time"], r["kind"]))
    path = root / OPS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in recs))
    append = {
        "path": OPS_PATH,
        "kind": "operations",
        "records": len(recs),
        "events": len(recs),
        "note": "edgeaudit append: log reviews, clock-sync reports, backups, access reviews, "
        "incidents and their reports, as operators record them",
    }
    return append, summary


def _clock(host: str, t: float, server: str, offset: float) -> dict[str, Any]:
    return {
        "time": iso(t),
        "kind": "clock.sync",
        "asset": host,
        "server": server,
        "offset_ms": round(offset, 3),
        "synced": True,
        "stratum": 2,
    }


def _tenant_reviews(t0: float, clean: bool, summary: dict[str, Any]) -> list[dict[str, Any]]:
    p = PLANTED["review"]
    ai_c_reviewer = "meera.s" if clean else p["reviewer"]
    reviews = [
        ("fintech-a", "lena.f", 20.0, ["svc-fintech-a"]),
        ("fintech-a", "meera.s", 20.05, ["lena.f"]),  # the tenant's reviewer is reviewed too
        ("media-b", "meera.s", 21.0, ["svc-media-b"]),
        ("ai-c", ai_c_reviewer, float(p["day"]), ["svc-ai-c"]),
    ]
    if not clean:
        summary["review"] = {**p, "time": iso(t0 + p["day"] * DAY + 9 * 3600)}
    return [
        {
            "time": iso(t0 + day * DAY + 9 * 3600),
            "kind": "review.access",
            "tenant": tenant,
            "scope": [tenant],
            "reviewer": reviewer,
            "subjects": subjects,
        }
        for tenant, reviewer, day, subjects in reviews
    ]


def _incidents(t0: float, clean: bool, summary: dict[str, Any]) -> list[dict[str, Any]]:
    p = PLANTED["incident"]
    out: list[dict[str, Any]] = []
    for inc, tenant, day, cert_in in (
        ("INC-2026-001", "fintech-a", 25, 4.0),
        (p["id"], p["tenant"], p["day"], 5.0 if clean else p["cert_in_after_h"]),
    ):
        aware = t0 + day * DAY + 14 * 3600 + 1234
        base = {"incident": inc, "tenant": tenant, "scope": [tenant]}
        out.append(
            {
                "time": iso(aware + 600),
                "kind": "incident.open",
                "detected": iso(aware),
                "category": "unauthorised access",
                **base,
            }
        )
        for authority, hours in (("CERT-In", cert_in), ("DPB", 50.0)):
            out.append(
                {
                    "time": iso(aware + hours * 3600),
                    "kind": "incident.reported",
                    "authority": authority,
                    **base,
                }
            )
        if inc == p["id"] and not clean:
            summary["incident"] = {**p, "detected": iso(aware)}
    return out


# -- Vault key administration -------------------------------------------------------------

CUSTODIAN = ("userpass-meera.s", "10.0.0.42", ["default", "key-admin"])
NON_CUSTODIAN = ("userpass-ravi.k", "10.0.0.41", ["default", "ops-admin"])
ROOT = ("root", "10.0.0.5", ["root"])


def write_admin_vault(
    root: Path,
    seed: int,
    t0: float,
    observed_versions: list[float],
    clean: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Key administration in a second Vault audit file, and a key-state snapshot of media-b's
    key taken after it (exportable in the planted campus). Returns manifest entries and what
    was planted."""
    rng = random.Random(f"{seed}:vault-admin")
    sink = Sink(root, ADMIN_PATH, "vault")
    at = t0 + 20 * DAY + 5.5 * 3600
    _pair(
        sink,
        rng,
        at,
        CUSTODIAN,
        "transit/keys/fintech-a-data/config",
        {"min_decryption_version": 1},
    )
    summary: dict[str, Any] = {}
    k, r = PLANTED["key_config"], PLANTED["root_token"]
    change = t0 + k["day"] * DAY + 6 * 3600
    if not clean:
        exposed = {"exportable": True, "allow_plaintext_backup": True}
        _pair(sink, rng, change, NON_CUSTODIAN, f"transit/keys/{k['key']}/config", exposed)
        at = t0 + r["day"] * DAY + 7 * 3600
        _pair(sink, rng, at, ROOT, r["path"], {"policy": "hmac-sha256:" + hexid(rng, 64)}, False)
        summary["key_config"] = {**k, "time": iso(change)}
        summary["root_token"] = {**r, "time": iso(at)}
    files = [sink.close()]
    rel = f"vault/keystate-{k['key']}-after-change.json"
    files.append(write_keystate(root, rel, k["key"], observed_versions, iso(change + 3600)))
    if not clean:
        doc = orjson.loads((root / rel).read_bytes())
        doc["data"]["exportable"] = True
        doc["data"]["allow_plaintext_backup"] = True
        (root / rel).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        summary["key_state"] = {"key": k["key"], "time": iso(change + 3600), "path": rel}
    return files, summary


def _pair(
    sink: Sink,
    rng: random.Random,
    t: float,
    who: tuple[str, str, list[str]],
    path: str,
    data: dict[str, Any],
    transit: bool = True,
) -> None:
    """A request and its response: one event (a key configuration change, or a root-token
    request on any path)."""
    display, addr, policies = who
    h = "hmac-sha256:" + hexid(rng, 64)
    auth = {
        "client_token": h,
        "accessor": h,
        "display_name": display,
        "policies": policies,
        "token_policies": policies,
        "entity_id": uuid(random.Random(display)),
        "token_type": "service",
    }
    req: dict[str, Any] = {
        "id": uuid(rng),
        "operation": "update",
        "client_token": h,
        "client_token_accessor": h,
        "namespace": {"id": "root"},
        "path": path,
        "remote_address": addr,
        "remote_port": rng.randint(30000, 60000),
    }
    if transit:
        req.update(mount_type="transit", mount_point="transit/", mount_accessor="transit_5c1e0a2b")
    else:
        req.update(mount_type="system", mount_point="sys/")
    req["data"] = data
    sink.line(
        orjson.dumps({"time": iso(t, 6), "type": "request", "auth": auth, "request": req}).decode()
    )
    obj = {
        "time": iso(t + rng.uniform(0.0005, 0.004), 6),
        "type": "response",
        "auth": auth,
        "request": req,
        "response": {"mount_type": req["mount_type"]},
    }
    sink.line(orjson.dumps(obj).decode(), 1)


def planted_counts(ops: dict[str, Any], admin: dict[str, Any]) -> dict[str, int]:
    """The manifest's ``planted`` counts of this module's violations (0 in the clean campus)."""
    return {
        "log_review_missed_days": len(ops["missed_log_review_days"]),
        "collection_gap_days": len(ops.get("backup_outage_days", [])),
        "clock_unsynchronized": int("clock" in ops),
        "backup_outside_allowed_regions": int("backup" in ops),
        "tenant_review_by_non_reviewer": int("review" in ops),
        "incident_reported_late": int("incident" in ops),
        "key_admin_without_custody": int("key_config" in admin),
        "key_made_exportable": int("key_state" in admin),
        "vault_root_token_use": int("root_token" in admin),
    }
