"""Issue 15 checks 1-6 on the second operating model (``second_model/``: fra-edge-7, Europe/Berlin,
2026Q4 with the end of DST on 2026-10-25), stricter parameters than the demo's: alarms answered
within 4 h (incidents are ``incident.declared`` here), two denials in 5 min, console sessions
after an entry at the door of the asset's room within 2 h, bursts of 5 failures in 2 min,
certificates only (a plain key is not enough), the partner's standing Tuesday window on
lumen-health, re-tests within 3 days of a matrix change. Expectations written from the checks'
contracts; evidence in the collectors' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from edgeaudit.collect.model import Actor, Target
from edgeaudit.policy.model import FAIL, PASS
from tests.policy.helpers import Evidence, event, of, the
from tests.policy.test_second_model import (
    actor,
    assess,
    badge,
    breakglass_review,
    probe_run,
    ssh_logoff,
    ssh_logon,
    target,
    teleport_session,
)

ALARMS = "alarm-answered-4h"
DENIALS = "badge-denied-twice"
CONSOLE = "console-needs-cage-entry"
BURSTS = "auth-bursts-5-in-2m"
AFTER = "auth-success-after-burst"
GENERIC = "no-generic-logons"
CERTS = "certificates-only"
PARTNER = "rackcare-in-windows"
MISSES = "probe-misses"
RETEST = "isolation-retest-3d"


def alarm(time: str, name: str = "forced_open", door: str = "fra-cage-3") -> dict[str, Any]:
    return event(
        "physical.tamper" if name == "tamper" else "physical.alarm",
        time,
        on=Target(resource=door),
        outcome="unknown",
        source="badge-csv",
        attrs={} if name == "tamper" else {"alarm": name},
    )


def test_alarms_answered_within_four_hours_across_the_dst_change(ev: Evidence) -> None:
    # 2026-10-25 00:30Z is 02:30 CEST; the clocks go back at 01:00Z: four real hours, not wall
    a1 = ev.one(alarm("2026-10-25T00:30:00Z"))
    ev.one(
        {"time": "2026-10-25T04:30:00Z", "kind": "review.alarm", "entry": a1, "reviewer": "ines.w"}
    )
    a2 = ev.one(alarm("2026-11-03T08:00:00Z", "tamper", door="fra-core-1"))
    ev.one({"time": "2026-11-03T12:00:01Z", "kind": "incident.declared", "entries": [a2]})
    a3 = ev.one(alarm("2026-11-04T08:00:00Z", door="fra-cage-9"))
    # a platform engineer holds neither R nor A for site-security; incident.open is not a
    # follow-up kind of this model
    ev.one(
        {
            "time": "2026-11-04T09:00:00Z",
            "kind": "review.alarm",
            "entry": a3,
            "reviewer": "tobias.r",
        }
    )
    ev.one({"time": "2026-11-04T09:00:00Z", "kind": "incident.open", "entry": a3})
    a = assess(ev)
    assert the(a, ALARMS, subject="door fra-cage-3").status == PASS
    late = the(a, ALARMS, subject="door fra-core-1")
    assert late.status == FAIL
    assert "followed up late (incident.declared at 2026-11-03T12:00:01Z)" in late.reason
    r = the(a, ALARMS, subject="door fra-cage-9")
    assert r.status == FAIL
    assert "tobias.r holds neither R nor A" in r.reason


def denial(time: str, pid: str) -> dict[str, Any]:
    who = actor(pid, "Piet Visser")
    who = Actor(user=who.user, principal=who.principal, org=who.org, credential="hmac-sha256:p1")
    return event(
        "physical.denied",
        time,
        who=who,
        on=Target(resource="fra-cage-3"),
        outcome="failure",
        source="badge-csv",
        attrs={"reason": "Expired credential"},
    )


@pytest.mark.parametrize(("second", "status"), [("05:00", FAIL), ("05:01", PASS)])
def test_two_denials_within_five_minutes(ev: Evidence, second: str, status: str) -> None:
    ev.add(denial("2026-11-10T09:00:00Z", "piet.v"), denial(f"2026-11-10T09:{second}Z", "piet.v"))
    rs = of(assess(ev), DENIALS)
    assert [r.status for r in rs] == [status]
    if status == FAIL:
        assert rs[0].scope.principal == "piet.v"


def ilo_session(time: str, end: str) -> list[dict[str, Any]]:
    """A login on the PACS server's iLO (a BMC: at the machine by definition)."""
    on = target("lh-pacs-01-ilo", "Administrator")
    who = actor("piet.v", "piet")
    return [
        event("auth.logon", time, who=who, on=on, source="syslog", attrs={"method": "password"}),
        event("auth.logoff", end, who=who, on=on, source="syslog"),
    ]


