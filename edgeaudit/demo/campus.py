"""A deterministic quarter of the demo pod, written as RAW source files in native formats.

``generate_campus(out, events=50_000, seed=1, start="2026-07-01")`` writes one file per source
(syslog, journald, auditd, sudo JSON, Teleport, Vault audit and key state, CloudTrail, KMS
rotation status, door controller CSV), nmap XML scans from every vantage segment of the probe
plans (``_probes``: two per vantage), copies of the inventory and the isolation matrix, and
``manifest.json``: every file with its parser kind, the ``edgeaudit collect`` arguments it
needs, and its exact counts of records, expected events and planted malformed lines; the
JSON-lines files to ``edgeaudit append`` (``appends``: the planted missed probe run, which no
collector reads, and the operators' records of ``_operations``: log reviews, clock sync, backups,
tenant access reviews, incidents and their reports); and the planted policy violations (counts,
each planted admin session with its principal, asset, times and ids, the planted segmentation
leak and missed probe run, ``planted_operations``: what ``_operations`` planted).

The inventory copy is the one the collectors get (``edgeaudit demo collect`` passes it): the
inventory as it was while the quarter was collected. In the planted campus it still lists a
principal offboarded since (``_plan.OFFBOARDED``), whom ``policies/inventory.yaml`` no longer
has; the clean campus copies the inventory unchanged.

Same seed and size give byte-identical files: randomness comes only from ``random.Random``
streams seeded from ``seed``, times only from ``start``. Files are streamed to disk (CloudTrail
files are built one window at a time), so memory stays flat at any size.
"""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import random
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import yaml

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.demo import _access, _audit, _hosts, _keys, _operations, _probes, _services
from edgeaudit.demo._common import Clock, Sink, Timed, iso, merge, ordered
from edgeaudit.demo._plan import (
    OFFBOARDED,
    OFFBOARDED_KEY_USES,
    PLANTED_SESSIONS,
    admin_sessions,
    host_admin_episodes,
    planted_summary,
)
from edgeaudit.errors import ConfigError, InputError
from edgeaudit.policy.isolation import load_isolation
from edgeaudit.probe.plan import load_plans

# 2: sessions past grants, offboarded principal; 3: nmap scans, a leak and a missed probe run;
# 4: operations records (ops/) and Vault key administration
GENERATOR = "edgeaudit.demo.campus/4"
DAY = 86400.0
# share of the requested events per source; admin sessions (Teleport + hosts) add ~4 %
SHARES = {
    "bastion-1": 0.08,
    "fa-web-01": 0.11,
    "journald": 0.11,
    "auditd": 0.12,
    "sudo": 0.04,
    "vault": 0.34,
    "cloudtrail": 0.10,
    "badge": 0.06,
}
CARD_KEY_ENV = "EDGEAUDIT_CARD_HASH_KEY"


def default_inventory() -> Path:
    return default_policy("inventory.yaml")


def default_policy(name: str) -> Path:
    """A file of the project's ``policies/`` (isolation matrix, probe plans, inventory): the copy
    a regular install ships in the package (setup.py), else a checkout's."""
    package = Path(__file__).resolve().parents[1]
    shipped = package / "_policies" / name
    return shipped if shipped.is_file() else package.parent / "policies" / name


