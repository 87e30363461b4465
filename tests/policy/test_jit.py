"""JIT checks at their boundaries: grant windows and grace, approvals, overrides, durations,
break-glass reviews."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.collect.model import Grant
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    edit,
    event,
    full_grant,
    grant_approve,
    grant_request,
    logon,
    run,
    session,
    set_rule_params,
    target,
    the,
)

APPROVED = "2026-08-03T09:00:00Z"


def session_of(start: str, end: str, pid: str, asset: str, account: str) -> list[dict[str, object]]:
    return session(start, end, pid, asset, account=account)


EXPIRES = "2026-08-03T10:00:00Z"


def _grant(ev: Evidence, asset: str = "fa-db-01", **kw: str) -> list[int]:
    return ev.add(
        full_grant(
            kw.get("gid", "g-1"),
            kw.get("requester", "ravi.k"),
            kw.get("approver", "meera.s"),
            asset,
            kw.get("requested", "2026-08-03T08:55:00Z"),
            kw.get("approved", APPROVED),
            kw.get("expires", EXPIRES),
        )
    )


@pytest.mark.parametrize(("grace", "status"), [("0s", FAIL), ("1s", PASS), ("5m", PASS)])
def test_grant_ending_one_second_before_the_session(
    ev: Evidence, pol: Path, grace: str, status: str
) -> None:
    _grant(ev)
    session, end = ev.add(
        *session_of("2026-08-03T10:00:01Z", "2026-08-03T10:00:01Z", "ravi.k", "fa-db-01", "ravi")
    )
    set_rule_params(pol / "rules.yaml", "jit-session-covered", f"{{grace: {grace}}}")
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == status, r.reason
    assert r.scope.tenant == "fintech-a"
    if status == FAIL:
        assert [e.index for e in r.evidence] == [session, end]
        assert "2026-08-03T10:00:01Z" in r.reason
        assert "grace 0 s" in r.reason
    else:
        assert session in [e.index for e in r.evidence]


def test_session_at_the_exact_expiry_is_covered_without_grace(ev: Evidence, pol: Path) -> None:
    _grant(ev)
    ev.add(*session_of(EXPIRES, EXPIRES, "ravi.k", "fa-db-01", "ravi"))
    set_rule_params(pol / "rules.yaml", "jit-session-covered", "{grace: 0s}")
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k")
    assert r.status == PASS, r.reason


@pytest.mark.parametrize(("grace", "status"), [("60s", FAIL), ("119s", FAIL), ("120s", PASS)])
def test_grace_at_the_start_session_shortly_before_approval(
    ev: Evidence, pol: Path, grace: str, status: str
) -> None:
    _grant(ev)
    # 2 min early, ends well inside the grant
    ev.add(
        *session_of("2026-08-03T08:58:00Z", "2026-08-03T09:30:00Z", "ravi.k", "fa-db-01", "ravi")
    )
    set_rule_params(pol / "rules.yaml", "jit-session-covered", f"{{grace: {grace}}}")
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k")
    assert r.status == status, r.reason


def test_grant_for_another_asset_does_not_cover(ev: Evidence, pol: Path) -> None:
    _grant(ev, asset="fa-web-01")
    ev.one(logon("2026-08-03T09:30:00Z", "ravi.k", "fa-db-01", account="ravi"))
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == FAIL


def test_grant_of_another_user_does_not_cover(ev: Evidence, pol: Path) -> None:
    _grant(ev, requester="arjun.p")
    ev.one(logon("2026-08-03T09:30:00Z", "ravi.k", "fa-db-01", account="ravi"))
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == FAIL


def test_revoked_grant_stops_covering(ev: Evidence, pol: Path) -> None:
    _grant(ev)
    ev.one(
        event(
            "grant.revoke",
            "2026-08-03T09:20:00Z",
            grant=Grant(id="g-1"),
        )
    )
    ev.add(
        *session_of("2026-08-03T09:10:00Z", "2026-08-03T09:15:00Z", "ravi.k", "fa-db-01", "ravi")
    )
    ev.add(
        *session_of("2026-08-03T09:40:00Z", "2026-08-03T09:45:00Z", "ravi.k", "fa-db-01", "ravi")
    )
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k")
    assert r.status == FAIL
    assert "1 session of 2 of ravi.k" in r.reason
    assert "09:40:00" in r.reason


def test_grant_approved_before_the_period_covers_a_session_inside_it(
    ev: Evidence, pol: Path
) -> None:
    _grant(
        ev,
        requested="2026-06-30T23:00:00Z",
        approved="2026-06-30T23:30:00Z",
        expires="2026-07-01T02:00:00Z",
    )
    ev.add(
        *session_of("2026-07-01T00:30:00Z", "2026-07-01T01:00:00Z", "ravi.k", "fa-db-01", "ravi")
    )
    a = run(pol, ev.log)
    assert the(a, "jit-session-covered", principal="ravi.k").status == PASS


def test_tenant_staff_on_own_asset_need_no_grant_but_not_on_another(
    ev: Evidence, pol: Path
) -> None:
    ev.add(
        logon("2026-08-03T09:30:00Z", "lena.f", "fa-web-01", account="lena"),
        logon("2026-08-03T09:31:00Z", "lena.f", "mb-render-02", account="lena"),
    )
    a = run(pol, ev.log)
    assert the(a, "jit-session-covered", principal="lena.f", asset="fa-web-01").status == PASS
    other = the(a, "jit-session-covered", principal="lena.f", asset="mb-render-02")
    assert other.status == FAIL
    assert other.scope.tenant == "media-b"


def test_unresolved_identity_is_a_finding_not_dropped(ev: Evidence, pol: Path) -> None:
    ev.one(logon("2026-08-03T09:30:00Z", None, "fa-db-01", account="root", user="mallory"))
    r = the(run(pol, ev.log), "jit-session-covered", principal="unresolved: mallory")
    assert r.status == FAIL


def test_self_approval_fails(ev: Evidence, pol: Path) -> None:
    own = _grant(ev, gid="g-self", approver="ravi.k")
    _grant(ev, gid="g-ok", requester="arjun.p")
    a = run(pol, ev.log)
    bad = the(a, "jit-no-self-approval", principal="ravi.k", asset="fa-db-01")
    assert bad.status == FAIL
    assert "g-self" in bad.reason
    assert {e.index for e in bad.evidence} == set(own)
    assert the(a, "jit-no-self-approval", principal="arjun.p").status == PASS


def test_approver_responsible_but_not_accountable_fails(ev: Evidence, pol: Path) -> None:
    # ravi.k (pod-admin) becomes Responsible for approving admin access, not Accountable
    edit(
        pol / "raci.yaml",
        "  - id: admin-access-approval\n    R: [ops-lead]",
        "  - id: admin-access-approval\n    R: [ops-lead, pod-ops]",
    )
    policies = load_policies(pol)
    ravi = next(p for p in policies.inventory.principals if p.id == "ravi.k")
    assert policies.raci is not None
    assert policies.raci.holds(ravi, "R", "admin-access-approval", "fintech-a")
    assert not policies.raci.holds(ravi, "A", "admin-access-approval", "fintech-a")
    _grant(ev, gid="g-r", requester="arjun.p", approver="ravi.k")
    _grant(ev, gid="g-a", requester="lena.f", approver="meera.s", asset="fa-web-01")
    a = run(policies, ev.log)
    bad = the(a, "jit-approver-accountable", principal="arjun.p")
    assert bad.status == FAIL
    assert "ravi.k" in bad.reason
    assert "admin-access-approval" in bad.reason
    assert the(a, "jit-approver-accountable", principal="lena.f").status == PASS


def test_approver_accountable_without_raci_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    (pol / "raci.yaml").unlink()
    _grant(ev)
    a = run(pol, ev.log)
    assert the(a, "jit-approver-accountable", principal="ravi.k").status == NOT_EVALUATED


def test_admin_override_approval_without_review(ev: Evidence, pol: Path) -> None:
    ev.add(
        grant_request("2026-08-03T08:55:00Z", "g-o", "ravi.k", "fa-db-01", expires=EXPIRES),
        grant_approve(APPROVED, "g-o", "meera.s", "fa-db-01", expires=EXPIRES, override=True),
    )
    _grant(ev, gid="g-rev", requester="arjun.p")
    a = run(pol, ev.log)
    bad = the(a, "jit-admin-override", principal="ravi.k")
    assert bad.status == FAIL
    assert "g-o" in bad.reason
    assert "admin override" in bad.reason
    assert the(a, "jit-admin-override", principal="arjun.p").status == PASS


def test_approval_without_review_is_an_override_even_unflagged(ev: Evidence, pol: Path) -> None:
    ev.add(
        grant_request("2026-08-03T08:55:00Z", "g-o", "ravi.k", "fa-db-01", expires=EXPIRES),
        grant_approve(APPROVED, "g-o", "meera.s", "fa-db-01", expires=EXPIRES, override=False),
    )
    assert the(run(pol, ev.log), "jit-admin-override", principal="ravi.k").status == FAIL


@pytest.mark.parametrize(
    ("expires", "status"),
    [
        ("2026-08-03T12:55:00Z", PASS),  # exactly 4 h after the request
        ("2026-08-03T12:55:01Z", FAIL),  # 4 h + 1 s
        ("2026-08-04T08:55:00Z", FAIL),  # a day
    ],
)
def test_grant_duration_at_and_over_the_maximum(
    ev: Evidence, pol: Path, expires: str, status: str
) -> None:
    _grant(ev, requested="2026-08-03T08:55:00Z", expires=expires)
    r = the(run(pol, ev.log), "jit-grant-duration", principal="ravi.k")
    assert r.status == status, r.reason
    if status == FAIL:
        assert "g-1" in r.reason
        assert "longer than 4 h" in r.reason


def test_grant_duration_from_max_duration_seconds(ev: Evidence, pol: Path) -> None:
    ev.add(
        grant_request(APPROVED, "g-m", "ravi.k", "fa-db-01", max_s=8 * 3600),
        grant_approve(APPROVED, "g-m", "meera.s", "fa-db-01", expires="2026-08-03T10:00:00Z"),
    )
    assert the(run(pol, ev.log), "jit-grant-duration", principal="ravi.k").status == FAIL


# -- break-glass -------------------------------------------------------------------------------


def _review(time: str, entry: int) -> dict[str, object]:
    return {"time": time, "kind": "review.breakglass", "entry": entry, "reviewer": "meera.s"}


def _bg(ev: Evidence, time: str) -> int:
    return ev.one(logon(time, None, "ac-gpu-01", account="breakglass", user="breakglass"))


def test_breakglass_reviewed_in_time_late_pending_and_never(ev: Evidence, pol: Path) -> None:
    on_time = _bg(ev, "2026-08-01T10:00:00Z")
    late = _bg(ev, "2026-08-10T10:00:00Z")
    never = _bg(ev, "2026-08-20T10:00:00Z")
    pending = _bg(ev, "2026-09-30T10:00:00Z")  # due 2026-10-03, after the period's end
    exact = _bg(ev, "2026-09-01T00:00:00Z")
    ev.add(
        _review("2026-08-02T09:00:00Z", on_time),
        _review("2026-08-13T10:00:01Z", late),  # 72 h + 1 s
        _review("2026-09-04T00:00:00Z", exact),  # exactly 72 h
    )
    a = run(pol, ev.log)

    def r(t: str):  # type: ignore[no-untyped-def]
        return the(a, "breakglass-reviewed", subject=f"breakglass@{t}")

    assert r("2026-08-01T10:00:00Z").status == PASS
    assert r("2026-09-01T00:00:00Z").status == PASS
    late_r = r("2026-08-10T10:00:00Z")
    assert late_r.status == FAIL
    assert "late" in late_r.reason
    assert late in {e.index for e in late_r.evidence}
    assert len(late_r.evidence) == 2
    never_r = r("2026-08-20T10:00:00Z")
    assert never_r.status == FAIL
    assert "not reviewed" in never_r.reason
    assert [e.index for e in never_r.evidence] == [never]
    pending_r = r("2026-09-30T10:00:00Z")
    assert pending_r.status == NOT_EVALUATED
    assert "2026-10-03T10:00:00Z" in pending_r.reason
    assert [e.index for e in pending_r.evidence] == [pending]
    assert pending_r.scope.tenant == "ai-c"
    assert pending_r.scope.asset == "ac-gpu-01"


def test_breakglass_pending_review_judged_at_now_when_now_is_inside_the_period(
    ev: Evidence, pol: Path
) -> None:
    entry = _bg(ev, "2026-08-01T10:00:00Z")
    a = run(pol, ev.log, now="2026-08-02T10:00:00Z")  # 24 h later: not due yet
    assert the(a, "breakglass-reviewed").status == NOT_EVALUATED
    a = run(pol, ev.log, now="2026-08-05T10:00:00Z")  # 96 h later: overdue
    r = the(a, "breakglass-reviewed")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [entry]


def test_one_breakglass_login_seen_by_two_sources_is_one_use(ev: Evidence, pol: Path) -> None:
    # sshd (syslog) and auditd both report the same login at the same second; the evaluation
    # used to stop with "reported scope ... twice"
    t = "2026-08-06T09:10:00Z"
    first = ev.one(logon(t, None, "bastion-1", account="breakglass", user="breakglass"))
    second = ev.one(
        event(
            "auth.logon",
            t,
            who=actor(None, "breakglass"),
            on=target("bastion-1", "breakglass"),
            source="auditd",
        )
    )
    review = ev.one(_review("2026-08-06T12:00:00Z", second))  # names the auditd entry
    r = the(run(pol, ev.log), "breakglass-reviewed")
    assert r.scope.asset == "bastion-1"
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [first, second, review]
