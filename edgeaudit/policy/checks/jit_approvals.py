"""Just-in-time grant approvals: no self-approval, an Accountable approver (RACI), no
administrator override without a review, no grant longer than the maximum duration.

Each judges the grants approved inside the period (``_grants``), by (requester, asset).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural
from edgeaudit.policy.checks._grants import GrantView, grants, pair_scope
from edgeaudit.policy.context import Context
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome
from edgeaudit.policy.registry import Param, check


def _approved_in_period(ctx: Context) -> dict[tuple[str, str], list[GrantView]]:
    """Approved grants (approval inside the period) by (requester, asset)."""
    return ctx.memo("jit.approved", lambda: _approved(ctx))


def _approved(ctx: Context) -> dict[tuple[str, str], list[GrantView]]:
    out: dict[tuple[str, str], list[GrantView]] = defaultdict(list)
    for g in grants(ctx).values():
        if g.approve is None or not ctx.in_period(g.approve.t):
            continue
        for asset in sorted(g.assets) or ["?"]:
            out[(g.requester or "?unknown", asset)].append(g)
    return out


@check(
    "jit.no_self_approval",
    "No JIT grant is approved by its own requester",
    ("JIT", "RACI"),
)
def no_self_approval(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    for (user, asset), gs in sorted(_approved_in_period(ctx).items()):
        bad = [g for g in gs if g.approver is not None and g.approver == g.requester]
        scope = pair_scope(ctx, user, asset)
        if bad:
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'grant')} of {user} for {asset} approved by {user} "
                f"themself: {', '.join(g.id for g in bad)}",
                cite(e for g in bad for e in g.evidence()),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(gs), 'grant')} of {user} for {asset}, each approved by someone else",
                cite(e for g in gs[:MAX_PASS_CITATIONS] for e in g.evidence()),
            )


@check(
    "jit.approver_accountable",
    "JIT grants are approved by a holder of the Accountable role for the asset (RACI)",
    ("JIT", "RACI"),
    activity=Param("text", "admin-access-approval", "the RACI activity that approves access"),
)
def approver_accountable(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    activity = str(params["activity"])
    for (user, asset), gs in sorted(_approved_in_period(ctx).items()):
        scope = pair_scope(ctx, user, asset)
        if ctx.raci is None:
            yield Outcome(scope, NOT_EVALUATED, "no RACI matrix (policies/raci.yaml)")
            continue
        owner = ctx.owner_of_asset(asset)
        bad = []
        for g in gs:
            approver = g.approver
            p = ctx.inventory.principal(approver)
            if p is None or not ctx.raci.holds(p, "A", activity, owner):
                bad.append(g)
        if bad:
            names = sorted({g.approver or "?" for g in bad})
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'grant')} of {user} for {asset} approved by "
                f"{', '.join(names)}, not Accountable for {activity!r} on "
                f"{owner or 'unknown'} assets per RACI",
                cite(e for g in bad for e in g.evidence()),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(gs), 'grant')} of {user} for {asset} approved by an Accountable "
                f"party for {activity!r}",
                cite(e for g in gs[:MAX_PASS_CITATIONS] for e in g.evidence()),
            )


@check(
    "jit.admin_override",
    "No JIT grant is approved by an administrator override without a review",
    ("JIT",),
)
def admin_override(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    for (user, asset), gs in sorted(_approved_in_period(ctx).items()):
        bad = [g for g in gs if g.admin_override]
        scope = pair_scope(ctx, user, asset)
        if bad:
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'grant')} of {user} for {asset} approved by "
                f"{', '.join(sorted({g.approver or '?' for g in bad}))} without a review "
                f"(admin override): {', '.join(g.id for g in bad)}",
                cite(e for g in bad for e in g.evidence()),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(gs), 'grant')} of {user} for {asset}, each reviewed before approval",
                cite(e for g in gs[:MAX_PASS_CITATIONS] for e in g.evidence()),
            )


@check(
    "jit.grant_duration",
    "JIT grants last no longer than the maximum duration",
    ("JIT",),
    max_duration=Param("duration", 4 * 3600, "longest grant allowed"),
)
def grant_duration(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    limit = float(params["max_duration"])
    for (user, asset), gs in sorted(_approved_in_period(ctx).items()):
        scope = pair_scope(ctx, user, asset)
        known = [(g, d) for g in gs if (d := g.requested_seconds()) is not None]
        bad = [(g, d) for g, d in known if d > limit + 0.5]
        if bad:
            detail = ", ".join(f"{g.id} ({d / 3600:.1f} h)" for g, d in bad)
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'grant')} of {user} for {asset} longer than "
                f"{limit / 3600:g} h: {detail}",
                cite(e for g, _ in bad for e in g.evidence()),
            )
        elif not known:
            yield Outcome(scope, NOT_EVALUATED, "no grant states its duration or expiry")
        else:
            longest = max(d for _, d in known)
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(known), 'grant')} of {user} for {asset}, longest "
                f"{longest / 3600:.1f} h (max {limit / 3600:g} h)",
                cite(e for g, _ in known[:MAX_PASS_CITATIONS] for e in g.evidence()),
            )
