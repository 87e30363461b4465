"""Just-in-time access: admin sessions under grants, and break-glass reviews.

Sessions are rebuilt from the records of each access (``_sessions``), grants from the
``grant.*`` events of the period plus a look-back (``_grants``); whether a session was allowed
is a Cedar decision (``admin.session`` or ``priv.switch``) with ``active_grant`` and
``break_glass`` in its context, judged over the session's whole duration. The checks of the
grants themselves (approvals, overrides, durations) are in ``jit_approvals``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from edgeaudit.policy.cedar import Request
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, reviewer_problem
from edgeaudit.policy.checks._grants import GrantView, grants, pair_scope
from edgeaudit.policy.checks._sessions import (
    Session,
    Windows,
    covered_seconds,
    describe,
    sessions,
)
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check


@check(
    "jit.session_covered",
    "Privileged sessions are covered by an approved, unexpired JIT grant for the asset for "
    "their whole duration",
    ("ADM", "JIT"),
    grace=Param("duration", 300, "clock-skew allowance at both ends of a grant"),
)
def session_covered(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    """Every session (logon, Teleport session, console, sudo/su) is judged once, over its
    duration: allowed without a grant by the access policies (a tenant's staff on the tenant's
    own assets, a break-glass account), or covered second by second by usable grants of the
    same principal for the asset. Uncovered seconds fail the (principal, asset) result."""
    grace = float(params["grace"])
    horizon = min(ctx.end, ctx.as_of)
    all_grants = grants(ctx)
    by_pair: dict[tuple[str, str], list[tuple[float, float, GrantView]]] = defaultdict(list)
    for g in all_grants.values():
        w = g.window()
        if w is not None and g.requester:
            for asset in g.assets:
                by_pair[(g.requester, asset)].append((w[0] - grace, w[1] + grace, g))
    usable = {k: Windows(v) for k, v in by_pair.items()}
    none = Windows(())
    items = []
    for s in sessions(ctx):
        # a break-glass account logging in, or elevating from its own session (sudo, su)
        bg = ctx.inventory.is_break_glass(s.account, s.asset) or (
            s.action == "priv.switch" and ctx.inventory.is_break_glass(s.user, s.asset)
        )
        base = Request(s.principal, s.action, "Asset", s.asset, (False, bg, False, False))
        with_grant = Request(s.principal, s.action, "Asset", s.asset, (True, bg, False, False))
        windows = usable.get((s.principal, s.asset), none).meeting(s.start, s.end(horizon))
        for gid in s.grant_ids:  # a grant the session's own records name (Teleport)
            named = all_grants.get(gid)
            w = named.window() if named is not None else None
            if named is not None and w is not None and named.requester == s.principal:
                windows.append((w[0] - grace, w[1] + grace, named))
        items.append((s, base, with_grant, windows, bg))
    decisions = ctx.cedar.decide([r for _, b, w, _, _ in items for r in (b, w)])
    groups: dict[tuple[str, str], list[_Judged]] = defaultdict(list)
    for n, (s, _b, _w, windows, bg) in enumerate(items):
        free, granted = decisions[2 * n], decisions[2 * n + 1]
        end = s.end(horizon)
        duration = end - s.start
        if free.allowed:
            j = _Judged(s, end, 0.0, True, "break-glass" if bg else "access policy", None)
        elif granted.allowed:
            spans = [(lo, hi) for lo, hi, _ in windows]
            uncovered = max(0.0, duration - covered_seconds(s.start, end, spans))
            if uncovered < 1e-6:
                uncovered = 0.0
            if duration > 0.0:  # covered second by second, by one grant or several in a row
                ok = uncovered == 0.0
            else:  # an instant (a single command): a grant usable at that instant
                ok = any(lo <= s.start <= hi for lo, hi in spans)
            used = tuple(g for lo, hi, g in windows if lo <= end and hi >= s.start)
            j = _Judged(s, end, uncovered, ok, "grant", None, used)
        else:
            why = granted.error or "denied by the access policies even under a grant"
            j = _Judged(s, end, duration, False, "denied", why)
        groups[(s.principal, s.asset)].append(j)
    for (user, asset), judged in sorted(groups.items()):
        scope = pair_scope(ctx, user, asset)
        bad = [j for j in judged if not j.allowed]
        open_ = sum(1 for j in judged if j.session.end_record is None)
        how_many: dict[str, int] = defaultdict(int)
        for j in judged:
            how_many[j.how if j.allowed else "not covered"] += 1
        # sessions by how they were allowed: the report's JIT chart says what the engine says
        observed: list[tuple[str, Any]] = [("sessions", len(judged)), ("by", dict(how_many))]
        if open_:
            observed.append(("end_not_evidenced", open_))
        if bad:
            total = sum(j.uncovered for j in bad)
            details = "; ".join(j.text() for j in bad[:5])
            more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
            partial = [g.approve for j in bad for g in j.grants if g.approve is not None]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'session')} of {len(judged)} of {user} on {asset} not "
                f"covered by an approved, unexpired grant for {asset} for their whole duration "
                f"(grace {int(grace)} s; {describe(total)} uncovered): {details}{more}",
                cite([*(e for j in bad for e in j.session.evidence()), *partial]),
                (
                    *observed,
                    ("uncovered", len(bad)),
                    ("uncovered_s", round(total)),
                    ("uncovered_sessions", [j.to_dict() for j in bad[:20]]),
                ),
            )
        else:
            cited: list[Ev] = []
            for j in judged[:MAX_PASS_CITATIONS]:
                cited.extend(j.session.records[:1])
                cited.extend(g.approve for g in j.grants if g.approve is not None)
            hows = sorted({j.how for j in judged})
            unended = (
                f"; {open_} with no end evidenced, judged until {when(horizon)}" if open_ else ""
            )
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(judged), 'session')} of {user} on {asset}, all allowed for "
                f"their whole duration ({', '.join(hows)}){unended}",
                cite(cited),
                tuple(observed),
            )


@dataclass(frozen=True)
class _Judged:
    session: Session
    end: float
    uncovered: float  # seconds outside every usable grant
    allowed: bool  # allowed for its whole duration (an instant: at that instant)
    how: str  # access policy / break-glass / grant / denied
    why: str | None  # why Cedar denied it even under a grant
    grants: tuple[GrantView, ...] = ()  # the grants usable during (part of) the session

    def text(self) -> str:
        s = self.session
        if s.end_record is None:
            span = f"{when(s.start)} - end not evidenced, judged until {when(self.end)}"
        elif self.end == s.start:
            span = f"at {when(s.start)}"
        else:
            span = f"{when(s.start)} - {when(self.end)}"
        gap = (
            "outside every grant"
            if self.end == s.start
            else f"{describe(self.uncovered)} uncovered"
        )
        out = f"{s.action} as {s.account} {span} ({gap}; {', '.join(s.sources)})"
        return out + (f" [{self.why}]" if self.why else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": when(self.session.start),
            "end": when(self.end),
            "end_evidenced": self.session.end_record is not None,
            "account": self.session.account,
            "action": self.session.action,
            "uncovered_s": round(self.uncovered),
            "sources": list(self.session.sources),
            "grants": sorted(g.id for g in self.grants),
            "entries": [
                e.index if e.origin is None else e.ref.text() for e in self.session.evidence()
            ],
        }


@check(
    "jit.breakglass_reviewed",
    "Every break-glass use is reviewed within the deadline by someone who may review it",
    ("ADM", "JIT"),
    deadline=Param("duration", 72 * 3600, "time allowed between the use and its review"),
)
def breakglass_reviewed(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    """A review is an appended ``review.breakglass`` event naming an entry of the session
    (``entry``: its index) with the reviewer (``reviewer``: a principal id). It counts only when
    the reviewer holds R or A for the rule's RACI activity and is not the session's principal;
    otherwise it is cited and the result fails with the reason."""
    deadline = float(params["deadline"])
    reviews: dict[tuple[str, int], list[Ev]] = defaultdict(list)  # an entry of its own log
    for ev in ctx.events("review.breakglass"):
        entry = ev.rec.get("entry")
        if isinstance(entry, int) and not isinstance(entry, bool):
            reviews[(ev.key[0], entry)].append(ev)
    for s in sessions(ctx):
        if not ctx.inventory.is_break_glass(s.account, s.asset):
            continue
        scope = Scope(
            tenant=ctx.tenant_of(ctx.owner_of_asset(s.asset)),
            asset=s.asset,
            subject=f"{s.account}@{when(s.start)}",
        )
        evs = s.evidence()
        use = f"break-glass {s.action} as {s.account} on {s.asset} at {when(s.start)}"
        found = sorted((r for e in evs for r in reviews.get(e.key, ())), key=lambda r: r.t)
        valid: list[tuple[Ev, str | None]] = []
        refused: list[tuple[Ev, str | None]] = []
        for r in found:
            why = reviewer_problem(ctx, r.rec.get("reviewer"), {s.principal}, s.asset)
            (refused if why else valid).append((r, why))
        due = s.start + deadline
        note = "; ".join(f"review at {when(r.t)} not counted: {why}" for r, why in refused)
        note = f" ({note})" if note else ""
        review = valid[0][0] if valid else None
        cited = cite([*evs, *found])
        if review is not None and review.t <= due:
            yield Outcome(
                scope,
                PASS,
                f"{use} reviewed by {review.rec.get('reviewer')} at {when(review.t)}{note}",
                cited,
            )
        elif review is not None:
            yield Outcome(
                scope,
                FAIL,
                f"{use} reviewed late ({when(review.t)}, due {when(due)}){note}",
                cited,
            )
        elif due > ctx.as_of:
            yield Outcome(scope, NOT_EVALUATED, f"{use}: review due {when(due)}{note}", cited)
        else:
            yield Outcome(scope, FAIL, f"{use} not reviewed by {when(due)}{note}", cited)
