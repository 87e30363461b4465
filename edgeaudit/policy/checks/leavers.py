"""Leavers: a principal whose access ended (an ``end_date`` in the inventory, or listed under
``leavers`` once removed) has no activity after it — no logon, session, privilege switch,
command, door entry, grant request, key use or administration, Vault request or review."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import cite, plural, who
from edgeaudit.policy.checks._keyuse import end_dates, facts
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, PASS, Outcome, Scope
from edgeaudit.policy.registry import check

ACTIVITY = (
    "auth.logon",
    "auth.verified",
    "session.start",
    "priv.switch",
    "session.command",
    "physical.access",
    "grant.request",
    "grant.approve",
    "grant.review",
    "key.config",
    "key.rotate",
    "vault.request",
    "review.access",
    "review.breakglass",
    "review.log",
)


def _actor(ev: Ev) -> str:
    """Whoever acted: the actor, or the reviewer / approver an appended record names."""
    for field in ("reviewer", "approver"):
        value = ev.rec.get(field)
        if isinstance(value, str) and value:
            return value
    return who(ev)


@check(
    "leavers.no_activity",
    "Principals whose access ended have no activity after their end date",
    ("ADM", "JIT", "KEY", "PHYS"),
)
def leavers(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    ends = end_dates(ctx)
    if not ends:
        return
    after: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events(*ACTIVITY):
        if ev.rec.get("outcome") == "failure" and ev.kind != "auth.logon":
            continue
        user = _actor(ev)
        end = ends.get(user)
        if end is not None and ev.t >= end:
            after[user].append(ev)
    for user, evs in facts(ctx).after_end.items():
        after[user].extend(evs)
    listed = {leaver.id for leaver in ctx.inventory.leavers}
    for user, end in sorted(ends.items()):
        p = ctx.inventory.principal(user)
        tenant = p.tenant if p is not None else None
        scope = Scope(tenant=tenant, principal=user)
        how = "listed as a leaver" if user in listed else "end date in the inventory"
        evs = sorted(after.get(user, []), key=ctx.arrival)
        if evs:
            kinds = sorted({e.kind for e in evs})
            yield Outcome(
                scope,
                FAIL,
                f"{user}'s access ended {when(end)} ({how}), yet {plural(len(evs), 'entry')} "
                f"of activity follow ({', '.join(kinds)}); first at {when(evs[0].t)} "
                f"(entry {evs[0].ref.text()}), last at {when(evs[-1].t)}",
                cite(evs),
                (("end", when(end)), ("after_end", len(evs))),
            )
        elif end >= ctx.as_of:
            continue  # not a leaver yet at the as-of time: nothing to judge
        else:
            yield Outcome(
                scope,
                PASS,
                f"no activity of {user} in the period after their access ended {when(end)} ({how})",
                (),
                (("end", when(end)),),
            )
