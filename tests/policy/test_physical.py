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


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("Mon-Sun 22:00-06:00", "ends before it starts"),  # would silently match nothing
        ("Mon-Fri 08:00-08:00", "ends before it starts"),
        ("Mon-Fri 08:00-25:00", "not a time of day"),
        ("Mon-Fri 08:75-20:00", "not a time of day"),
    ],
)
def test_window_that_can_match_nothing_is_rejected(pol: Path, window: str, problem: str) -> None:
    from edgeaudit.errors import InputError
    from edgeaudit.policy.files import load_policies

    set_rule_params(pol / "rules.yaml", "physical-entry-windows", f'{{windows: ["{window}"]}}')
    with pytest.raises(InputError, match=problem) as err:
        load_policies(pol)
    assert str(err.value).startswith(f"{pol / 'rules.yaml'}:")


def test_window_until_midnight_and_split_overnight_windows(ev: Evidence, pol: Path) -> None:
    set_rule_params(
        pol / "rules.yaml",
        "physical-entry-windows",
        '{windows: ["Mon-Fri 22:00-24:00", "Tue-Sat 00:00-06:00"]}',
    )
    ev.add(
        badge("2026-08-03T18:29:00Z", "ravi.k"),  # Mon 23:59 IST
        badge("2026-08-03T20:00:00Z", "ravi.k"),  # Tue 01:30 IST
        badge("2026-08-04T01:00:00Z", "arjun.p"),  # Tue 06:30 IST
    )
    a = run(pol, ev.log)
    assert the(a, "physical-entry-windows", principal="ravi.k").status == PASS
    assert the(a, "physical-entry-windows", principal="arjun.p").status == FAIL