@pytest.mark.parametrize(
    ("door", "before", "status"),
    [
        ("fra-cage-3", 7200, PASS),  # the room's door, 2 h before
        ("fra-cage-3", 7201, FAIL),  # 2 h 1 s before
        ("fra-core-1", 600, FAIL),  # a door of another room
    ],
)
def test_bmc_session_after_an_entry_into_its_room(
    ev: Evidence, door: str, before: int, status: str
) -> None:
    from edgeaudit.policy.context import epoch, iso

    start = "2026-11-17T21:40:00Z"  # Tuesday 22:40 CET, inside the partner's window
    ev.add(badge(iso(epoch(start) - before), "piet.v", door=door))
    ev.add(ilo_session(start, "2026-11-17T22:10:00Z"))
    a = assess(ev)
    r = the(a, CONSOLE, principal="piet.v")
    assert r.status == status, r.reason
    assert (r.scope.asset, r.scope.tenant) == ("lh-pacs-01-ilo", "lumen-health")
    # a BMC session is not judged on its logon method (the console rule's part)
    assert of(a, CERTS, principal="piet.v") == []
    assert the(a, PARTNER, principal="piet.v").status == PASS


def failed(second: int, ip: str = "192.0.2.50", user: str = "cloud-user") -> dict[str, Any]:
    from edgeaudit.policy.context import epoch, iso

    return event(
        "auth.logon_failed",
        iso(epoch("2026-12-01T03:00:00Z") + second),
        who=Actor(user=user, src_ip=ip),
        on=target("hp-api-01", user),
        outcome="failure",
        source="syslog",
        attrs={"method": "password", "program": "sshd"},
    )


def test_five_failures_in_two_minutes_then_a_logon_from_the_address(ev: Evidence) -> None:
    burst = ev.add(*(failed(30 * i) for i in range(5)))  # 0..120 s
    ev.add(*(failed(31 * i, ip="192.0.2.51", user=f"x{i}") for i in range(5)))  # 124 s: none
    ok = ev.one(
        event(
            "auth.logon",
            "2026-12-01T03:07:00Z",  # 5 min after the last failure
            who=actor("yuki.o", "yuki", src_ip="192.0.2.50"),
            on=target("hp-api-01", "yuki"),
            source="syslog",
            attrs={"method": "publickey"},
        )
    )
    a = assess(ev)
    r = the(a, BURSTS, subject="source 192.0.2.50")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == burst
    assert of(a, BURSTS, subject="source 192.0.2.51") == []
    after = the(a, AFTER, subject="source 192.0.2.50")
    assert after.status == FAIL
    assert [e.index for e in after.evidence] == [*burst, ok]
    assert after.scope.principal == "yuki.o"


def test_generic_accounts_and_the_break_glass_account(ev: Evidence) -> None:
    cloud = ev.add(
        ssh_logon("2026-11-02T10:00:00Z", None, "om-encode-01", 501, user="cloud-user"),
        ssh_logoff("2026-11-02T10:20:00Z", None, "om-encode-01", 501, user="cloud-user"),
    )
    sos = ev.one(ssh_logon("2026-11-03T10:00:00Z", None, "jump-fra", 502, user="sos-root"))
    ev.one(breakglass_review("2026-11-03T12:00:00Z", sos, "ines.w"))
    a = assess(ev)
    r = the(a, GENERIC, asset="om-encode-01")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == cloud
    assert r.scope.tenant == "orbit-media"
    assert the(a, GENERIC, asset="jump-fra").status == PASS


