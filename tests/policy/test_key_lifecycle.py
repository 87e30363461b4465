"""Key lifecycle: who administers keys, keys made exportable or deletable, Vault root tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.collect.model import Actor, KeyRef, Target
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    event,
    inventory,
    key_use,
    of,
    only_rules,
    run,
    set_rule_params,
    the,
)

ADMIN, ROOT = "key-administration", "vault-root-token"


@pytest.fixture
def pol(pol: Path) -> Path:
    only_rules(pol / "rules.yaml", [ADMIN, ROOT])
    return pol


def config(time: str, pid: str | None, key: str, op: str = "config", **kw: Any) -> dict[str, Any]:
    k = next(k for k in inventory().keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, operation=op, owner=k.tenant, resolved=True)
    return event("key.config", time, who=kw.pop("who", None) or actor(pid), key=ref, **kw)


def state(time: str, key: str, **flags: bool) -> dict[str, Any]:
    k = next(k for k in inventory().keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, owner=k.tenant, resolved=True, version=2)
    attrs = {"exportable": False, "deletion_allowed": False, **flags}
    return event("key.state", time, key=ref, attrs=attrs, source="vault-keystate")


def test_custodian_passes_and_anyone_else_fails_unless_granted(ev: Evidence, pol: Path) -> None:
    ok = ev.one(config("2026-08-01T10:00:00Z", "meera.s", "fintech-a-data"))
    a = run(pol, ev.log)
    r = the(a, ADMIN, principal="meera.s", key="fintech-a-data")
    assert r.status == PASS
    assert [e.index for e in r.evidence] == [ok]
    bad = ev.one(config("2026-08-02T10:00:00Z", "ravi.k", "fintech-a-data", "rotate"))
    r = the(run(pol, ev.log), ADMIN, principal="ravi.k")
    assert r.status == FAIL
    assert r.scope.tenant == "fintech-a"
    assert [e.index for e in r.evidence] == [bad]
    assert "without a key-custody role (key-admin) or a grant" in r.reason
    # a grant in force at the time, for that key or tenant
    grant = (
        "{roles: [key-admin], grants: [{principal: ravi.k, tenant: fintech-a, "
        "from: 2026-08-02T00:00:00Z, until: 2026-08-03T00:00:00Z}]}"
    )
    set_rule_params(pol / "rules.yaml", ADMIN, grant)
    assert the(run(pol, ev.log), ADMIN, principal="ravi.k").status == PASS
    ev.one(config("2026-08-03T00:00:00Z", "ravi.k", "fintech-a-data"))  # the grant has ended
    assert the(run(pol, ev.log), ADMIN, principal="ravi.k").status == FAIL


def test_failed_calls_and_provider_rotations_are_not_administration(
    ev: Evidence, pol: Path
) -> None:
    ev.one(config("2026-08-01T10:00:00Z", "ravi.k", "fintech-a-data", outcome="failure"))
    ref = KeyRef("ai-c-kms", "aws-kms", "rotate", "ai-c", True)
    ev.one(event("key.rotate", "2026-08-01T11:00:00Z", key=ref, attrs={"service_event": True}))
    assert not [r for r in run(pol, ev.log).results if r.rule == ADMIN and r.scope.principal]


def test_a_key_made_exportable_or_deletable_fails(ev: Evidence, pol: Path) -> None:
    ev.one(state("2026-08-01T00:00:00Z", "media-b-data"))
    r = the(run(pol, ev.log), ADMIN, key="media-b-data", subject="exposure")
    assert r.status == PASS
    change = ev.one(config("2026-08-05T10:00:00Z", "ravi.k", "media-b-data"))
    snap = ev.one(state("2026-08-05T11:00:00Z", "media-b-data", exportable=True))
    r = the(run(pol, ev.log), ADMIN, key="media-b-data", subject="exposure")
    assert r.status == FAIL
    assert "exportable in the snapshot of 2026-08-05T11:00:00Z" in r.reason
    assert {change, snap} <= {e.index for e in r.evidence}
    # a snapshot at the period's end counts; one showing deletion allowed fails too
    end = ev.one(state("2026-10-01T00:00:00Z", "ai-c-data", deletion_allowed=True))
    r = the(run(pol, ev.log), ADMIN, key="ai-c-data", subject="exposure")
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == [end]


def test_kms_deletion_scheduled_and_keys_without_snapshots(ev: Evidence, pol: Path) -> None:
    a = run(pol, ev.log)
    assert the(a, ADMIN, key="fintech-a-kms", subject="exposure").status == NOT_EVALUATED
    i = ev.one(
        config(
            "2026-08-01T10:00:00Z",
            "meera.s",
            "fintech-a-kms",
            "schedule-deletion",
            source="cloudtrail",
        )
    )
    r = the(run(pol, ev.log), ADMIN, key="fintech-a-kms", subject="exposure")
    assert r.status == FAIL
    assert "deletion schedule-deletion by meera.s" in r.reason
    assert [e.index for e in r.evidence] == [i]
    # an earlier snapshot only says what the key was before the period
    ev.one(state("2026-06-01T00:00:00Z", "fintech-a-data"))
    r = the(run(pol, ev.log), ADMIN, key="fintech-a-data", subject="exposure")
    assert r.status == NOT_EVALUATED
    assert "predates the period" in r.reason


def root(kind: str, time: str, path: str, key: str | None = None) -> dict[str, Any]:
    who = Actor(user="root", credential="root-token", src_ip="10.0.0.5")
    attrs = {"path": path, "operation": "update", "root_token": True}
    if key is None:
        return event(kind, time, who=who, on=Target(resource=path), attrs=attrs, source="vault")
    k = next(k for k in inventory().keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, operation="decrypt", owner=k.tenant, resolved=True)
    return event(kind, time, who=who, key=ref, attrs=attrs, source="vault")


def test_root_token_use_is_always_a_critical_finding(ev: Evidence, pol: Path) -> None:
    ev.one(key_use("2026-08-01T10:00:00Z", "svc-fintech-a", "fintech-a-data"))
    r = the(run(pol, ev.log), ROOT)
    assert r.status == PASS
    assert r.severity == "critical"
    i = ev.add(
        root("vault.request", "2026-08-02T10:00:00Z", "sys/policies/acl/ops"),
        root("key.use", "2026-08-03T10:00:00Z", "transit/decrypt/fintech-a-data", "fintech-a-data"),
    )
    r = the(run(pol, ev.log), ROOT)
    assert r.status == FAIL
    assert [e.index for e in r.evidence] == i
    assert "2 requests made with a Vault root token" in r.reason
    assert "sys/policies/acl/ops" in r.reason


def test_no_vault_source_means_no_root_token_result(ev: Evidence, pol: Path) -> None:
    ev.one(event("auth.logon", "2026-08-01T10:00:00Z", who=actor("ravi.k"), source="syslog"))
    assert [r.status for r in of(run(pol, ev.log), ROOT)] == [NOT_EVALUATED]
