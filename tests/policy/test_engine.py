"""The engine: one result per rule x scope, stable ids, broken checks, tenant views, rollup."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from edgeaudit.collect.model import Grant
from edgeaudit.errors import EdgeauditError
from edgeaudit.policy.context import Context
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import (
    FAIL,
    NOT_EVALUATED,
    PASS,
    STATUSES,
    Outcome,
    Scope,
    result_id,
)
from edgeaudit.policy.registry import Param, check
from tests.policy.helpers import (
    Evidence,
    actor,
    badge,
    command,
    event,
    full_grant,
    key_state,
    key_use,
    logon,
    probe_run,
    run,
    session,
    target,
    the,
)


@check("test.boom", "A check that raises", ("STORE",))
def _boom(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    yield Outcome(Scope(subject="first"), PASS, "fine so far")
    raise RuntimeError("boom")


@check("test.nothing", "A check with nothing in scope", ("STORE",))
def _nothing(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    return iter(())


@check("test.twice", "A check that reports one scope twice", ("STORE",))
def _twice(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    yield Outcome(Scope(subject="x"), PASS, "one")
    yield Outcome(Scope(subject="x"), FAIL, "two")


@check(
    "test.status",
    "A check that reports what it is told",
    ("STORE",),
    status=Param("text", PASS),
    tenant=Param("text", ""),
)
def _status(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    yield Outcome(Scope(tenant=params["tenant"] or None, subject="s"), params["status"], "told")


def _rules(pol: Path, *rules: str) -> Path:
    (pol / "rules.yaml").write_text("version: 1\nrules:\n" + "".join(rules), encoding="utf-8")
    return pol


def _rule(rid: str, chk: str, controls: str, params: str = "") -> str:
    out = (
        f"  - id: {rid}\n    check: {chk}\n    activity: log-review\n    severity: low\n"
        f"    controls: [{controls}]\n"
    )
    return out + (f"    params: {params}\n" if params else "")


def _campus(ev: Evidence) -> None:
    """A little of everything, in every tenant."""
    ev.add(
        full_grant(
            "g1",
            "ravi.k",
            "meera.s",
            "fa-db-01",
            "2026-08-03T08:55:00Z",
            "2026-08-03T09:00:00Z",
            "2026-08-03T10:00:00Z",
        ),
        full_grant(
            "g2",
            "arjun.p",
            "arjun.p",
            "ac-gpu-01",
            "2026-08-04T08:55:00Z",
            "2026-08-04T09:00:00Z",
            "2026-08-04T20:00:00Z",
            reviewed=False,
        ),
        logon("2026-08-03T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"),
        logon("2026-08-04T09:10:00Z", "arjun.p", "ac-gpu-01", account="arjun"),
        logon("2026-08-05T09:10:00Z", "ravi.k", "mb-render-02", account="ravi"),
        logon("2026-08-06T09:10:00Z", None, "bastion-1", account="breakglass", user="breakglass"),
        key_use("2026-08-03T10:00:00Z", "svc-fintech-a", "fintech-a-data"),
        key_use("2026-08-03T10:00:00Z", "svc-media-b", "fintech-a-data"),
        key_use("2026-08-03T10:00:00Z", "svc-ai-c", "ai-c-kms"),
        key_state("2026-09-20T00:00:00Z", "fintech-a-data", "2025-01-01T00:00:00Z"),
        key_state("2026-09-20T00:00:00Z", "media-b-data", "2026-05-01T00:00:00Z"),
        badge("2026-08-02T05:00:00Z", "arjun.p"),
        badge("2026-08-03T05:00:00Z", "lena.f"),
        command("2026-08-03T10:00:00Z", "lena.f", "fa-web-01", "apt-get upgrade"),
        probe_run(
            "2026-08-03T03:00:00Z",
            "r1",
            "seg-fintech",
            [
                ("seg-media", "deny", "reachable"),
                ("seg-ai", "deny", "blocked"),
                ("seg-mgmt", "allow", "reachable"),
                ("seg-mgmt", "deny", "blocked"),
            ],
        ),
        {"time": "2026-08-01T00:00:00Z", "kind": "review.access", "reviewer": "meera.s"},
    )


def test_every_rule_and_scope_yields_exactly_one_result(ev: Evidence, pol: Path) -> None:
    _campus(ev)
    policies = load_policies(pol)
    a = run(policies, ev.log)
    keys = [(r.rule, tuple(sorted(r.scope.to_dict().items()))) for r in a.results]
    assert len(keys) == len(set(keys))
    assert len({r.id for r in a.results}) == len(a.results)
    assert {r.rule for r in a.results} == {rule.id for rule in policies.rules.rules}
    for r in a.results:
        assert r.status in STATUSES
        assert r.id == result_id(r.rule, r.scope)
        assert r.reason
        if r.status == FAIL:
            assert r.controls
    # the planted problems are there
    assert {r.rule for r in a.failing()} >= {
        "jit-session-covered",
        "jit-no-self-approval",
        "jit-admin-override",
        "jit-grant-duration",
        "key-tenant-use",
        "key-rotation-age",
        "physical-entry-windows",
        "raci-practice",
        "segmentation-denied-blocked",
        "breakglass-reviewed",
    }
    assert sum(a.counts().values()) == len(a.results)


def test_result_ids_are_stable_across_runs(ev: Evidence, pol: Path) -> None:
    _campus(ev)
    a = run(pol, ev.log)
    ev.add(logon("2026-09-01T09:00:00Z", "lena.f", "fa-web-01"))  # more evidence, same scopes
    b = run(pol, ev.log, now="2026-10-05T00:00:00Z")
    assert a.id != b.id
    ids_a = {(r.rule, r.scope): r.id for r in a.results}
    ids_b = {(r.rule, r.scope): r.id for r in b.results}
    for k, rid in ids_a.items():
        assert ids_b[k] == rid
    assert a.policy_digest == b.policy_digest


def test_policy_digest_changes_with_the_files(ev: Evidence, pol: Path) -> None:
    before = load_policies(pol).digest
    (pol / "waivers.yaml").write_text("version: 1\nwaivers: []\n# reviewed\n")
    assert load_policies(pol).digest != before


def test_a_check_that_raises_is_a_not_evaluated_result(ev: Evidence, pol: Path) -> None:
    _rules(pol, _rule("boom", "test.boom", "soc2:cc6.1"), _rule("ok", "test.status", "soc2:cc6.2"))
    a = run(pol, ev.log)
    r = the(a, "boom")
    assert r.status == NOT_EVALUATED
    assert r.reason == "check test.boom failed: RuntimeError: boom"
    assert r.scope == Scope(subject="boom")
    assert the(a, "ok").status == PASS  # the next rule still runs
    ctl = next(c for c in a.controls if c.control == "cc6.1")
    assert ctl.status == "not-evaluated"


def test_a_check_with_nothing_in_scope_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    _rules(pol, _rule("empty", "test.nothing", "soc2:cc6.1"))
    r = the(run(pol, ev.log), "empty")
    assert r.status == NOT_EVALUATED
    assert r.reason == "nothing in scope"


def test_a_check_reporting_a_scope_twice_is_an_error(ev: Evidence, pol: Path) -> None:
    _rules(pol, _rule("twice", "test.twice", "soc2:cc6.1"))
    with pytest.raises(EdgeauditError, match=r"reported scope .* twice"):
        run(pol, ev.log)


@pytest.mark.parametrize(
    ("status", "control", "expected"),
    [
        (FAIL, "soc2:cc6.6", "not-satisfied"),
        (PASS, "soc2:cc6.6", "satisfied"),
        (NOT_EVALUATED, "soc2:cc6.6", "not-evaluated"),
        ("stale", "soc2:cc6.6", "not-evaluated"),
        (PASS, "pci-dss-4.0.1:11.4.5", "supported"),
        (FAIL, "pci-dss-4.0.1:11.4.5", "not-satisfied"),
    ],
)
def test_control_rollup(ev: Evidence, pol: Path, status: str, control: str, expected: str) -> None:
    _rules(pol, _rule("r", "test.status", control, f"{{status: {status}}}"))
    a = run(pol, ev.log)
    fw, cid = control.split(":")
    ctl = next(c for c in a.controls if c.framework == fw and c.control == cid)
    assert ctl.status == expected
    assert ctl.results == (the(a, "r").id,)
    if expected == "supported":
        assert "qualified, independent tester" in (ctl.note or "")
    unmapped = next(c for c in a.controls if c.control == "cc1.3")
    assert unmapped.status == "not-evaluated"
    assert unmapped.results == ()


def test_one_failing_rule_makes_the_control_not_satisfied(ev: Evidence, pol: Path) -> None:
    _rules(
        pol,
        _rule("a", "test.status", "soc2:cc6.6, pci-dss-4.0.1:11.4.5", "{status: pass}"),
        _rule("b", "test.status", "soc2:cc6.6", "{status: fail}"),
    )
    a = run(pol, ev.log)
    by = {(c.framework, c.control): c.status for c in a.controls}
    assert by[("soc2", "cc6.6")] == "not-satisfied"
    assert by[("pci-dss-4.0.1", "11.4.5")] == "supported"  # never "satisfied"
    assert "satisfied" not in {
        c.status for c in a.controls if c.control in ("11.4.5", "11.4.6", "A1.1.4")
    }


def test_real_segmentation_results_only_support_pci_11_4_5(ev: Evidence, pol: Path) -> None:
    # probe every pair from every vantage, all as the matrix wants: every result passes
    policies = load_policies(pol)
    segs = [s.id for s in policies.inventory.segments]
    for n, src in enumerate(segs):
        tgts = []
        for dst in segs:
            if dst == src:
                continue
            allowed = policies.matrix.rule(src, dst) is not None
            tgts.append((dst, "deny", "blocked"))
            if allowed:
                tgts.append((dst, "allow", "reachable"))
        ev.add(probe_run(f"2026-09-0{n + 1}T03:00:00Z", f"run-{src}", src, tgts))
    a = run(policies, ev.log, frameworks=["pci-dss-4.0.1"])
    seg = [r for r in a.results if r.rule.startswith("segmentation-")]
    assert seg
    assert {r.status for r in seg} == {PASS}, [
        (r.rule, r.scope, r.reason) for r in seg if r.status != PASS
    ]
    ctl = {c.control: c.status for c in a.controls}
    assert ctl["11.4.5"] == "supported"
    assert ctl["11.4.6"] == "supported"
    assert ctl["A1.1.4"] == "supported"
    assert ctl["1.3.1"] == "satisfied"


def test_framework_filter(ev: Evidence, pol: Path) -> None:
    _campus(ev)
    a = run(pol, ev.log, frameworks=["soc2"])
    assert a.frameworks == ("soc2",)
    assert {c.framework for c in a.controls} == {"soc2"}
    assert all(any(c.startswith("soc2:") for c in r.controls) for r in a.results)
    assert not [r for r in a.results if r.rule == "segmentation-allowed-reachable"]  # no soc2
    with pytest.raises(EdgeauditError, match="unknown framework 'iso27001'"):
        run(pol, ev.log, frameworks=["iso27001"])


def test_empty_period_and_unknown_tenant_are_errors(ev: Evidence, pol: Path) -> None:
    with pytest.raises(EdgeauditError, match="the period is empty"):
        run(pol, ev.log, start="2026-08-01T00:00:00Z", end="2026-08-01T00:00:00Z")
    with pytest.raises(EdgeauditError, match="unknown tenant 'globex'"):
        run(pol, ev.log, tenant="globex")


# -- tenant views --------------------------------------------------------------------------------


def _scopes(ev: Evidence) -> dict[int, list[str]]:
    with ev.log.reader() as reader:
        return {
            idx: orjson.loads(body).get("scope") or [] for idx, body, _, _ in reader.iter_entries()
        }


def test_tenant_view_shows_only_its_results_and_cites_only_its_entries(
    ev: Evidence, pol: Path
) -> None:
    _campus(ev)
    # a grant for a shared asset whose resources also name fintech-a's host: the approval is an
    # operator-only entry, cited by fintech-a's passing session result in the operator's view
    g = Grant(
        id="g-shared",
        state="approved",
        resources=("/blr-pod-1/node/bastion-1", "/blr-pod-1/node/fa-web-01"),
        requester="ravi.k",
        expires="2026-08-07T11:00:00Z",
    )
    ev.add(
        event(
            "grant.request",
            "2026-08-07T08:55:00Z",
            who=actor("ravi.k"),
            on=target("bastion-1"),
            grant=g,
        ),
        event(
            "grant.review",
            "2026-08-07T09:00:00Z",
            who=actor("meera.s"),
            on=target("bastion-1"),
            grant=g,
        ),
        event(
            "grant.approve",
            "2026-08-07T09:00:00Z",
            who=actor("meera.s"),
            on=target("bastion-1"),
            grant=g,
        ),
        *session("2026-08-07T09:30:00Z", "2026-08-07T09:45:00Z", "ravi.k", "fa-web-01", "ravi"),
    )
    full = run(pol, ev.log)
    view = run(pol, ev.log, tenant="fintech-a")
    assert view.tenant == "fintech-a"
    scopes = _scopes(ev)
    for r in view.results:
        assert r.scope.tenant == "fintech-a" or (
            r.scope.tenant is None and r.rule in ("store-integrity", "raci-structure")
        ), r
        for e in r.evidence:
            assert "fintech-a" in scopes[e.index], (r.rule, r.scope, e.index, scopes[e.index])
    # site-wide integrity and RACI structure are shown to every tenant
    assert {"store-integrity", "raci-structure"} <= {r.rule for r in view.results}
    # everything the operator sees about fintech-a is in the tenant's view
    mine = {r.id for r in full.results if r.scope.tenant == "fintech-a"}
    assert mine <= {r.id for r in view.results}
    assert not [r for r in view.results if r.scope.tenant in ("media-b", "ai-c")]
    assert not [r for r in view.results if r.rule == "physical-entry-windows"]
    # the withheld citation is counted, not silently dropped
    op = the(full, "jit-session-covered", principal="ravi.k", asset="fa-web-01")
    tv = the(view, "jit-session-covered", principal="ravi.k", asset="fa-web-01")
    assert op.status == tv.status == PASS
    assert len(tv.evidence) == len(op.evidence) - 1
    assert dict(tv.observed)["withheld_evidence"] == 1
    # other tenants' views do not see fintech-a's findings
    other = run(pol, ev.log, tenant="media-b")
    assert not [r for r in other.results if r.scope.tenant == "fintech-a"]
    assert (
        the(other, "jit-session-covered", principal="ravi.k", asset="mb-render-02").status == FAIL
    )


def test_a_tenant_without_evidence_of_its_own_has_no_control_satisfied(
    ev: Evidence, pol: Path
) -> None:
    # evidence of fintech-a only; media-b's view holds site-wide results (store integrity,
    # RACI structure) that pass, but they must not satisfy media-b's controls alone
    ev.add(
        *session("2026-08-03T09:30:00Z", "2026-08-03T09:40:00Z", "lena.f", "fa-web-01", "lena"),
        {"time": "2026-08-01T00:00:00Z", "kind": "review.access", "reviewer": "meera.s"},
    )
    policies = load_policies(pol)
    view = run(policies, ev.log, tenant="media-b")
    assert any(r.status == PASS for r in view.results)  # site-wide ones pass
    assert not any(c.status.startswith(("satisfied", "supported")) for c in view.controls), [
        (c.control, c.status) for c in view.controls if c.status.startswith("satisfied")
    ]
    mapped = {ref for rule in policies.rules.rules for ref in rule.controls}
    for c in view.controls:
        if f"{c.framework}:{c.control}" in mapped:
            assert c.note != "no automated rule maps to this control", c
    # fintech-a's own view: its session result passes and can satisfy a control
    own = run(policies, ev.log, tenant="fintech-a")
    assert the(own, "jit-session-covered", principal="lena.f").status == PASS


def test_which_site_wide_results_a_tenant_sees_is_declared_in_the_rules(
    ev: Evidence, pol: Path
) -> None:
    _rules(
        pol,
        _rule("site-ok", "test.status", "soc2:cc6.1") + "    site_wide: true\n",
        _rule("site-hidden", "test.status", "soc2:cc6.2"),
        _rule("own", "test.status", "soc2:cc6.3", "{tenant: fintech-a}"),
        _rule("other", "test.status", "soc2:cc6.6", "{tenant: media-b}"),
    )
    view = run(pol, ev.log, tenant="fintech-a")
    assert {r.rule for r in view.results} == {"site-ok", "own"}
    assert view.site_wide_rules == ("site-ok",)
    doc = view.to_dict()
    assert doc["assessment"]["site_wide_rules"] == ["site-ok"]
