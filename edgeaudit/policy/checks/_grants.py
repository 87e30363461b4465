"""Just-in-time grants rebuilt from the ``grant.*`` events, shared by the JIT checks.

Grants are rebuilt once per assessment (``Context.memo``) from the ``grant.*`` events of the
period plus a look-back (a grant approved before the period can cover a session inside it):
request, reviews, approval and ends (deny, revoke, expire) by grant id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from edgeaudit.policy.checks._common import who
from edgeaudit.policy.context import GRANT_KINDS, Context, Ev, epoch
from edgeaudit.policy.model import Scope


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


def pair_scope(ctx: Context, principal: str | None, asset: str | None) -> Scope:
    """The scope of a (principal, asset) result: the asset's tenant, the asset, the principal."""
    return Scope(tenant=ctx.tenant_of(ctx.owner_of_asset(asset)), asset=asset, principal=principal)