@pytest.mark.parametrize(
    ("extra", "status"),
    [({}, FAIL), ({"cert_id": "tobias.r", "cert_serial": 4}, PASS)],
)
def test_certificates_only_a_plain_key_is_not_enough(
    ev: Evidence, extra: dict[str, Any], status: str
) -> None:
    rec = ssh_logon("2026-11-05T09:00:00Z", "tobias.r", "hp-ledger-01", 601)
    rec["attrs"].update(extra)
    ev.add(rec)
    ev.add(
        teleport_session(
            "session.start", "2026-11-06T09:00:00Z", "tobias.r", "hp-api-01", "tobias", "s-1"
        )
    )
    a = assess(ev)
    r = the(a, CERTS, asset="hp-ledger-01")
    assert r.status == status, r.reason
    if status == FAIL:
        assert "publickey" in r.reason
    assert the(a, CERTS, asset="hp-api-01").status == PASS  # Teleport: a certificate


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        ("2026-10-20T20:00:00Z", "2026-10-20T22:00:00Z", PASS),  # Tue 22:00-24:00 CEST
        ("2026-10-27T21:00:00Z", "2026-10-27T23:00:00Z", PASS),  # Tue 22:00-24:00 CET
        ("2026-10-27T20:59:59Z", "2026-10-27T22:00:00Z", FAIL),  # a second early (CET)
        ("2026-10-20T21:00:00Z", "2026-10-20T22:30:00Z", FAIL),  # past midnight CEST
    ],
)
def test_partner_sessions_inside_the_standing_window_in_site_time(
    ev: Evidence, start: str, end: str, status: str
) -> None:
    ev.add(
        teleport_session("session.start", start, "piet.v", "lh-pacs-01", "piet", "s-9"),
        teleport_session("session.end", end, "piet.v", "lh-pacs-01", "piet", "s-9"),
    )
    r = the(assess(ev), PARTNER, principal="piet.v")
    assert r.status == status, r.reason
    assert r.scope.tenant == "lumen-health"


@pytest.mark.parametrize(
    ("approver", "status"),
    [("amara.h", PASS), ("sofia.m", PASS), ("lars.h", PASS), ("jonas.l", FAIL), ("piet.v", FAIL)],
)
def test_a_window_approved_by_the_tenant_or_the_duty_desk(
    ev: Evidence, approver: str, status: str
) -> None:
    """lars.h (an SRE) and amara.h are harbor-pay's own staff, sofia.m is on the duty desk (R and A
    for privileged-access); jonas.l is lumen-health's, piet.v the partner himself."""
    ev.add(
        {
            "time": "2026-11-01T08:00:00Z",
            "kind": "maintenance.window",
            "tenant": "harbor-pay",
            "from": "2026-11-02T08:00:00Z",
            "to": "2026-11-02T12:00:00Z",
            "approver": approver,
            "reason": "RMA of a disk",
        }
    )
    ev.add(
        teleport_session(
            "session.start", "2026-11-02T09:00:00Z", "piet.v", "hp-ledger-01", "piet", "s-3"
        ),
        teleport_session(
            "session.end", "2026-11-02T10:00:00Z", "piet.v", "hp-ledger-01", "piet", "s-3"
        ),
    )
    r = the(assess(ev), PARTNER, asset="hp-ledger-01")
    assert r.status == status, r.reason


def test_missed_runs_and_the_retest_after_a_matrix_change(ev: Evidence) -> None:
    segs = ("seg-core", "seg-harbor", "seg-lumen", "seg-orbit")

    def sweep(
        time: str, name: str, version: str, vantages: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        out = []
        for v in vantages:
            recs = probe_run(
                time, f"{name}-{v}", v, [(d, "deny", "blocked") for d in segs if d != v]
            )
            for rec in recs:
                rec["attrs"]["matrix_version"] = version
            out.extend(recs)
        return out

    ev.add(sweep("2026-10-05T02:00:00Z", "a", "2026.09-fra7", segs))
    ev.add(sweep("2026-11-01T02:00:00Z", "b", "2026.10-fra7", segs[:2]))  # the change
    ev.add(sweep("2026-11-04T02:00:00Z", "c", "2026.10-fra7", segs[2:3]))  # 3 days: in time
    ev.add(sweep("2026-11-04T02:00:01Z", "d", "2026.10-fra7", segs[3:]))  # a second late
    ev.one(
        event(
            "probe.missed",
            "2026-12-01T02:00:00Z",
            outcome="failure",
            source="probe",
            attrs={"plan": "fra7-quarterly", "vantage": "seg-lumen", "due": "2026-12-01T02:00:00Z"},
            scope=("lumen-health",),
        )
    )
    a = assess(ev)
    status = {r.scope.segment: r.status for r in of(a, RETEST)}
    assert {s for k, s in status.items() if k and k.startswith("seg-orbit->")} == {FAIL}
    assert {s for k, s in status.items() if k and not k.startswith("seg-orbit->")} == {PASS}
    missed = [r for r in of(a, MISSES) if r.status == FAIL]
    assert [(r.scope.segment, r.scope.tenant) for r in missed] == [("seg-lumen", "lumen-health")]
