"""Just-in-time access: admin sessions under grants, approvals, overrides, durations, break-glass.

Grants are rebuilt from the ``grant.*`` events of the period plus a look-back (a grant approved
before the period can cover a session inside it). A session is an ``auth.logon`` on an inventory
asset; whether it was allowed is a Cedar decision (``admin.session``) with ``active_grant`` and
``break_glass`` in its context.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from edgeaudit.policy.cedar import Request
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, who
from edgeaudit.policy.context import GRANT_KINDS, Context, Ev, epoch, iso
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check


@dataclass
class GrantView:
    id: str
    request: Ev | None = None
    reviews: list[Ev] = field(default_factory=list)
    approve: Ev | None = None
    ends: list[Ev] = field(default_factory=list)  # deny / revoke / expire

    @property
    def requester(self) -> str | None:
        return None if self.request is None else who(self.request)

    @cached_property
    def assets(self) -> frozenset[str]:
        out: set[str] = set()
        for ev in (self.request, self.approve):
            if ev is None:
                continue
            if a := ev.get("target", "asset"):
                out.add(str(a))
            for r in ev.get("grant", "resources") or ():
                out.add(str(r).rstrip("/").rsplit("/", 1)[-1])
        return frozenset(out)

    @property
    def approver(self) -> str | None:
        return None if self.approve is None else who(self.approve)

    @property
    def admin_override(self) -> bool:
        if self.approve is None:
            return False
        if self.approve.get("grant", "admin_override"):
            return True
        return not any(r.get("grant", "state") == "approved" for r in self.reviews)

    @property
    def expires(self) -> float | None:
        for ev in (self.approve, self.request):
            if ev is not None and (text := ev.get("grant", "expires")):
                return epoch(str(text))
        return None

    def window(self) -> tuple[float, float] | None:
        """[approved, end) while the grant was usable; None if never approved."""
        if self.approve is None or self.approve.rec.get("outcome") == "failure":
            return None
        end = self.expires
        if end is None:
            return None
        for ev in self.ends:
            if ev.t > self.approve.t and ev.kind in ("grant.revoke", "grant.expire"):
                end = min(end, ev.t)
        return self.approve.t, end

    def requested_seconds(self) -> float | None:
        if self.request is None:
            return None
        max_s = self.request.get("grant", "max_duration_s")
        if isinstance(max_s, int):
            return float(max_s)
        end = self.expires
        return None if end is None else end - self.request.t

    def evidence(self) -> list[Ev]:
        return [e for e in (self.request, *self.reviews, self.approve) if e is not None]


def grants(ctx: Context) -> dict[str, GrantView]:
    """Every grant of the period and look-back, rebuilt once per assessment."""
    return ctx.memo("jit.grants", lambda: _grants(ctx))


def _grants(ctx: Context) -> dict[str, GrantView]:
    out: dict[str, GrantView] = {}
    for ev in ctx.events(*GRANT_KINDS, lookback=True):
        gid = ev.get("grant", "id")
        if not gid:
            continue
        g = out.setdefault(str(gid), GrantView(str(gid)))
        if ev.kind == "grant.request":
            g.request = g.request or ev
        elif ev.kind == "grant.review":
            g.reviews.append(ev)
        elif ev.kind == "grant.approve":
            g.approve = g.approve or ev
        else:
            g.ends.append(ev)
    return out


def _scope(ctx: Context, principal: str | None, asset: str | None) -> Scope:
    return Scope(tenant=ctx.tenant_of(ctx.owner_of_asset(asset)), asset=asset, principal=principal)


@check(
    "jit.session_covered",
    "Admin sessions are covered by an approved, unexpired JIT grant for the asset",
    ("ADM", "JIT"),
    grace=Param("duration", 300, "clock-skew allowance at both ends of a grant"),
)
def session_covered(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    grace = float(params["grace"])
    # usable grants by (requester, asset)
    usable: dict[tuple[str, str], list[tuple[GrantView, tuple[float, float]]]] = defaultdict(list)
    for g in grants(ctx).values():
        w = g.window()
        if w is not None and g.requester:
            for asset in g.assets:
                usable[(g.requester, asset)].append((g, w))
    sessions = [
        ev
        for ev in ctx.events("auth.logon")
        if ev.rec.get("outcome") == "success"
        and ctx.inventory.asset(str(ev.get("target", "asset") or "")) is not None
    ]
    requests, covering = [], []
    for ev in sessions:
        user, asset = who(ev), str(ev.get("target", "asset"))
        account = str(ev.get("target", "account") or ev.get("actor", "user") or "")
        asset_name = ctx.inventory.asset(asset).hostname  # type: ignore[union-attr]
        cover = next(
            (
                g
                for g, (lo, hi) in usable.get((user, asset_name), ())
                if lo - grace <= ev.t <= hi + grace
            ),
            None,
        )
        covering.append(cover)
        requests.append(
            Request(
                user,
                "admin.session",
                "Asset",
                asset_name,
                (
                    cover is not None,
                    ctx.inventory.is_break_glass(account, asset_name),
                    False,
                    False,
                ),
            )
        )
    decisions = ctx.cedar.decide(requests)
    groups: dict[tuple[str, str], list[tuple[Ev, bool, GrantView | None, bool]]] = defaultdict(list)
    for ev, req, dec, cover in zip(sessions, requests, decisions, covering, strict=True):
        groups[(req.principal, req.resource)].append((ev, dec.allowed, cover, req.context[1]))
    for (user, asset), items in sorted(groups.items()):
        scope = _scope(ctx, user, asset)
        denied = [ev for ev, ok, _, _ in items if not ok]
        if denied:
            times = ", ".join(iso(e.t) for e in denied[:5])
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(denied), 'session')} of {user} on {asset} not covered by an "
                f"approved, unexpired grant for {asset} (grace {int(grace)} s): {times}",
                cite(denied),
                (("sessions", len(items)), ("uncovered", len(denied))),
            )
        else:
            cited: list[Ev] = []
            for ev, _, cover, _bg in items[:MAX_PASS_CITATIONS]:
                cited.append(ev)
                if cover is not None and cover.approve is not None:
                    cited.append(cover.approve)
            how = "break-glass" if all(bg for *_, bg in items) else "grant or own-tenant policy"
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'session')} of {user} on {asset}, all allowed ({how})",
                cite(cited),
                (("sessions", len(items)),),
            )


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
        scope = _scope(ctx, user, asset)
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
        scope = _scope(ctx, user, asset)
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
        scope = _scope(ctx, user, asset)
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
        scope = _scope(ctx, user, asset)
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


@check(
    "jit.breakglass_reviewed",
    "Every break-glass use is reviewed within the deadline",
    ("ADM", "JIT"),
    deadline=Param("duration", 72 * 3600, "time allowed between the use and its review"),
)
def breakglass_reviewed(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    """A review is an appended ``review.breakglass`` event naming the logon entry (``entry``:
    its index) with the reviewer (``reviewer``: a principal id)."""
    deadline = float(params["deadline"])
    reviews: dict[int, Ev] = {}
    for ev in ctx.events("review.breakglass"):
        entry = ev.rec.get("entry")
        if isinstance(entry, int):
            reviews.setdefault(entry, ev)
    # one login seen by several sources (sshd and auditd, say) is one use: a review naming any
    # of its entries counts, and every entry is cited
    uses: dict[Scope, list[Ev]] = {}
    for ev in ctx.events("auth.logon"):
        account = str(ev.get("target", "account") or ev.get("actor", "user") or "")
        asset = ev.get("target", "asset")
        if ev.rec.get("outcome") != "success" or not ctx.inventory.is_break_glass(account, asset):
            continue
        scope = Scope(
            tenant=ctx.tenant_of(ctx.owner_of_asset(asset)),
            asset=asset,
            subject=f"{account}@{iso(ev.t)}",
        )
        uses.setdefault(scope, []).append(ev)
    for scope, evs in uses.items():
        ev, asset = evs[0], scope.asset
        account = str(ev.get("target", "account") or ev.get("actor", "user") or "")
        found = [r for e in evs if (r := reviews.get(e.index)) is not None]
        review = min(found, key=lambda r: r.t) if found else None
        due = ev.t + deadline
        if review is not None and review.t <= due:
            yield Outcome(
                scope,
                PASS,
                f"break-glass login as {account} on {asset} at {iso(ev.t)} reviewed by "
                f"{review.rec.get('reviewer', '?')} at {iso(review.t)}",
                cite([*evs, review]),
            )
        elif review is not None:
            yield Outcome(
                scope,
                FAIL,
                f"break-glass login as {account} on {asset} at {iso(ev.t)} reviewed late "
                f"({iso(review.t)}, due {iso(due)})",
                cite([*evs, review]),
            )
        elif due > ctx.as_of:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"break-glass login as {account} on {asset} at {iso(ev.t)}: review due {iso(due)}",
                cite(evs),
            )
        else:
            yield Outcome(
                scope,
                FAIL,
                f"break-glass login as {account} on {asset} at {iso(ev.t)} not reviewed "
                f"by {iso(due)}",
                cite(evs),
            )
