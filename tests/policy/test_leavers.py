"""Leavers: a principal whose access ended has no activity after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import Evidence, badge, edit, key_use, logon, of, only_rules, run, the

RULE = "leaver-activity"


@pytest.fixture
def pol(pol: Path) -> Path:
    only_rules(pol / "rules.yaml", [RULE])
    return pol


def test_activity_after_the_end_date_fails_citing_every_entry(ev: Evidence, pol: Path) -> None:
    # kiran.m is listed under leavers (end 2026-07-15): activity up to then is theirs to have
    before = ev.one(key_use("2026-07-14T23:59:59Z", "kiran.m", "fintech-a-data", "decrypt"))
    r = the(run(pol, ev.log), RULE, principal="kiran.m")
    assert r.status == PASS
    assert r.evidence == ()
    after = ev.add(
        key_use("2026-07-15T00:00:00Z", "kiran.m", "fintech-a-data", "decrypt"),
        logon("2026-08-01T10:00:00Z", "kiran.m", "bastion-1", "kiran"),
        badge("2026-08-02T10:00:00Z", "kiran.m"),
    )
    r = the(run(pol, ev.log), RULE, principal="kiran.m")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == after
    assert before not in [e.index for e in r.evidence]
    assert "access ended 2026-07-15T00:00:00Z (listed as a leaver)" in r.reason
    assert "auth.logon, key.use, physical.access" in r.reason


def test_a_principal_end_date_and_reviews_they_sign(ev: Evidence, pol: Path) -> None:
    inv = pol / "inventory.yaml"
    edit(inv, "  - id: arjun.p\n", "  - id: arjun.p\n    end_date: 2026-09-01T12:00:00Z\n")
    ev.one(logon("2026-09-01T11:59:59Z", "arjun.p", "bastion-1", "arjun"))
    assert the(run(pol, ev.log), RULE, principal="arjun.p").status == PASS
    i = ev.one(
        {"time": "2026-09-02T00:00:00Z", "kind": "review.log", "reviewer": "arjun.p"}
    )  # signing a review after leaving is activity too
    r = the(run(pol, ev.log), RULE, principal="arjun.p")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [i]


def test_an_end_date_after_the_as_of_time_is_not_judged_yet(ev: Evidence, pol: Path) -> None:
    edit(pol / "inventory.yaml", "end_date: 2026-07-15,", "end_date: 2026-12-01,")
    ev.one(key_use("2026-08-01T00:00:00Z", "kiran.m", "fintech-a-data"))
    assert [r.status for r in of(run(pol, ev.log), RULE)] == [NOT_EVALUATED]  # nothing in scope