def quarter(start: str | date) -> tuple[datetime, datetime]:
    try:
        day = start if isinstance(start, date) else date.fromisoformat(start)
    except ValueError:
        raise InputError(f"--start {start!r}: expected a date such as 2026-07-01") from None
    first = datetime(day.year, day.month, day.day, tzinfo=UTC)
    month = day.month + 3
    end = first.replace(year=day.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
    return first, end


def generate_campus(
    out: Path,
    events: int = 50_000,
    seed: int = 1,
    start: str | date = "2026-07-01",
    inventory: Path | None = None,
    clean: bool = False,
    isolation: Path | None = None,
    plans: Path | None = None,
) -> dict[str, Any]:
    """Write the campus into ``out`` and return the manifest (also written as manifest.json).

    ``clean``: the same pod and quarter without any planted violation or malformed line (the
    policy engine must find nothing to fail in it). ``isolation`` and ``plans``: the isolation
    matrix and probe plans the nmap scans follow (default: the project's ``policies/``).
    """
    bad = 0 if clean else 1  # multiplier for planted malformed lines and violations
    if events < 1000:
        raise InputError("--events must be at least 1000 (room for every planted violation)")
    inv_path = inventory or default_inventory()
    if not inv_path.is_file():
        raise ConfigError(f"{inv_path}: demo inventory not found")
    inv = load_inventory(inv_path)
    if not inv.timezone:
        raise ConfigError(f"{inv_path}: the demo needs the site timezone")
    for host in ("bastion-1", "fa-web-01", "fa-db-01", "mb-render-02", "ac-gpu-01"):
        if inv.asset(host) is None:
            raise ConfigError(f"{inv_path}: the demo pod needs asset {host}")
    iso_path = isolation or default_policy("isolation.yaml")
    matrix = load_isolation(iso_path, inv)
    probe_plans = load_plans(plans or default_policy("probes.yaml"), inv, matrix)
    scanned = _probes.scanned_plans(probe_plans.values(), inv, matrix)
    leak = None if clean else _probes.planted_leak(scanned, inv, matrix)
    zone_name = inv.timezone
    clock = Clock(ZoneInfo(zone_name))
    first, last = quarter(start)
    t0, t1 = first.timestamp(), last.timestamp()
    out.mkdir(parents=True, exist_ok=True)
    (out / "isolation.yaml").write_bytes(iso_path.read_bytes())
    if clean:
        (out / "inventory.yaml").write_bytes(inv_path.read_bytes())
    else:
        if inv.principal(OFFBOARDED["id"]) is not None:
            raise ConfigError(
                f"{inv_path}: lists {OFFBOARDED['id']}, the principal the demo plants as "
                "offboarded (no longer in the inventory)"
            )
        left = (first + timedelta(days=44)).date().isoformat()  # after their last key use
        note = (
            f"{OFFBOARDED['id']}: offboarded on {left} and removed from policies/inventory.yaml "
            "since; listed here as in the inventory the collectors had while the quarter's logs "
            "were collected (edgeaudit demo campus)."
        )
        text = collection_inventory(inv_path.read_text(encoding="utf-8"), OFFBOARDED, note)
        (out / "inventory.yaml").write_text(text, encoding="utf-8", newline="\n")
        if load_inventory(out / "inventory.yaml").principal(OFFBOARDED["id"]) is None:
            raise ConfigError(f"{inv_path}: could not add the offboarded principal to its copy")
    n_admin = max(16, events // 300)
    budget = {k: max(50, int(v * events)) for k, v in SHARES.items()}
    year = clock.local(t0).tm_year
    files: list[dict[str, Any]] = []

    def host_stream(
        host: str, avg: float, staff: bool = False, noise: bool = False
    ) -> Iterator[Timed]:
        rng = random.Random(f"{seed}:background:{host}")
        gap = (t1 - t0) * avg / budget.get(host, 1)
        return merge(
            ordered(host_admin_episodes(seed, t0, t1, n_admin, host, clean)),
            ordered(_hosts.background(rng, t0, t1, gap, staff, noise)),
        )

    for host, staff, avg in (("bastion-1", False, 0.95), ("fa-web-01", True, 1.35)):
        sink = Sink(out, f"syslog/{host}-auth.log", "syslog", timezone=zone_name, year=year)
        _hosts.write_syslog(sink, host, clock, host_stream(host, avg, staff), bad=2 * bad)
        files.append(sink.close())

    budget["ac-gpu-01"], budget["fa-db-01"], budget["mb-render-02"] = (
        budget["journald"],
        budget["auditd"],
        budget["sudo"],
    )
    sink = Sink(out, "journald/ac-gpu-01.json", "journald")
    rng = random.Random(f"{seed}:journald")
    _hosts.write_journald(
        sink, "ac-gpu-01", rng, host_stream("ac-gpu-01", 0.6), bad=2 * bad, forged=2 * bad
    )
    files.append(sink.close())

    sink = Sink(out, "auditd/fa-db-01-audit.log", "auditd")
    _audit.write_auditd(sink, "fa-db-01", host_stream("fa-db-01", 0.95), bad=bad)
    files.append(sink.close())

    sink = Sink(out, "sudo/mb-render-02-sudo.json", "sudo-json")
    rng = random.Random(f"{seed}:sudo")
    _audit.write_sudo_json(
        sink, "mb-render-02", clock, rng, host_stream("mb-render-02", 1.9, noise=True), bad=bad
    )
    files.append(sink.close())

    sink = Sink(out, "teleport/audit.json", "teleport")
    _services.write_teleport(sink, admin_sessions(seed, t0, t1, n_admin, clean), bad=2 * bad)
    files.append(sink.close())

    rotations = {"fintech-a-data": t0 + 30 * DAY + 36000.25, "ai-c-data": t0 + 45 * DAY + 39600.5}
    # the offboarded operator's decrypts: weekly in July, evenings site time (13:35 UTC)
    offboarded = tuple(t0 + (5 + 7 * k) * DAY + 48900.125 for k in range(OFFBOARDED_KEY_USES * bad))
    sink = Sink(out, "vault/audit.log", "vault")
    rng = random.Random(f"{seed}:vault")
    _services.write_vault(
        sink,
        rng,
        t0,
        t1,
        budget["vault"],
        rotations,
        cross_tenant=2 * bad,
        bad=2 * bad,
        offboarded=offboarded,
    )
    files.append(sink.close())

    observed = iso(t1)
    keystates = {
        "fintech-a-data": [
            t0 - 500 * DAY,
            t0 - 300 * DAY,
            t0 - 120 * DAY,
            rotations["fintech-a-data"],
        ],
        "ai-c-data": [t0 - 200 * DAY, rotations["ai-c-data"]],
        # planted: older than 365 days (the clean campus rotated it 100 days before the quarter)
        "media-b-data": [t0 - 800 * DAY, t0 - (100 if clean else 420) * DAY],
    }
    for key, versions in keystates.items():
        files.append(
            _keys.write_keystate(out, f"vault/keystate-{key}.json", key, versions, observed)
        )
    # key administration (a second Vault audit file) and the key state after it
    admin, admin_planted = _operations.write_admin_vault(
        out, seed, t0, keystates["media-b-data"], clean
    )
    files.extend(admin)

    kms_rotate = t0 + 60 * DAY + 7.0
    fa_arn, ac_arn = _keys.KMS_APPS[0][2], _keys.KMS_APPS[1][2]
    for key, arn, rot in (
        ("fintech-a-kms", fa_arn, [t0 - 200 * DAY]),
        ("ai-c-kms", ac_arn, [t0 - 305 * DAY, kms_rotate]),
    ):
        files.append(_keys.write_kms_rotation(out, f"kms/rotation-{key}.json", arn, rot, observed))

    rng = random.Random(f"{seed}:cloudtrail")
    trail, cross = _keys.write_cloudtrail(
        out, rng, t0, t1, budget["cloudtrail"], kms_rotate, 2 * bad
    )
    files.extend(trail)

    sink = Sink(
        out,
        "badge/door-export.csv",
        "badge-csv",
        timezone=zone_name,
        options=dict(_services.BADGE_COLUMNS),
        card_key_env=CARD_KEY_ENV,
    )
    rng = random.Random(f"{seed}:badge")
    off_hours = [] if clean else [_sunday_2am(first + timedelta(days=15), clock.zone)]
    _services.write_badge(sink, clock, rng, t0, t1, budget["badge"], off_hours, bad=2 * bad)
    files.append(sink.close())

    scans, leaks = _probes.write_scans(out, seed, t0, inv, matrix, scanned, leak)
    files.extend(scans)
    appends, missed = [], []
    if not clean:
        append, summary = _probes.write_missed(out, t0, inv, probe_plans)
        appends.append(append)
        missed.append(summary)
    # what operators record: log reviews, clock sync, backups, tenant reviews, incidents
    ops_append, ops_planted = _operations.write_operations(out, seed, t0, t1, clock.zone, clean)
    appends.append(ops_append)
    # logins, a cage controller, a console log; alarm reviews and maintenance windows (1-6)
    access_files, access_append, access_planted = _access.write_access(
        out, seed, t0, t1, n_admin, clock, zone_name, year, CARD_KEY_ENV, clean
    )
    files.extend(access_files)
    appends.append(access_append)

    files.sort(key=lambda f: f["path"])
    manifest = _manifest(
        files, cross, seed, events, first, last, inv.site or "", zone_name, observed, bad
    )
    manifest["planted"]["denied_path_reachable"] = len(leaks)
    manifest["planted"]["missed_probe_run"] = len(missed)
    # JSON-lines files of normalized events for `edgeaudit append` (no collector reads them)
    manifest["appends"] = appends
    manifest["planted_leaks"] = leaks
    manifest["missed_probe_runs"] = missed
    manifest["planted_sessions"] = [
        planted_summary(s)
        for s in admin_sessions(seed, t0, t1, n_admin, clean)
        if s.kind in PLANTED_SESSIONS
    ]
    manifest["offboarded_principals"] = [] if clean else [OFFBOARDED["id"]]
    manifest["planted_operations"] = {**ops_planted, **admin_planted}
    manifest["planted_access"] = access_planted
    manifest["planted"].update(
        {
            "failed_logon_burst_then_success": int("failed_logon_burst" in access_planted),
            "alarm_without_follow_up": int("tamper_alarm" in access_planted),
            "repeated_denied_badge": int("repeated_denied" in access_planted),
            "console_without_badge_entry": int("console_without_badge" in access_planted),
            "password_admin_logon": int("password_logon" in access_planted),
            "partner_session_outside_window": int("partner_outside_window" in access_planted),
        }
    )
    manifest["planted"].update(_operations.planted_counts(ops_planted, admin_planted))
    (out / "manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    return manifest


def collection_inventory(text: str, principal: dict[str, Any], note: str) -> str:
    """The inventory ``text`` with ``principal`` added at the head of its principals, after
    ``note`` as a comment (the rest of the file byte for byte, comments included), or
    re-serialized when the principals are not a block list the text can be spliced into."""
    block = yaml.safe_dump([principal], sort_keys=False, default_flow_style=None, width=100)
    note = "".join(f"# {line}\n" for line in textwrap.wrap(note, 90))
    m = re.search(r"^principals:[ \t]*(?:#.*)?\n((?:[ \t]*(?:#.*)?\n)*)([ \t]*)- ", text, re.M)
    if m is None:
        data = yaml.safe_load(text)
        data.setdefault("principals", []).insert(0, principal)
        return note + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    indent = m.group(2)
    spliced = "".join(indent + line + "\n" for line in (note + block).splitlines())
    at = m.start(2)
    return text[:at] + spliced + text[at:]


def _sunday_2am(after: datetime, zone: ZoneInfo) -> float:
    local = after.astimezone(zone)
    day = local.date() + timedelta(days=(6 - local.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 2, 4, 31, tzinfo=zone).timestamp()


def _manifest(
    files: list[dict[str, Any]],
    cross: int,
    seed: int,
    events: int,
    first: datetime,
    last: datetime,
    site: str,
    zone: str,
    observed: str,
    planted: int,
) -> dict[str, Any]:
    sessions = {k: count * planted for k, (count, _, _) in PLANTED_SESSIONS.items()}
    totals = {k: sum(f[k] for f in files) for k in ("records", "events", "malformed", "forged")}
    totals["quarantined"] = totals["malformed"] + totals["forged"]
    totals["appended"] = totals["events"] - cross
    return {
        "generator": GENERATOR,
        "seed": seed,
        "clean": not planted,
        "events_requested": events,
        "start": iso(first.timestamp()),
        "end": iso(last.timestamp()),
        "observed_at": observed,
        "site": site,
        "timezone": zone,
        "inventory": "inventory.yaml",
        # the matrix the nmap scans are judged against (`collect nmap --option isolation=`);
        # collect reads policies/isolation.yaml of its working directory without the option
        "isolation": "isolation.yaml",
        "card_key_env": CARD_KEY_ENV,
        "files": files,
        "totals": totals,
        "cross_file_duplicates": cross,
        "planted": {
            "admin_session_outside_grant": sessions["no_grant"],
            "self_approved_grant": sessions["self_approved"],
            "admin_override_approval": sessions["admin_override"],
            "overlong_grant": sessions["overlong"],
            "unreviewed_breakglass_login": sessions["breakglass"],
            "teleport_session_without_grant": sessions["standing_role"],
            "session_past_grant_expiry": sessions["overstay"],
            "root_shell_outside_grant": sessions["root_shell"],
            "cross_tenant_key_use": 2 * planted,
            "offboarded_principal_key_use": OFFBOARDED_KEY_USES * planted,
            "key_past_rotation_age": 1 * planted,
            "badge_outside_maintenance_window": 1 * planted,
            "forged_journald_identifier": totals["forged"],
            "malformed_lines": totals["malformed"],
        },
    }
