"""Who logs on and how: shared and generic accounts (unless a reviewed break-glass use), the
logon method (password where the policy wants a key, certificate or MFA), partners' sessions
inside their tenants' approved maintenance windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    edit,
    event,
    logon,
    of,
    run,
    session,
    set_rule_params,
    target,
    the,
)

SHARED = "shared-account-logons"
STRENGTH = "logon-strength"
PARTNER = "partner-access-windows"


def _review(time: str, entry: int, reviewer: str = "meera.s") -> dict[str, Any]:
    return {"time": time, "kind": "review.breakglass", "entry": entry, "reviewer": reviewer}


# -- shared and generic accounts --------------------------------------------------------------


@pytest.mark.parametrize("account", ["root", "ubuntu", "admin"])
def test_a_logon_as_a_generic_account_fails(ev: Evidence, pol: Path, account: str) -> None:
    idx = ev.add(
        session(
            "2026-08-01T10:00:00Z", "2026-08-01T10:30:00Z", None, "fa-web-01", account, user=account
        )
    )
    r = the(run(pol, ev.log), SHARED, asset="fa-web-01")
    assert r.status == FAIL
    assert r.scope.subject == f"account {account}"
    assert r.scope.tenant == "fintech-a"
    assert [e.index for e in r.evidence] == idx
    assert f"generic account {account}" in r.reason


def test_sudo_to_root_is_not_a_logon_as_root(ev: Evidence, pol: Path) -> None:
    ev.add(session("2026-08-01T10:00:00Z", "2026-08-01T10:30:00Z", "ravi.k", "fa-web-01", "ravi"))
    ev.add(
        event(
            "priv.switch",
            "2026-08-01T10:05:00Z",
            who=actor("ravi.k", "ravi"),
            on=target("fa-web-01", "root"),
            source="syslog",
        )
    )
    a = run(pol, ev.log)
    assert [r.status for r in of(a, SHARED)] == [PASS]
    assert the(a, SHARED).scope.subject == "personal accounts"


def test_service_principal_and_shared_marked_accounts(ev: Evidence, pol: Path) -> None:
    inv = pol / "inventory.yaml"
    edit(
        inv,
        "  - id: lena.f\n    type: person\n",
        "  - id: lena.f\n    type: person\n    shared: true\n",
    )
    ev.add(session("2026-08-01T10:00:00Z", "2026-08-01T10:10:00Z", "lena.f", "fa-web-01", "lena"))
    ev.add(
        session(
            "2026-08-02T10:00:00Z", "2026-08-02T10:10:00Z", "svc-media-b", "mb-render-02", "render"
        )
    )
    a = run(pol, ev.log)
    lena = the(a, SHARED, principal="lena.f")
    assert lena.status == FAIL
    assert "marked shared in the inventory" in lena.reason
    svc = the(a, SHARED, principal="svc-media-b")
    assert svc.status == FAIL
    assert "service principal svc-media-b" in svc.reason
    set_rule_params(pol / "rules.yaml", SHARED, "{service_principals: false}")
    assert of(run(pol, ev.log), SHARED, principal="svc-media-b") == []


def test_break_glass_passes_only_when_reviewed_by_someone_who_may(ev: Evidence, pol: Path) -> None:
    bg = ev.one(
        logon("2026-08-01T10:00:00Z", None, "ac-gpu-01", account="breakglass", user="breakglass")
    )
    a = run(pol, ev.log)
    assert the(a, SHARED, asset="ac-gpu-01").status == FAIL
    ev.add(_review("2026-08-01T12:00:00Z", bg, reviewer="arjun.p"))  # holds neither R nor A
    assert the(run(pol, ev.log), SHARED, asset="ac-gpu-01").status == FAIL
    ev.add(_review("2026-08-01T13:00:00Z", bg))
    r = the(run(pol, ev.log), SHARED, asset="ac-gpu-01")
    assert r.status == PASS
    assert "reviewed" in r.reason


# -- logon strength ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "extra", "status"),
    [
        ("password", {}, FAIL),
        ("keyboard-interactive/pam", {}, FAIL),
        ("publickey", {}, PASS),
        ("publickey", {"cert_id": "ravi.k"}, PASS),  # a certificate
        (None, {}, NOT_EVALUATED),  # the source does not say
    ],
)
def test_logon_method_against_the_policy(
    ev: Evidence, pol: Path, method: str | None, extra: dict[str, Any], status: str
) -> None:
    attrs = {**({"method": method} if method else {}), **extra}
    i = ev.one(logon("2026-08-01T10:00:00Z", "ravi.k", "fa-web-01", "ravi", attrs=attrs))
    r = the(run(pol, ev.log), STRENGTH, principal="ravi.k")
    assert r.status == status, r.reason
    assert [e.index for e in r.evidence] == [i]
    if status == FAIL:
        assert method is not None
        assert method.split("/")[0] in r.reason


def test_break_glass_password_is_exempt_unless_the_rule_says_otherwise(
    ev: Evidence, pol: Path
) -> None:
    ev.add(
        logon(
            "2026-08-01T10:00:00Z",
            None,
            "bastion-1",
            "breakglass",
            user="breakglass",
            attrs={"method": "password"},
        )
    )
    assert [r.reason for r in of(run(pol, ev.log), STRENGTH)] == ["nothing in scope"]
    set_rule_params(pol / "rules.yaml", STRENGTH, "{exempt_break_glass: false}")
    assert the(run(pol, ev.log), STRENGTH, asset="bastion-1").status == FAIL


def test_a_teleport_node_session_is_a_certificate_logon(ev: Evidence, pol: Path) -> None:
    ev.add(
        event(
            "session.start",
            "2026-08-01T10:00:00Z",
            who=actor("arjun.p"),
            on=target("ac-gpu-01", "arjun"),
            source="teleport",
        )
    )
    r = the(run(pol, ev.log), STRENGTH, principal="arjun.p")
    assert r.status == PASS
    assert "certificate" in r.reason


# -- partner windows ---------------------------------------------------------------------------


def _window(time: str, tenant: str, lo: str, hi: str, approver: str = "meera.s") -> dict[str, Any]:
    return {
        "time": time,
        "kind": "maintenance.window",
        "tenant": tenant,
        "from": lo,
        "to": hi,
        "approver": approver,
        "reason": "CHG-1",
    }


def test_partner_session_inside_outside_and_across_a_window_edge(ev: Evidence, pol: Path) -> None:
    w = ev.one(
        _window("2026-07-30T00:00:00Z", "ai-c", "2026-08-01T10:00:00Z", "2026-08-01T12:00:00Z")
    )
    inside = ev.add(
        session("2026-08-01T10:00:00Z", "2026-08-01T12:00:00Z", "arjun.p", "ac-gpu-01", "arjun")
    )
    a = run(pol, ev.log)
    r = the(a, PARTNER, principal="arjun.p")
    assert r.status == PASS, r.reason
    assert [e.index for e in r.evidence] == [w, *inside]
    # one second past the window's end
    late = ev.add(
        session(
            "2026-08-01T11:00:00Z",
            "2026-08-01T12:00:01Z",
            "arjun.p",
            "ac-gpu-01",
            "arjun",
            attrs={"pid": 7},
        )
    )
    r = the(run(pol, ev.log), PARTNER, principal="arjun.p")
    assert r.status == FAIL
    assert set(late) <= {e.index for e in r.evidence}
    assert "1 s outside" in r.reason
    assert r.scope.tenant == "ai-c"


def test_a_window_of_another_tenant_or_unapproved_does_not_count(ev: Evidence, pol: Path) -> None:
    ev.add(
        _window(
            "2026-07-30T00:00:00Z", "fintech-a", "2026-08-01T09:00:00Z", "2026-08-01T13:00:00Z"
        ),
        _window(
            "2026-07-30T00:00:00Z",
            "ai-c",
            "2026-08-01T09:00:00Z",
            "2026-08-01T13:00:00Z",
            approver="arjun.p",
        ),
    )
    ev.add(session("2026-08-01T10:00:00Z", "2026-08-01T11:00:00Z", "arjun.p", "ac-gpu-01", "arjun"))
    r = the(run(pol, ev.log), PARTNER, principal="arjun.p")
    assert r.status == FAIL
    assert "arjun.p is neither ai-c's staff nor R or A" in r.reason


def test_a_tenants_own_staff_approve_and_standing_weekly_windows(ev: Evidence, pol: Path) -> None:
    ev.add(
        _window(
            "2026-07-30T00:00:00Z",
            "fintech-a",
            "2026-08-01T09:00:00Z",
            "2026-08-01T13:00:00Z",
            approver="lena.f",
        )
    )
    ev.add(session("2026-08-01T10:00:00Z", "2026-08-01T11:00:00Z", "arjun.p", "fa-db-01", "arjun"))
    # 2026-08-08 is a Saturday: 02:00-04:00 IST is 2026-08-07T20:30Z-22:30Z
    ev.add(
        session("2026-08-07T20:30:00Z", "2026-08-07T22:30:00Z", "arjun.p", "mb-render-02", "arjun")
    )
    set_rule_params(
        pol / "rules.yaml", PARTNER, '{windows: [{tenant: media-b, weekly: "Sat 02:00-04:00"}]}'
    )
    a = run(pol, ev.log)
    assert the(a, PARTNER, asset="fa-db-01").status == PASS
    assert the(a, PARTNER, asset="mb-render-02").status == PASS
    set_rule_params(
        pol / "rules.yaml", PARTNER, '{windows: [{tenant: media-b, weekly: "Sat 02:00-03:59"}]}'
    )
    assert the(run(pol, ev.log), PARTNER, asset="mb-render-02").status == FAIL


def test_operator_sessions_are_not_judged_and_bad_windows_are_refused(
    ev: Evidence, pol: Path
) -> None:
    from edgeaudit.errors import InputError
    from edgeaudit.policy.files import load_policies

    ev.add(session("2026-08-01T10:00:00Z", "2026-08-01T11:00:00Z", "ravi.k", "fa-db-01", "ravi"))
    assert [(r.status, r.scope.subject) for r in of(run(pol, ev.log), PARTNER)] == [
        (PASS, "partner sessions")
    ]
    set_rule_params(
        pol / "rules.yaml",
        PARTNER,
        "{windows: [{tenant: nobody, from: 2026-08-01T00:00:00Z, to: 2026-08-02T00:00:00Z}]}",
    )
    with pytest.raises(InputError, match="unknown tenant 'nobody'"):
        load_policies(pol)
    set_rule_params(
        pol / "rules.yaml", PARTNER, "{windows: [{tenant: ai-c, from: 2026-08-01T00:00:00Z}]}"
    )
    with pytest.raises(InputError, match="either from and to"):
        load_policies(pol)
