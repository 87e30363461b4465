"""Tenant keys: who may use them (Cedar, with tenant authorizations) and rotation age."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeaudit.errors import InputError
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE
from tests.policy.helpers import Evidence, key_state, key_use, run, set_rule_params, the

AUTH = (
    "{authorizations: [{role: key-admin, tenant: fintech-a, "
    "from: 2026-08-01T00:00:00Z, until: 2026-08-02T00:00:00Z}]}"
)


def test_tenant_principal_uses_own_key(ev: Evidence, pol: Path) -> None:
    i = ev.one(key_use("2026-08-01T10:00:00Z", "svc-fintech-a", "fintech-a-data"))
    r = the(run(pol, ev.log), "key-tenant-use", key="fintech-a-data", principal="svc-fintech-a")
    assert r.status == PASS
    assert r.scope.tenant == "fintech-a"
    assert [e.index for e in r.evidence] == [i]


def test_other_tenants_principal_using_a_key_fails(ev: Evidence, pol: Path) -> None:
    i = ev.one(key_use("2026-08-01T10:00:00Z", "svc-media-b", "fintech-a-data", "decrypt"))
    r = the(run(pol, ev.log), "key-tenant-use", key="fintech-a-data", principal="svc-media-b")
    assert r.status == FAIL
    assert r.scope.tenant == "fintech-a"  # the key owner's finding
    assert "svc-media-b used fintech-a's key fintech-a-data 1 time (decrypt)" in r.reason
    assert [e.index for e in r.evidence] == [i]


def test_operator_key_admin_without_authorization_fails(ev: Evidence, pol: Path) -> None:
    ev.one(key_use("2026-08-01T10:00:00Z", "meera.s", "fintech-a-data"))
    r = the(run(pol, ev.log), "key-tenant-use", principal="meera.s")
    assert r.status == FAIL
    assert "without authorization" in r.reason


def test_operator_key_admin_with_authorization_passes_inside_it_only(
    ev: Evidence, pol: Path
) -> None:
    set_rule_params(pol / "rules.yaml", "key-tenant-use", AUTH)
    ev.one(key_use("2026-08-01T10:00:00Z", "meera.s", "fintech-a-data"))
    a = run(pol, ev.log)
    assert the(a, "key-tenant-use", principal="meera.s").status == PASS
    # a use after the authorization's end, and one of another tenant's key
    late = ev.one(key_use("2026-08-02T00:00:00Z", "meera.s", "fintech-a-data"))
    other = ev.one(key_use("2026-08-01T11:00:00Z", "meera.s", "ai-c-data"))
    a = run(pol, ev.log)
    r = the(a, "key-tenant-use", principal="meera.s", key="fintech-a-data")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [late]
    r = the(a, "key-tenant-use", principal="meera.s", key="ai-c-data")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [other]


def test_an_authorization_means_what_it_says_whatever_the_role_or_org(
    ev: Evidence, pol: Path
) -> None:
    # the tenant authorizes ravi.k (operator, no key-admin role) by name and the partner's
    # engineers by role: both allowed, no built-in role or organisation gets in the way
    set_rule_params(
        pol / "rules.yaml",
        "key-tenant-use",
        "{authorizations: [{principal: ravi.k, key: fintech-a-data},"
        " {role: msp-engineer, tenant: ai-c, until: 2026-09-01T00:00:00Z}]}",
    )
    ev.add(
        key_use("2026-08-01T10:00:00Z", "ravi.k", "fintech-a-data"),
        key_use("2026-08-01T10:00:00Z", "ravi.k", "media-b-data"),
        key_use("2026-08-01T10:00:00Z", "arjun.p", "ai-c-data"),
        key_use("2026-09-01T00:00:00Z", "arjun.p", "ai-c-kms"),  # the authorization ended
    )
    a = run(pol, ev.log)
    assert the(a, "key-tenant-use", principal="ravi.k", key="fintech-a-data").status == PASS
    assert the(a, "key-tenant-use", principal="ravi.k", key="media-b-data").status == FAIL
    assert the(a, "key-tenant-use", principal="arjun.p", key="ai-c-data").status == PASS
    assert the(a, "key-tenant-use", principal="arjun.p", key="ai-c-kms").status == FAIL


@pytest.mark.parametrize(
    ("auth", "unknown"),
    [
        ("{principal: ravi.kk, key: fintech-a-data}", "unknown principal 'ravi.kk'"),
        ("{role: key-admn, tenant: ai-c}", "role 'key-admn' is held by no principal"),
        ("{principal: ravi.k, key: fintech-a-dta}", "unknown key 'fintech-a-dta'"),
        ("{principal: ravi.k, tenant: fintech-b}", "unknown tenant 'fintech-b'"),
    ],
)
def test_an_authorization_naming_an_unknown_name_is_a_load_error(
    pol: Path, auth: str, unknown: str
) -> None:
    set_rule_params(pol / "rules.yaml", "key-tenant-use", f"{{authorizations: [{auth}]}}")
    with pytest.raises(InputError, match=r"rules\.yaml:\d+: authorizations: " + re.escape(unknown)):
        load_policies(pol)


def test_key_use_by_a_principal_the_inventory_no_longer_has_is_judged(
    ev: Evidence, pol: Path
) -> None:
    # collected while the principal was still inventoried (an offboarded account)
    ev.one(key_use("2026-08-01T10:00:00Z", "svc-fintech-a", "fintech-a-data"))
    ev.one(key_use("2026-08-02T10:00:00Z", "gone.person", "fintech-a-data"))
    a = run(pol, ev.log)
    r = the(a, "key-tenant-use", principal="gone.person")
    assert r.status == FAIL
    assert "not in the inventory" in r.reason
    assert the(a, "key-tenant-use", principal="svc-fintech-a").status == PASS


def test_unresolved_user_of_a_tenant_key_fails(ev: Evidence, pol: Path) -> None:
    ev.one(key_use("2026-08-01T10:00:00Z", None, "ai-c-data", user="token-abc"))
    r = the(run(pol, ev.log), "key-tenant-use", principal="unresolved: token-abc")
    assert "unresolved: token-abc" in r.reason
    assert "?" not in r.reason
    assert r.status == FAIL
    assert r.scope.tenant == "ai-c"


# -- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "status"),
    [
        ("2025-09-30T00:00:00Z", FAIL),  # 366 days before the as-of time (2026-10-01)
        ("2025-10-01T00:00:00Z", PASS),  # exactly 365 days
        ("2026-03-01T00:00:00Z", PASS),
    ],
)
def test_rotation_age_over_and_under_the_maximum(
    ev: Evidence, pol: Path, created: str, status: str
) -> None:
    snap = ev.one(key_state("2026-09-25T00:00:00Z", "fintech-a-data", created))
    r = the(run(pol, ev.log), "key-rotation-age", key="fintech-a-data")
    assert r.status == status, r.reason
    assert [e.index for e in r.evidence] == [snap]
    if status == FAIL:
        assert "366 days old" in r.reason


@pytest.mark.parametrize(
    ("snapshot", "now", "status", "words"),
    [
        # in the period: a young key passes (a later rotation could only make it younger)
        ("2026-07-15T00:00:00Z", "2026-10-02T00:00:00Z", PASS, "next rotation due"),
        # only before the period and its snapshot cadence (45 days) passed: overdue
        ("2026-06-20T00:00:00Z", "2026-10-02T00:00:00Z", FAIL, "due 2026-08-04T00:00:00Z"),
        # only before the period, judged on 2026-07-20, the next snapshot not yet due: stale
        ("2026-06-20T00:00:00Z", "2026-07-20T00:00:00Z", STALE, "due 2026-08-04T00:00:00Z"),
        # the deadline exactly at the as-of time is not yet overdue
        ("2026-06-20T00:00:00Z", "2026-08-04T00:00:00Z", STALE, "due 2026-08-04T00:00:00Z"),
    ],
)
def test_snapshot_cadence_stale_and_overdue(
    ev: Evidence, pol: Path, snapshot: str, now: str, status: str, words: str
) -> None:
    ev.one(key_state(snapshot, "ai-c-data", "2026-06-01T00:00:00Z"))
    r = the(run(pol, ev.log, now=now), "key-rotation-age", key="ai-c-data")
    assert r.status == status, r.reason
    assert words in r.reason


def test_snapshot_from_before_the_period_is_used_and_the_latest_wins(
    ev: Evidence, pol: Path
) -> None:
    ev.one(key_state("2026-06-20T00:00:00Z", "media-b-data", "2026-06-01T00:00:00Z"))
    latest = ev.one(key_state("2026-09-20T00:00:00Z", "media-b-data", "2024-01-01T00:00:00Z"))
    r = the(run(pol, ev.log), "key-rotation-age", key="media-b-data")
    assert r.status == FAIL
    assert latest in [e.index for e in r.evidence]


def test_no_snapshot_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    r = the(run(pol, ev.log), "key-rotation-age", key="ai-c-kms")
    assert r.status == NOT_EVALUATED


def test_a_snapshot_claiming_a_rotation_after_itself_is_no_evidence_of_one(
    ev: Evidence, pol: Path
) -> None:
    ev.one(key_state("2026-09-20T00:00:00Z", "ai-c-data", "2026-12-01T00:00:00Z"))
    r = the(run(pol, ev.log), "key-rotation-age", key="ai-c-data")
    assert r.status == NOT_EVALUATED, r.reason
