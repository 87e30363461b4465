"""Physical alarms answered in time, repeated denied badges of one card, and console sessions
that follow a badge entry of the same person into the room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.collect.model import Actor, Target
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    badge,
    event,
    of,
    run,
    set_rule_params,
    target,
    the,
)

FOLLOW = "physical-alarm-follow-up"
DENIED = "physical-denied-repeated"
CONSOLE = "console-after-badge-entry"


def alarm(time: str, name: str = "forced_open", door: str = "CAGE-FA-1") -> dict[str, Any]:
    kind = "physical.tamper" if name == "tamper" else "physical.alarm"
    return event(
        kind,
        time,
        on=Target(resource=door),
        outcome="unknown",
        source="badge-csv",
        attrs={} if name == "tamper" else {"alarm": name},
    )


def review(time: str, **ref: Any) -> dict[str, Any]:
    return {"time": time, "kind": "review.alarm", "reviewer": "meera.s", **ref}


@pytest.mark.parametrize(
    ("answered", "status"),
    [
        ("2026-08-02T10:00:00Z", PASS),  # exactly 24 h later
        ("2026-08-02T10:00:01Z", FAIL),  # a second late
        (None, FAIL),
    ],
)
def test_an_alarm_is_reviewed_within_the_deadline(
    ev: Evidence, pol: Path, answered: str | None, status: str
) -> None:
    a = ev.one(alarm("2026-08-01T10:00:00Z"))
    cited = [a]
    if answered:
        cited.append(ev.one(review(answered, entry=a)))
    r = the(run(pol, ev.log), FOLLOW, subject="door CAGE-FA-1")
    assert r.status == status, r.reason
    assert [e.index for e in r.evidence] == cited
    if status == FAIL:
        assert "forced_open at 2026-08-01T10:00:00Z" in r.reason


def test_follow_up_by_door_and_time_an_incident_and_who_may_review(ev: Evidence, pol: Path) -> None:
    ev.add(alarm("2026-08-01T10:00:00Z", "tamper"), alarm("2026-08-03T10:00:00Z", "held_open"))
    ev.add(
        review("2026-08-01T11:00:00Z", door="CAGE-FA-1", alarm_time="2026-08-01T10:00:00Z"),
        {
            "time": "2026-08-03T12:00:00Z",
            "kind": "incident.open",
            "entries": [1],
            "summary": "held open during a delivery",
        },
    )
    assert the(run(pol, ev.log), FOLLOW).status == PASS
    # a review by someone holding neither R nor A is cited and not counted
    ev.add(alarm("2026-08-05T10:00:00Z", door="DC-MAIN-IN"))
    ev.add({**review("2026-08-05T11:00:00Z", entry=4), "reviewer": "arjun.p"})
    r = the(run(pol, ev.log), FOLLOW, subject="door DC-MAIN-IN")
    assert r.status == FAIL
    assert "holds neither R nor A" in r.reason


def test_an_alarm_near_the_as_of_time_is_not_judged_yet(ev: Evidence, pol: Path) -> None:
    ev.add(alarm("2026-09-30T23:00:00Z"))
    assert the(run(pol, ev.log), FOLLOW).status == NOT_EVALUATED
    set_rule_params(pol / "rules.yaml", FOLLOW, "{alarms: [forced_open]}")
    ev.add(alarm("2026-08-01T10:00:00Z", "held_open"))  # not one the rule asks about
    assert the(run(pol, ev.log), FOLLOW).status == NOT_EVALUATED


def denied(time: str, card: str = "hmac-sha256:aaaa", pid: str | None = None) -> dict[str, Any]:
    who = actor(pid, "Ravi Kumar") if pid else Actor(user="Visitor 9")
    who = Actor(
        user=who.user, principal=who.principal, org=who.org, tenant=who.tenant, credential=card
    )
    return event(
        "physical.denied",
        time,
        who=who,
        on=Target(resource="DC-MAIN-IN"),
        outcome="failure",
        source="badge-csv",
        attrs={"reason": "Invalid Time Zone"},
    )


@pytest.mark.parametrize(("last", "status"), [("10:10:00", FAIL), ("10:10:01", PASS)])
def test_three_denials_of_one_card_within_ten_minutes(
    ev: Evidence, pol: Path, last: str, status: str
) -> None:
    idx = ev.add(
        denied("2026-08-01T10:00:00Z", pid="ravi.k"),
        denied("2026-08-01T10:05:00Z", pid="ravi.k"),
        denied(f"2026-08-01T{last}Z", pid="ravi.k"),
        denied("2026-08-01T10:06:00Z", card="hmac-sha256:bbbb"),  # another card
    )
    a = run(pol, ev.log)
    if status == FAIL:
        r = the(a, DENIED, subject="card hmac-sha256:aaaa")
        assert r.status == FAIL
        assert r.scope.principal == "ravi.k"
        assert [e.index for e in r.evidence] == idx[:3]
        assert "Invalid Time Zone" in r.reason
    else:
        assert [r.status for r in of(a, DENIED)] == [PASS]


def console(time: str, pid: str, asset: str, **attrs: Any) -> dict[str, Any]:
    return event(
        "session.start",
        time,
        who=actor(pid, pid.split(".")[0]),
        on=target(asset, pid.split(".")[0]),
        source="syslog",
        attrs=attrs or {"service": "login"},
    )


@pytest.mark.parametrize(
    ("entered", "status"),
    [
        ("2026-08-01T00:00:00Z", PASS),  # 12 h before
        ("2026-07-31T23:59:59Z", FAIL),  # 12 h 1 s before
        ("2026-08-01T12:00:01Z", FAIL),  # after the session started
    ],
)
def test_console_session_after_a_badge_entry(
    ev: Evidence, pol: Path, entered: str, status: str
) -> None:
    ev.add(badge(entered, "ravi.k", door="DC-MAIN-IN"))
    s = ev.one(console("2026-08-01T12:00:00Z", "ravi.k", "bastion-1"))
    r = the(run(pol, ev.log), CONSOLE, principal="ravi.k")
    assert r.status == status, r.reason
    assert s in [e.index for e in r.evidence]
    assert r.scope.asset == "bastion-1"


def test_terminals_bmc_rooms_and_remote_sessions(ev: Evidence, pol: Path) -> None:
    ev.add(badge("2026-08-01T09:00:00Z", "ravi.k", door="CAGE-MB-1"))
    ev.add(console("2026-08-01T10:00:00Z", "ravi.k", "ac-gpu-01", terminal="tty1"))
    ev.add(console("2026-08-01T10:00:00Z", "meera.s", "ac-gpu-01-bmc", method="password"))
    ev.add(console("2026-08-01T10:00:00Z", "arjun.p", "fa-db-01", terminal="ssh"))  # remote
    a = run(pol, ev.log)
    assert the(a, CONSOLE, principal="ravi.k").status == PASS  # any door without rooms
    assert the(a, CONSOLE, principal="meera.s").status == FAIL  # BMC, no entry at all
    assert of(a, CONSOLE, principal="arjun.p") == []
    set_rule_params(
        pol / "rules.yaml",
        CONSOLE,
        '{rooms: [{room: hall, doors: CAGE-AC-1, assets: "ac-gpu-01, ac-gpu-01-bmc"}]}',
    )
    r = the(run(pol, ev.log), CONSOLE, principal="ravi.k")
    assert r.status == FAIL  # CAGE-MB-1 is not a door of ac-gpu-01's room
    assert "at its room" in r.reason


def test_a_room_naming_an_unknown_asset_is_refused(pol: Path) -> None:
    from edgeaudit.errors import InputError
    from edgeaudit.policy.files import load_policies

    set_rule_params(pol / "rules.yaml", CONSOLE, "{rooms: [{doors: X, assets: nope}]}")
    with pytest.raises(InputError, match="unknown asset 'nope'"):
        load_policies(pol)
