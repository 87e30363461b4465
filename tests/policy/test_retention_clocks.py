"""Retention and collection gaps (from the store's daily summaries) and clock sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import Evidence, event, only_rules, run, set_rule_params, the

RET, CLOCK = "evidence-retention", "clock-sync"


@pytest.fixture
def pol(pol: Path) -> Path:
    only_rules(pol / "rules.yaml", [RET, CLOCK])
    return pol


def daily(ev: Evidence, source: str, days: list[str], hour: str = "12") -> list[int]:
    return ev.add(*(event("auth.logon", f"{d}T{hour}:00:00Z", source=source) for d in days))


def dates(start: str, n: int) -> list[str]:
    from datetime import date, timedelta

    d = date.fromisoformat(start)
    return [(d + timedelta(days=k)).isoformat() for k in range(n)]


HORIZON_30 = "{horizons: [{jurisdiction: '*', keep: 30d, reason: test}], max_gap: 2d, max_gaps: []}"


def test_a_source_reaching_back_past_the_horizon_without_gaps_passes(
    ev: Evidence, pol: Path
) -> None:
    set_rule_params(pol / "rules.yaml", RET, HORIZON_30)
    daily(ev, "syslog", dates("2026-08-25", 37))  # to 2026-09-30
    r = the(run(pol, ev.log), RET, subject="source syslog")
    assert r.status == PASS
    assert "back past the 30-day horizon (test)" in r.reason


def test_a_gap_longer_than_the_limit_fails_citing_where_collection_resumed(
    ev: Evidence, pol: Path
) -> None:
    set_rule_params(pol / "rules.yaml", RET, HORIZON_30)
    days = dates("2026-08-25", 37)
    # 09-10 12:00 to 09-12 12:00 is exactly 2 days: not over the limit; 09-20 to 09-23 is
    first = [d for d in days if d not in ("2026-09-11", "2026-09-21", "2026-09-22")]
    idx = dict(zip(first, daily(ev, "syslog", first), strict=True))
    r = the(run(pol, ev.log), RET, subject="source syslog")
    assert r.status == FAIL
    assert "1 collection gap of syslog longer than 2 days (longest 3.0)" in r.reason
    assert "2026-09-20T12:00:00Z to 2026-09-23T12:00:00Z" in r.reason
    assert [e.index for e in r.evidence] == [idx["2026-09-23"]]


def test_a_source_that_stopped_fails_and_a_young_store_is_not_evaluated(
    ev: Evidence, pol: Path
) -> None:
    daily(ev, "vault", dates("2026-09-01", 30))
    badge = daily(ev, "badge-csv", dates("2026-09-01", 20))  # nothing since 09-20
    a = run(pol, ev.log)
    r = the(a, RET, subject="source vault")
    assert r.status == NOT_EVALUATED  # 365 days cannot be shown by 30 days of evidence
    assert "cannot be shown before 2027-09-01T12:00:00Z" in r.reason
    r = the(a, RET, subject="source badge-csv")
    assert r.status == FAIL  # it stopped while the vault log went on (to 09-30)
    assert "2026-09-20T12:00:00Z to 2026-09-30T12:00:00Z (10.0 days)" in r.reason
    assert [e.index for e in r.evidence] == [badge[-1]]


def test_a_store_collected_on_one_day_has_no_gap_yet(ev: Evidence, pol: Path) -> None:
    daily(ev, "syslog", ["2026-08-03"])
    r = the(run(pol, ev.log), RET, subject="source syslog")
    assert r.status == NOT_EVALUATED


def test_gap_limits_below_a_day_are_refused(pol: Path) -> None:
    from edgeaudit.errors import InputError
    from edgeaudit.policy.files import load_policies

    set_rule_params(pol / "rules.yaml", RET, "{max_gap: 12h}")
    with pytest.raises(InputError, match="below a day"):
        load_policies(pol)


def clock(time: str, asset: str, **kw: Any) -> dict[str, Any]:
    rec = {"server": "samay1.nic.in", "offset_ms": 3.5, "synced": True, **kw}
    return {"time": time, "kind": "clock.sync", "asset": asset, **rec}


def test_clock_sync(ev: Evidence, pol: Path) -> None:
    ok = ev.add(*(clock(f"{d}T06:00:00Z", "fa-db-01") for d in dates("2026-07-01", 92)))
    a = run(pol, ev.log)
    r = the(a, CLOCK, asset="fa-db-01")
    assert r.status == PASS
    assert r.scope.tenant == "fintech-a"
    assert len(r.evidence) == 25
    bad = ev.add(
        clock("2026-08-01T07:00:00Z", "fa-db-01", server="pool.ntp.org"),
        clock("2026-08-01T08:00:00Z", "fa-db-01", offset_ms=-250.0),
        clock("2026-08-01T09:00:00Z", "fa-db-01", synced=False),
    )
    r = the(run(pol, ev.log), CLOCK, asset="fa-db-01")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == bad
    assert "pool.ntp.org" in r.reason
    assert "offset -250 ms" in r.reason
    assert "not synchronized" in r.reason
    assert ok


def test_clock_sync_gap(ev: Evidence, pol: Path) -> None:
    days = [d for d in dates("2026-07-01", 92) if d != "2026-08-10"]
    ev.add(*(clock(f"{d}T06:00:00Z", "bastion-1") for d in days))
    r = the(run(pol, ev.log), CLOCK, asset="bastion-1")
    assert r.status == FAIL
    assert "no record from 2026-08-09T06:00:00Z to 2026-08-11T06:00:00Z" in r.reason
    assert len(r.evidence) == 2
