"""Physical entries inside the weekly window (site time zone Asia/Kolkata, UTC+5:30) or a
maintenance window."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.policy.model import FAIL, PASS
from tests.policy.helpers import Evidence, badge, run, set_rule_params, the

# 2026-08-03 is a Monday; 2026-08-02 a Sunday.
CASES = [
    ("2026-08-03T02:30:00Z", PASS),  # Mon 08:00 IST: the window opens
    ("2026-08-03T02:29:59Z", FAIL),  # Mon 07:59:59 IST
    ("2026-08-03T03:00:00Z", PASS),  # Mon 08:30 IST (03:00 UTC would be outside in UTC)
    ("2026-08-03T14:29:00Z", PASS),  # Mon 19:59 IST
    ("2026-08-03T14:30:00Z", FAIL),  # Mon 20:00 IST: the window has closed
    ("2026-08-03T19:00:00Z", FAIL),  # Tue 00:30 IST (19:00 UTC would be inside in UTC)
    ("2026-08-02T05:00:00Z", FAIL),  # Sun 10:30 IST
    ("2026-08-08T05:00:00Z", PASS),  # Sat 10:30 IST
]


@pytest.mark.parametrize(("time", "status"), CASES)
def test_entry_inside_and_outside_the_weekly_window(
    ev: Evidence, pol: Path, time: str, status: str
) -> None:
    i = ev.one(badge(time, "ravi.k"))
    r = the(run(pol, ev.log), "physical-entry-windows", principal="ravi.k")
    assert r.status == status, r.reason
    assert [e.index for e in r.evidence] == [i]
    if status == FAIL:
        assert "Asia/Kolkata" in r.reason
        assert time in r.reason


def test_maintenance_window_allows_a_sunday_entry(ev: Evidence, pol: Path) -> None:
    set_rule_params(
        pol / "rules.yaml",
        "physical-entry-windows",
        '{windows: ["Mon-Sat 08:00-20:00"], maintenance: [{from: 2026-08-02T04:00:00Z, '
        "to: 2026-08-02T06:00:00Z, reason: CHG-1}]}",
    )
    ev.add(badge("2026-08-02T05:00:00Z", "arjun.p"), badge("2026-08-02T06:00:00Z", "ravi.k"))
    a = run(pol, ev.log)
    assert the(a, "physical-entry-windows", principal="arjun.p").status == PASS
    assert the(a, "physical-entry-windows", principal="ravi.k").status == FAIL  # at its end


def test_one_bad_entry_fails_the_person_and_cites_only_it(ev: Evidence, pol: Path) -> None:
    _ok, bad = ev.add(
        badge("2026-08-03T05:00:00Z", "lena.f"), badge("2026-08-02T05:00:00Z", "lena.f")
    )
    r = the(run(pol, ev.log), "physical-entry-windows", principal="lena.f")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [bad]
    assert "1 time" in r.reason
