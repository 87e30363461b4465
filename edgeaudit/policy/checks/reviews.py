"""Access reviews on cadence: the latest ``review.access`` event (appended by the reviewer:
``reviewer``, optional ``tenant``, optional ``subjects``: the principals whose access was
reviewed) by someone who may review (R or A for the rule's RACI activity, not a subject).

A review in the period passes; the latest one before the period is ``stale`` while its cadence
deadline has not passed at the as-of time, and ``fail`` (overdue) once it has.

Per tenant (``reviews.tenant_access``): ``review.access`` records naming the ``tenant``, by the
tenant's reviewer (inventory) or a principal holding R or A for the rule's activity for that
tenant, covering each of the tenant's principals. Log reviews (``reviews.log_review``):
``review.log`` records on a cadence counted in site-local calendar days, so daylight saving
never turns a daily review into a missed one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edgeaudit.collect.inventory_types import Tenant
from edgeaudit.errors import ConfigError
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, reviewer_problem
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE, Outcome, Scope
from edgeaudit.policy.registry import Param, check


@check(
    "reviews.access_cadence",
    "User accounts and access privileges are reviewed on cadence by someone who may review them",
    ("ADM", "JIT"),
    cadence=Param("duration", 183 * 86400, "longest time between two access reviews"),
)
def access_cadence(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    cadence = float(params["cadence"])
    reviews = sorted(
        (
            ev
            for ev in ctx.events("review.access", lookback=True)
            if ev.t <= ctx.as_of and not isinstance(ev.rec.get("tenant"), str)
        ),  # a review naming a tenant is that tenant's own (reviews.tenant_access)
        key=lambda e: (e.t, e.key),
    )
    scope = Scope(subject="access-review")
    valid: list[tuple[Ev, str | None]] = []
    refused: list[tuple[Ev, str | None]] = []
    for ev in reviews:
        subjects = ev.rec.get("subjects")
        names = {s for s in subjects if isinstance(s, str)} if isinstance(subjects, list) else set()
        why = reviewer_problem(ctx, ev.rec.get("reviewer"), names, None)
        (refused if why else valid).append((ev, why))
    note = "; ".join(f"review of {when(ev.t)} not counted: {why}" for ev, why in refused[-3:])
    if not valid:
        if refused:
            yield Outcome(
                scope,
                FAIL,
                f"no access review by someone who may review ({note})",
                cite(ev for ev, _ in refused),
            )
        else:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                "no access review recorded in the period or the "
                f"{ctx.lookback / 86400:.0f} days before it (append a review.access event when "
                "one is done)",
            )
        return
    latest = valid[-1][0]
    extra = f" ({note})" if note else ""
    due = latest.t + cadence
    cited = cite([latest, *(ev for ev, _ in refused)])
    by = latest.rec.get("reviewer")
    if latest.t >= ctx.start and due >= ctx.as_of:
        yield Outcome(
            scope,
            PASS,
            f"access review {when(latest.t)} by {by} in the period (next due {when(due)}){extra}",
            cited,
        )
    elif due < ctx.as_of:
        yield Outcome(
            scope,
            FAIL,
            f"access review overdue: last {when(latest.t)} by {by}, due {when(due)} "
            f"(cadence {cadence / 86400:.0f} days){extra}",
            cited,
        )
    else:
        yield Outcome(
            scope,
            STALE,
            f"no access review in the period; the last, {when(latest.t)} by {by}, predates it "
            f"and the next is due {when(due)}{extra}",
            cited,
        )


def _tenant_reviewer_problem(ctx: Context, reviewer: object, tenant: Tenant) -> str | None:
    """Why ``reviewer`` may not review ``tenant``'s principals (None when they may): the
    tenant's reviewer in the inventory, or a principal holding R or A for the rule's activity
    for that tenant in the RACI matrix."""
    if not isinstance(reviewer, str) or not reviewer:
        return "the review names no reviewer"
    p = ctx.inventory.principal(reviewer)
    if p is None:
        return f"reviewer {reviewer} is not a principal of the inventory"
    if reviewer == tenant.reviewer:
        return None
    if ctx.raci is None or ctx.activity is None:
        return f"{reviewer} is not {tenant.id}'s reviewer and no RACI matrix names others"
    if ctx.raci.holds(p, "R", ctx.activity, tenant.id) or ctx.raci.holds(
        p, "A", ctx.activity, tenant.id
    ):
        return None
    return (
        f"{reviewer} is not {tenant.id}'s reviewer and holds neither R nor A for "
        f"{ctx.activity!r} for {tenant.id} in the RACI matrix"
    )


@check(
    "reviews.tenant_access",
    "Each tenant's principals are reviewed on cadence by that tenant's reviewer",
    ("ADM", "JIT"),
    cadence=Param("duration", 92 * 86400, "longest time between two reviews of a tenant"),
)
def tenant_access(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    cadence = float(params["cadence"])
    reviews = sorted(
        (ev for ev in ctx.events("review.access", lookback=True) if ev.t <= ctx.as_of),
        key=lambda e: (e.t, e.key),
    )
    for tenant in ctx.inventory.tenants:
        members = {p.id for p in ctx.inventory.principals if p.tenant == tenant.id}
        if not members:
            continue
        scope = Scope(tenant=tenant.id, subject="tenant access review")
        valid: list[tuple[Ev, set[str]]] = []
        refused: list[tuple[Ev, str]] = []
        for ev in reviews:
            if ev.rec.get("tenant") != tenant.id:
                continue
            subjects = ev.rec.get("subjects")
            names = (
                {s for s in subjects if isinstance(s, str)}
                if isinstance(subjects, list)
                else set(members)  # a review without subjects covers the whole tenant
            )
            why = _tenant_reviewer_problem(ctx, ev.rec.get("reviewer"), tenant)
            if why is None and ev.rec.get("reviewer") in names:
                why = f"{ev.rec.get('reviewer')} reviewed their own access"
            if why:
                refused.append((ev, why))
            else:
                valid.append((ev, names))
        note = "; ".join(f"review of {when(ev.t)} not counted: {why}" for ev, why in refused[-3:])
        extra = f" ({note})" if note else ""
        if not valid:
            status = FAIL if refused else NOT_EVALUATED
            text = (
                f"no review of {tenant.id}'s principals by someone who may review them{extra}"
                if refused
                else f"no review of {tenant.id}'s principals recorded in the period or the "
                f"{ctx.lookback / 86400:.0f} days before it (append a review.access with "
                f'"tenant": "{tenant.id}")'
            )
            yield Outcome(scope, status, text, cite(ev for ev, _ in refused))
            continue
        # each principal's latest valid review: the tenant is as current as its oldest one
        last_of: dict[str, Ev] = {}
        for ev, names in valid:
            for name in names & members:
                last_of[name] = ev
        missing = sorted(members - set(last_of))
        cited = cite([*{e.key: e for e in last_of.values()}.values(), *(e for e, _ in refused)])
        if missing:
            latest = valid[-1][0]
            yield Outcome(
                scope,
                FAIL,
                f"no review of {', '.join(missing)} ({tenant.id}) by someone who may review "
                f"them; the latest review, {when(latest.t)} by {latest.rec.get('reviewer')}, "
                f"left them out{extra}",
                cite([latest, *(e for e, _ in refused)]),
            )
            continue
        oldest_name, oldest = min(last_of.items(), key=lambda kv: (kv[1].t, kv[0]))
        due = oldest.t + cadence
        by = oldest.rec.get("reviewer")
        if due < ctx.as_of:
            yield Outcome(
                scope,
                FAIL,
                f"review of {oldest_name} ({tenant.id}) overdue: last {when(oldest.t)} by {by}, "
                f"due {when(due)} (cadence {cadence / 86400:.0f} days){extra}",
                cited,
            )
        elif oldest.t >= ctx.start:
            reviewers = sorted({str(e.rec.get("reviewer")) for e in last_of.values()})
            yield Outcome(
                scope,
                PASS,
                f"{tenant.id}'s {len(members)} principals reviewed in the period by "
                f"{', '.join(reviewers)} (next due {when(due)}){extra}",
                cited,
            )
        else:
            yield Outcome(
                scope,
                STALE,
                f"{oldest_name} ({tenant.id}) not reviewed in the period; the last review, "
                f"{when(oldest.t)} by {by}, predates it and the next is due {when(due)}{extra}",
                cited,
            )


def _local_day(t: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(t, UTC).astimezone(zone).date()


@check(
    "reviews.log_review",
    "Logs are reviewed on cadence (site-local calendar days)",
    ("STORE",),
    every=Param("int", 1, "longest number of site-local calendar days between two log reviews"),
)
def log_review(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    every = int(params["every"])
    if every < 1:
        raise ConfigError("reviews.log_review: every must be at least 1 day")
    zone = ZoneInfo(ctx.inventory.timezone or "UTC")
    scope = Scope(subject="log review")
    valid: list[Ev] = []
    refused: list[tuple[Ev, str]] = []
    for ev in ctx.events("review.log", lookback=True):
        if ev.t > ctx.as_of:
            continue
        why = reviewer_problem(ctx, ev.rec.get("reviewer"), set(), None)
        if why:
            refused.append((ev, why))
        else:
            valid.append(ev)
    note = "; ".join(f"review of {when(ev.t)} not counted: {why}" for ev, why in refused[-3:])
    extra = f" ({note})" if note else ""
    reviewed = {_local_day(ev.t, zone) for ev in valid}
    first = _local_day(ctx.start, zone)
    # the last day that has fully elapsed at the as-of time (site-local)
    last = _local_day(ctx.as_of - 1, zone)
    if _local_day(ctx.as_of, zone) == last:
        last -= timedelta(days=1)
    missed: list[date] = []
    d = first
    while d <= last:
        window = {d - timedelta(days=k) for k in range(every)}
        if not window & reviewed:
            missed.append(d)
        d += timedelta(days=1)
    in_period = [ev for ev in valid if ev.t >= ctx.start]
    cited = cite([*in_period[-MAX_PASS_CITATIONS:], *(ev for ev, _ in refused)])
    if not valid and not refused:
        yield Outcome(
            scope,
            NOT_EVALUATED,
            "no log review recorded (append a review.log record after each review)",
        )
    elif missed and valid:
        runs = _runs(missed)
        listed = ", ".join(a.isoformat() if a == b else f"{a} to {b}" for a, b in runs[:8])
        yield Outcome(
            scope,
            FAIL,
            f"{len(missed)} site-local day{'s' if len(missed) != 1 else ''} ({zone.key}) "
            "without a log review in the "
            f"{every} day(s) ending on them: {listed}{' …' if len(runs) > 8 else ''}{extra}",
            cite([*valid[-MAX_PASS_CITATIONS:], *(ev for ev, _ in refused)]),
            (("missed_days", [m.isoformat() for m in missed]),),
        )
    elif in_period:
        yield Outcome(
            scope,
            PASS,
            f"{plural(len(in_period), 'log review')} in the period, none more than "
            f"{every} site-local day(s) ({zone.key}) apart{extra}",
            cited,
        )
    elif valid:
        yield Outcome(
            scope,
            STALE,
            f"no log review in the period; the last, {when(valid[-1].t)}, predates it{extra}",
            cite([valid[-1]]),
        )
    else:
        yield Outcome(scope, FAIL, f"no log review by someone who may review{extra}", cited)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and d - runs[-1][1] == timedelta(days=1):
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs
