"""Evaluate the operating model against one snapshot of the evidence.

Every rule x scope yields exactly one result: pass, fail, not evaluated (with the reason),
waived (with the waiver) or stale. A check that raises is reported as not evaluated with the
error, never dropped. Results roll up into a status per control of each framework
(:mod:`edgeaudit.policy.summary`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from edgeaudit.errors import EdgeauditError
from edgeaudit.policy.cedar import Decider
from edgeaudit.policy.context import Context, epoch, iso
from edgeaudit.policy.files import Policies
from edgeaudit.policy.model import (
    FAIL,
    NOT_EVALUATED,
    WAIVED,
    Assessment,
    ControlStatus,
    Outcome,
    Result,
    Scope,
    Waiver,
    result_id,
)
from edgeaudit.policy.registry import registry
from edgeaudit.policy.rules import Rule
from edgeaudit.policy.summary import rollup_results, rule_descriptions
from edgeaudit.store.log import EvidenceLog
from edgeaudit.verify.report import VerifyReport

log = logging.getLogger("edgeaudit.policy")
LOOKBACK = 400 * 86400.0  # grants, key snapshots, probe runs and reviews from before the period


def evaluate(
    policies: Policies,
    evidence: EvidenceLog,
    *,
    start: str,
    end: str,
    tenant: str | None = None,
    frameworks: Sequence[str] | None = None,
    verify: Callable[[], VerifyReport] | None = None,
    now: str | None = None,
    at_size: int | None = None,
) -> Assessment:
    """Judge ``evidence`` between ``start`` (inclusive) and ``end`` (exclusive), RFC 3339 UTC.

    ``at_size``: judge the first ``at_size`` entries (the size of a signed checkpoint, so an
    auditor can re-perform the assessment against that checkpoint); default the whole log."""
    t0, t1, evaluated_at, selected = check_request(policies, start, end, tenant, frameworks, now)
    checks = registry()
    cedar = Decider(policies.inventory, policies.cedar_files)
    with evidence.reader() as reader:
        head, _ = reader.head()
        size = head if at_size is None else at_size
        if not 0 <= size <= head:
            raise EdgeauditError(f"cannot evaluate at size {size}: the log holds {head} entries")
        checkpoint = next(
            ((c.tree_size, c.root_hash.hex()) for c in reader.checkpoints() if c.tree_size == size),
            None,
        )
        ctx = Context(
            inventory=policies.inventory,
            raci=policies.raci,
            catalogue=policies.catalogue,
            cedar=cedar,
            reader=reader,
            tree_size=size,
            start=t0,
            end=t1,
            as_of=min(t1, epoch(evaluated_at)),
            evaluated_at=epoch(evaluated_at),
            lookback=LOOKBACK,
            matrix=policies.matrix,
            matrix_error=policies.matrix_error,
            verify=verify,
            last_index_in_period=reader.last_index_before(iso(t1 + 1), size),
            sources=[s for s, _ in reader.source_counts(size)],
        )
        results: list[Result] = []
        for rule in policies.rules.rules:
            spec = checks[rule.check]
            ctx.activity = rule.activity
            outcomes = run_check(rule, spec.fn, ctx)
            seen: set[str] = set()
            for o in outcomes:
                r = _result(rule, o, policies.waivers, ctx)
                if r.id in seen:
                    raise EdgeauditError(f"check {rule.check} reported scope {o.scope} twice")
                seen.add(r.id)
                results.append(r)
        if tenant is not None:
            # a tenant sees a citation only if the cited entry is in its scope
            cited = {e.index for r in results for e in r.evidence}
            visible = {
                ("", i)
                for i in cited
                if tenant in (orjson.loads(reader.entry(i)[0]).get("scope") or ())
            }
            results = tenant_view(policies, results, tenant, visible)
    return assessment(policies, results, tenant, selected, (t0, t1), size, evaluated_at, checkpoint)


def check_request(
    policies: Policies,
    start: str,
    end: str,
    tenant: str | None,
    frameworks: Sequence[str] | None,
    now: str | None,
) -> tuple[float, float, str, tuple[str, ...]]:
    """(start, end, evaluated_at, frameworks) of a request, or :class:`EdgeauditError`."""
    t0, t1 = epoch(start), epoch(end)
    if t1 <= t0:
        raise EdgeauditError(f"the period is empty: {start} .. {end}")
    evaluated_at = now or iso(datetime.now(UTC).timestamp())
    if tenant is not None and tenant not in policies.inventory.tenant_ids:
        raise EdgeauditError(f"unknown tenant {tenant!r}")
    selected = tuple(frameworks or policies.catalogue.framework_ids)
    for f in selected:
        if f not in policies.catalogue.framework_ids:
            raise EdgeauditError(
                f"unknown framework {f!r} (known: {', '.join(policies.catalogue.framework_ids)})"
            )
    return t0, t1, evaluated_at, selected


def run_check(
    rule: Rule, fn: Callable[[Context, Mapping[str, Any]], Iterable[Outcome]], ctx: Context
) -> list[Outcome]:
    """The outcomes of one rule's check: a check that raises is one not-evaluated outcome
    with the error, one that reports nothing is "nothing in scope"."""
    try:
        outcomes = list(fn(ctx, rule.param_map))
    except EdgeauditError:
        raise
    except Exception as exc:  # a broken check is a visible result, not a crash
        log.exception("check %s failed", rule.check)
        outcomes = [
            Outcome(
                Scope(subject=rule.id),
                NOT_EVALUATED,
                f"check {rule.check} failed: {type(exc).__name__}: {exc}",
            )
        ]
    if not outcomes:
        outcomes = [Outcome(Scope(subject=rule.id), NOT_EVALUATED, "nothing in scope")]
    return outcomes


def tenant_view(
    policies: Policies, results: list[Result], tenant: str, visible: set[tuple[str, int]]
) -> list[Result]:
    """The results ``tenant`` sees, each citing only the entries in ``visible`` (their
    ``(origin or "", index)``)."""
    site_wide = {rule.id for rule in policies.rules.rules if rule.site_wide}
    return [
        _for_tenant(r, tenant, visible)
        for r in results
        if tenant_sees(r.scope.tenant, r.rule, tenant, site_wide)
    ]


def assessment(
    policies: Policies,
    results: list[Result],
    tenant: str | None,
    selected: tuple[str, ...],
    period: tuple[float, float],
    size: int,
    evaluated_at: str,
    checkpoint: tuple[int, str] | None,
    logs: tuple[tuple[str, int, str], ...] = (),
) -> Assessment:
    """The assessment of ``results`` (a fresh id): the controls rolled up, the results of the
    selected frameworks, and what it was judged by; ``logs`` for a campus assessment."""
    controls, results = finish(policies, results, tenant, selected)
    return Assessment(
        id=str(uuid.uuid4()),
        start=iso(period[0]),
        end=iso(period[1]),
        tenant=tenant,
        frameworks=selected,
        tree_size=size,
        evaluated_at=evaluated_at,
        policy_digest=policies.digest,
        results=tuple(results),
        controls=tuple(controls),
        rules_version=policies.rules.version,
        policy_files=policies.file_digests,
        site_wide_rules=tuple(rule.id for rule in policies.rules.rules if rule.site_wide),
        checkpoint=checkpoint,
        rules=rule_descriptions(policies),
        logs=logs,
    )


def finish(
    policies: Policies, results: list[Result], tenant: str | None, selected: tuple[str, ...]
) -> tuple[list[ControlStatus], list[Result]]:
    """The controls rolled up from ``results``, and the results of the selected frameworks."""
    controls = rollup_results(
        policies.catalogue,
        selected,
        [
            {"id": r.id, "status": r.status, "controls": r.controls, "scope": r.scope.to_dict()}
            for r in results
        ],
        tenant=tenant,
        mapped={ref for rule in policies.rules.rules for ref in rule.controls},
    )
    in_frameworks = {
        c for c in (ctl.ref for ctl in policies.catalogue.controls) if c.split(":")[0] in selected
    }
    results = [r for r in results if not r.controls or set(r.controls) & in_frameworks]
    return controls, results


def _result(rule: Rule, o: Outcome, waivers: Iterable[Waiver], ctx: Context) -> Result:
    rid = result_id(rule.id, o.scope)
    status, reason, waiver = o.status, o.reason, None
    if status == FAIL:
        for w in waivers:
            if not w.matches(rule.id, rid, o.scope):
                continue
            if ctx.as_of < epoch(w.effective):
                reason = f"{reason} [waiver {w.id} not yet in force: effective {w.effective}]"
                continue
            if ctx.as_of >= epoch(w.expires):
                reason = f"{reason} [waiver {w.id} expired {w.expires}: finding re-opened]"
                continue
            problem = waiver_problem(w, rule, o.scope, ctx)
            if problem is not None:
                reason = f"{reason} [waiver {w.id} not valid: {problem}]"
                continue
            status, waiver = WAIVED, w
            reason = f"{reason} [waived by {w.id}, approved by {w.approver}, until {w.expires}]"
            break
    return Result(
        id=rid,
        rule=rule.id,
        title=rule.title,
        status=status,
        severity=rule.severity,
        controls=rule.controls,
        scope=o.scope,
        reason=reason,
        evidence=o.evidence,
        waiver=waiver,
        observed=o.observed,
        activity=rule.activity,
    )


def waiver_problem(w: Waiver, rule: Rule, scope: Scope, ctx: Context) -> str | None:
    """Why waiver ``w`` may not accept a failing result of ``rule`` in ``scope`` (None when it
    may): its approver must be an inventory principal holding A for the rule's RACI activity
    (for the result's tenant) and must not be a principal of the result."""
    p = ctx.inventory.principal(w.approver)
    if p is None:
        return f"approver {w.approver} is not a principal of the inventory"
    if scope.principal == w.approver:
        return f"approver {w.approver} is the principal of the result they waive"
    if rule.activity is None or ctx.raci is None:
        return "no RACI matrix or rule activity to show who may accept the risk"
    if not ctx.raci.holds(p, "A", rule.activity, scope.tenant):
        return (
            f"approver {w.approver} is not Accountable for {rule.activity!r}"
            + (f" for {scope.tenant}" if scope.tenant else "")
            + " in the RACI matrix"
        )
    return None


def tenant_sees(
    result_tenant: str | None, rule: str, tenant: str, site_wide: Iterable[str]
) -> bool:
    """The one rule for which results a tenant sees: those whose scope is the tenant, and the
    site-wide results (no tenant in scope) of the rules marked ``site_wide: true`` in
    ``rules.yaml`` (store integrity, RACI structure: they name no other tenant's data)."""
    if result_tenant is not None:
        return result_tenant == tenant
    return rule in site_wide


def _for_tenant(r: Result, tenant: str, visible: set[tuple[str, int]]) -> Result:
    kept = tuple(e for e in r.evidence if (e.origin or "", e.index) in visible)
    if len(kept) == len(r.evidence):
        return r
    observed = (*r.observed, ("withheld_evidence", len(r.evidence) - len(kept)))
    return Result(
        r.id,
        r.rule,
        r.title,
        r.status,
        r.severity,
        r.controls,
        r.scope,
        r.reason,
        kept,
        r.waiver,
        observed,
        r.activity,
    )
