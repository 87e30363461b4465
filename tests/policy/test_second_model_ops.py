"""Checks 7-12 of issue 15 on the second operating model (``second_model/``: fra-edge-7 in
Europe/Berlin, whose summer time ends inside the assessed quarter 2026Q4), each with a planted
violation and a near miss at its boundary, parameters of that model (400-day horizon, one-day
gaps, 12-hour clock cadence, 20 ms, 60-day tenant recertification, BSI 24 h and HBDI 72 h)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edgeaudit.collect.model import Actor, KeyRef
from edgeaudit.policy.context import epoch, iso
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import Evidence, event, the
from tests.policy.test_second_model import INV, assess

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


def who(pid: str) -> Actor:
    p = INV.principal(pid)
    if p is None:  # a leaver: resolved when collected, since removed
        return Actor(user=pid, principal=pid, org="operator")
    return Actor(user=pid, principal=pid, org=p.org, tenant=p.tenant)


def local(day: date, hour: int, minute: int = 0) -> str:
    t = datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(base: str, seconds: float) -> str:
    return iso(epoch(base) + seconds)


QUARTER = [date(2026, 10, 1) + timedelta(days=k) for k in range(92)]


def test_residency_backup_of_a_tenant_outside_its_regions(ev: Evidence) -> None:
    backup = {"kind": "backup.run", "destination": "s3://lake"}
    bad = ev.one(
        {
            **backup,
            "time": "2026-11-02T01:00:00Z",
            "tenant": "lumen-health",
            "region": "eu-central-1",
        }
    )
    ev.one(
        {**backup, "time": "2026-11-02T02:00:00Z", "tenant": "orbit-media", "region": "eu-west-1"}
    )
    a = assess(ev)
    r = the(a, "data-stays-in-region", tenant="lumen-health", subject="backup: s3://lake")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [bad]
    assert "lumen-health's allowed regions (de-fra)" in r.reason
    near = the(a, "data-stays-in-region", tenant="orbit-media", subject="backup: s3://lake")
    assert near.status == PASS
    # the archive holds harbor-pay's and orbit-media's data, not lumen-health's
    assert the(a, "data-stays-in-region", tenant="harbor-pay", subject="backup: cold-archive")
    assert not [
        r
        for r in a.results
        if r.scope.subject == "backup: cold-archive" and r.scope.tenant == "lumen-health"
    ]


def test_daily_log_review_through_the_25_hour_day(ev: Evidence) -> None:
    ev.add(*({"time": local(d, 8), "kind": "review.log", "reviewer": "tobias.r"} for d in QUARTER))
    assert the(assess(ev), "logs-read-daily").status == PASS


def test_a_day_without_log_review_fails(ev: Evidence) -> None:
    days = [d for d in QUARTER if d != date(2026, 10, 25)]
    ev.add(*({"time": local(d, 8), "kind": "review.log", "reviewer": "tobias.r"} for d in days))
    r = the(assess(ev), "logs-read-daily")
    assert r.status == FAIL
    assert dict(r.observed)["missed_days"] == ["2026-10-25"]


def clock(time: str, **kw: Any) -> dict[str, Any]:
    rec = {"asset": "jump-fra", "server": "ptbtime1.ptb.de", "offset_ms": 20, "synced": True}
    return {"time": time, "kind": "clock.sync", **rec, **kw}


def test_clock_cadence_is_elapsed_time_and_offset_boundary(ev: Evidence) -> None:
    start = "2026-10-01T00:00:00Z"
    ev.add(*(clock(at(start, 12 * 3600 * k)) for k in range(184)))  # every 12 h, to the end
    assert the(assess(ev), "clocks-on-ptb", asset="jump-fra").status == PASS
    bad = ev.add(
        clock("2026-10-25T01:30:00Z", offset_ms=-21),
        clock("2026-10-25T02:30:00Z", server="pool.ntp.org"),
    )
    r = the(assess(ev), "clocks-on-ptb", asset="jump-fra")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == bad


def test_clock_gap_one_second_over_the_cadence(ev: Evidence) -> None:
    start = "2026-10-01T00:00:00Z"
    times = [at(start, 12 * 3600 * k) for k in range(184)]
    times[100] = at(times[100], 1)  # 12 h + 1 s after the one before
    ev.add(*(clock(t) for t in times))
    r = the(assess(ev), "clocks-on-ptb", asset="jump-fra")
    assert r.status == FAIL
    assert "1 gap over 12 h" in r.reason


def test_key_administration_by_the_crypto_officer_only_and_root_token(ev: Evidence) -> None:
    ref = KeyRef("hp-ledger-key", "vault-transit", "rotate", "harbor-pay", True)
    ok = ev.one(event("key.rotate", "2026-10-10T10:00:00Z", who=who("karl.b"), key=ref))
    bad = ev.one(event("key.rotate", "2026-10-11T10:00:00Z", who=who("tobias.r"), key=ref))
    root = Actor(user="root", credential="root-token")
    r_ev = ev.one(
        event("vault.request", "2026-10-12T10:00:00Z", who=root, attrs={"path": "sys/seal"})
    )
    a = assess(ev)
    assert [e.index for e in the(a, "key-admin-by-custody", principal="karl.b").evidence] == [ok]
    r = the(a, "key-admin-by-custody", principal="tobias.r")
    assert r.status == FAIL
    assert "(crypto-officer)" in r.reason
    assert [e.index for e in r.evidence] == [bad]
    r = the(a, "no-root-token")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [r_ev]


def test_leaver_activity_from_the_end_time_on(ev: Evidence) -> None:
    ref = KeyRef("lh-phi-key", "vault-transit", "decrypt", "lumen-health", True)
    ev.one(event("key.use", "2026-11-15T16:59:59Z", who=who("mia.k"), key=ref, source="vault"))
    assert the(assess(ev), "no-leaver-activity", principal="mia.k").status == PASS
    i = ev.one(event("key.use", "2026-11-15T17:00:00Z", who=who("mia.k"), key=ref, source="vault"))
    r = the(assess(ev), "no-leaver-activity", principal="mia.k")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [i]


def recert(time: str, reviewer: str, subjects: list[str]) -> dict[str, Any]:
    return {
        "time": time,
        "kind": "review.access",
        "tenant": "harbor-pay",
        "reviewer": reviewer,
        "subjects": subjects,
    }


@pytest.mark.parametrize(
    ("when", "status"), [("2026-11-02T00:00:00Z", PASS), ("2026-11-01T23:59:59Z", FAIL)]
)
def test_tenant_recertification_every_60_days(ev: Evidence, when: str, status: str) -> None:
    ev.add(
        recert(when, "amara.h", ["lars.h", "svc-hp-ledger"]),
        recert("2026-12-01T00:00:00Z", "sofia.m", ["amara.h"]),  # a duty manager (A)
    )
    r = the(assess(ev), "tenant-recert-60d", tenant="harbor-pay")
    assert r.status == status, r.reason


def test_a_tenant_ciso_cannot_recertify_another_tenant(ev: Evidence) -> None:
    ev.one(
        {**recert("2026-11-10T00:00:00Z", "jonas.l", ["svc-om-transcode"]), "tenant": "orbit-media"}
    )
    r = the(assess(ev), "tenant-recert-60d", tenant="orbit-media")
    assert r.status == FAIL
    assert "jonas.l is not orbit-media's reviewer" in r.reason


@pytest.mark.parametrize(("delay", "status"), [(24 * 3600, PASS), (24 * 3600 + 1, FAIL)])
def test_bsi_within_24_elapsed_hours_across_the_clock_change(
    ev: Evidence, delay: int, status: str
) -> None:
    aware = "2026-10-24T23:30:00Z"  # 01:30 summer time; 24 h later the wall clock says 00:30
    base = {"incident": "FRA-7", "tenant": "harbor-pay"}
    ev.add(
        {"time": aware, "kind": "incident.declared", "detected": aware, **base},
        {"time": at(aware, delay), "kind": "incident.reported", "authority": "BSI", **base},
        {"time": at(aware, 3600), "kind": "incident.reported", "authority": "HBDI", **base},
    )
    r = the(assess(ev), "incidents-notified", tenant="harbor-pay")
    assert r.status == status, r.reason


def test_retention_over_the_model_horizon(ev: Evidence) -> None:
    end = epoch("2027-01-01T00:00:00Z")
    days = [iso(end - 86400 * k - 43200) for k in range(401)]  # 400.5 days back, daily
    ev.add(*(event("auth.logon", t, source="syslog") for t in sorted(days)))
    a = assess(ev)
    r = the(a, "logs-kept-a-year", subject="source syslog")
    assert r.status == PASS
    assert "400-day horizon (the cage's contract" in r.reason
    r = the(a, "logs-kept-a-year", subject="source vault")  # listed, never collected
    assert r.status == FAIL
    assert "no entry in the store" in r.reason


def test_retention_gap_one_second_over_a_day(ev: Evidence) -> None:
    start = epoch("2026-12-01T00:00:00Z")
    times = [iso(start + 86400 * k) for k in range(31)]
    times[10] = iso(start + 86400 * 10 + 1)
    ev.add(*(event("auth.logon", t, source="syslog") for t in times))
    r = the(assess(ev), "logs-kept-a-year", subject="source syslog")
    assert r.status == FAIL
    assert "longer than 1 days" in r.reason
    assert len(r.evidence) == 1


def test_a_month_of_evidence_cannot_show_the_horizon(ev: Evidence) -> None:
    start = epoch("2026-12-01T00:00:00Z")
    ev.add(*(event("auth.logon", iso(start + 86400 * k), source="syslog") for k in range(31)))
    r = the(assess(ev), "logs-kept-a-year", subject="source syslog")
    assert r.status == NOT_EVALUATED
    assert "cannot be shown before" in r.reason
