"""Per-tenant access reviews, daily log reviews in site-local days (daylight saving included)
and incident reporting deadlines in elapsed hours."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE
from tests.policy.helpers import Evidence, edit, only_rules, run, the

TENANT, LOGS, INC = "tenant-access-review", "log-review-daily", "incident-reporting"
BERLIN = ZoneInfo("Europe/Berlin")  # summer time ends 2026-10-25 03:00 (a 25-hour day)


@pytest.fixture
def pol(pol: Path) -> Path:
    only_rules(pol / "rules.yaml", [TENANT, LOGS, INC])
    return pol


def review(time: str, tenant: str, reviewer: str, subjects: list[str] | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"time": time, "kind": "review.access", "tenant": tenant}
    rec["reviewer"] = reviewer
    if subjects is not None:
        rec["subjects"] = subjects
    return rec


def test_tenant_reviewed_by_its_reviewer_and_the_reviewer_by_someone_else(
    ev: Evidence, pol: Path
) -> None:
    first = ev.one(review("2026-08-01T09:00:00Z", "fintech-a", "lena.f", ["svc-fintech-a"]))
    r = the(run(pol, ev.log), TENANT, tenant="fintech-a")
    assert r.status == FAIL  # lena.f cannot review herself: she is left out
    assert "no review of lena.f (fintech-a)" in r.reason
    second = ev.one(review("2026-08-01T10:00:00Z", "fintech-a", "meera.s", ["lena.f"]))
    r = the(run(pol, ev.log), TENANT, tenant="fintech-a")
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [first, second]
    assert "by lena.f, meera.s" in r.reason


def test_a_reviewer_without_r_or_a_for_the_tenant_is_refused(ev: Evidence, pol: Path) -> None:
    i = ev.one(review("2026-08-01T09:00:00Z", "ai-c", "ravi.k", ["svc-ai-c"]))
    # lena.f is fintech-a's security lead: R for fintech-a only
    j = ev.one(review("2026-08-02T09:00:00Z", "ai-c", "lena.f", None))
    r = the(run(pol, ev.log), TENANT, tenant="ai-c")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [i, j]
    assert "ravi.k is not ai-c's reviewer and holds neither R nor A" in r.reason
    assert "lena.f is not ai-c's reviewer" in r.reason
    # no review at all of a tenant: not evaluated; a tenant review never counts site-wide
    assert the(run(pol, ev.log), TENANT, tenant="media-b").status == NOT_EVALUATED


def test_tenant_review_cadence(ev: Evidence, pol: Path) -> None:
    ev.one(review("2026-06-20T09:00:00Z", "media-b", "meera.s", None))
    r = the(run(pol, ev.log), TENANT, tenant="media-b")
    assert r.status == FAIL  # 92 days after 06-20 is 09-20: overdue at the period's end
    assert "due 2026-09-20T09:00:00Z" in r.reason
    r = the(run(pol, ev.log, end="2026-09-01T00:00:00Z"), TENANT, tenant="media-b")
    assert r.status == STALE


def _berlin(pol: Path) -> None:
    edit(pol / "inventory.yaml", "timezone: Asia/Kolkata", "timezone: Europe/Berlin")


def _at(day: date, hour: int, minute: int = 0) -> str:
    t = datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone()
    return t.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_review(time: str, reviewer: str = "ravi.k") -> dict[str, Any]:
    return {"time": time, "kind": "review.log", "reviewer": reviewer}


PERIOD = {
    "start": "2026-10-20T00:00:00Z",
    "end": "2026-10-30T00:00:00Z",
    "now": "2026-11-01T00:00:00Z",
}


def test_daily_log_review_across_the_end_of_summer_time(ev: Evidence, pol: Path) -> None:
    _berlin(pol)
    days = [date(2026, 10, 20) + timedelta(days=k) for k in range(10)]
    # 09:00 every site-local day: 25 hours apart across 2026-10-25, still one a day
    ev.add(*(log_review(_at(d, 9)) for d in days))
    r = the(run(pol, ev.log, **PERIOD), LOGS)
    assert r.status == PASS
    assert "Europe/Berlin" in r.reason


def test_a_missed_site_local_day_fails_naming_it(ev: Evidence, pol: Path) -> None:
    _berlin(pol)
    days = [date(2026, 10, 20) + timedelta(days=k) for k in range(10)]
    # late on the 24th, then just after midnight on the 26th: the 25th had none
    times = [_at(d, 9) for d in days if d.day not in (24, 25, 26)]
    times += [_at(date(2026, 10, 24), 23, 30), _at(date(2026, 10, 26), 0, 30)]
    ev.add(*(log_review(t) for t in sorted(times)))
    r = the(run(pol, ev.log, **PERIOD), LOGS)
    assert r.status == FAIL
    assert dict(r.observed)["missed_days"] == ["2026-10-25"]
    # a reviewer who may not review (no R or A for log-review) does not count
    ev.one(log_review(_at(date(2026, 10, 25), 12), reviewer="lena.f"))
    r = the(run(pol, ev.log, **PERIOD), LOGS)
    assert r.status == FAIL
    assert "lena.f holds neither R nor A" in r.reason


def incident(time: str, inc: str, tenant: str | None, detected: str | None = None) -> Any:
    rec: dict[str, Any] = {"time": time, "kind": "incident.open", "incident": inc}
    if tenant:
        rec["tenant"] = tenant
    if detected:
        rec["detected"] = detected
    return rec


def report(time: str, inc: str, authority: str) -> dict[str, Any]:
    return {"time": time, "kind": "incident.reported", "incident": inc, "authority": authority}


def test_reporting_deadlines_are_elapsed_hours_across_a_clock_change(
    ev: Evidence, pol: Path
) -> None:
    _berlin(pol)
    # aware 02:30 summer time; the clocks go back at 03:00; 07:20 winter time is 5 h 50 later
    ev.add(
        incident("2026-10-25T00:40:00Z", "INC-1", "fintech-a", detected="2026-10-25T00:30:00Z"),
        report("2026-10-25T06:20:00Z", "INC-1", "CERT-In"),
        report("2026-10-26T00:00:00Z", "INC-1", "DPB"),
    )
    r = the(run(pol, ev.log, **PERIOD), INC, tenant="fintech-a")
    assert r.status == PASS
    assert len(r.evidence) == 3
    # 07:40 winter time: only 5 h 10 by the wall clock, but 6 h 10 elapsed
    ev.add(
        incident("2026-10-25T00:30:00Z", "INC-2", "ai-c"),
        report("2026-10-25T06:40:00Z", "INC-2", "CERT-In"),
        report("2026-10-26T00:00:00Z", "INC-2", "DPB"),
    )
    r = the(run(pol, ev.log, **PERIOD), INC, tenant="ai-c")
    assert r.status == FAIL
    assert "CERT-In at 2026-10-25T06:40:00Z, 0.2 h after the 6 h deadline" in r.reason


def test_missing_and_not_yet_due_reports(ev: Evidence, pol: Path) -> None:
    ev.add(incident("2026-09-01T00:00:00Z", "INC-3", None))  # site-wide: every tenant
    a = run(pol, ev.log)
    for t in ("fintech-a", "media-b", "ai-c"):
        r = the(a, INC, tenant=t, subject="incident INC-3")
        assert r.status == FAIL
        assert "CERT-In: no report, due 2026-09-01T06:00:00Z" in r.reason
    ev.add(incident("2026-09-30T22:00:00Z", "INC-4", "media-b"))
    r = the(run(pol, ev.log), INC, tenant="media-b", subject="incident INC-4")
    assert r.status == NOT_EVALUATED  # due after the as-of time (the period's end)
    assert "not yet due" in r.reason


def test_a_jurisdiction_without_deadlines_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    edit(
        pol / "inventory.yaml",
        "{id: ai-c, name: AI C Labs, jurisdiction: IN,",
        "{id: ai-c, name: AI C Labs, jurisdiction: BR,",
    )
    ev.add(incident("2026-09-01T00:00:00Z", "INC-5", "ai-c"))
    r = the(run(pol, ev.log), INC, tenant="ai-c")
    assert r.status == NOT_EVALUATED
    assert "(BR)" in r.reason


def test_a_tenant_review_is_not_the_site_access_review(ev: Evidence, pol: Path) -> None:
    on = "  - id: access-review-cadence\n"
    edit(pol / "rules.yaml", on + "    enabled: false\n", on)  # switched back on
    ev.one(review("2026-08-01T09:00:00Z", "media-b", "meera.s", None))
    a = run(pol, ev.log)
    assert the(a, "access-review-cadence").status == NOT_EVALUATED
    assert the(a, TENANT, tenant="media-b").status == PASS
