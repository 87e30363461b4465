"""RACI: the matrix's structure (one Accountable, at least one Responsible, parties that have
members) and the matrix in practice (activities performed by a Responsible party)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, who
from edgeaudit.policy.context import Context, Ev
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.raci import Party
from edgeaudit.policy.registry import Param, check

REQUIRED = (
    "patching",
    "backups",
    "incident-response",
    "access-review",
    "key-management",
    "segmentation-testing",
    "log-review",
    "admin-access-approval",
)


@check(
    "raci.structure",
    "Every activity has exactly one Accountable and at least one Responsible party",
    ("RACI",),
    required=Param("texts", REQUIRED, "activities the matrix must cover"),
)
def structure(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    raci = ctx.raci
    if raci is None:
        for activity in params["required"]:
            yield Outcome(Scope(activity=activity), FAIL, "no RACI matrix (policies/raci.yaml)")
        return
    for activity in params["required"]:
        if not raci.rows_for(activity) and not any(r.activity == activity for r in raci.rows):
            yield Outcome(
                Scope(activity=activity), FAIL, f"activity {activity!r} is missing from {raci.file}"
            )
    for row in raci.rows:
        scope = Scope(
            activity=row.activity,
            tenant=ctx.tenant_of(row.scope if row.scope != "*" else None),
            # a 'shared' row has no tenant: keep it apart from the activity's '*' row
            subject="scope:shared" if row.scope == "shared" else None,
        )
        problems = []
        a, r = row.parties("A"), row.parties("R")
        if len(a) != 1:
            problems.append(f"{len(a)} Accountable parties (need exactly one)")
        if not r:
            problems.append("no Responsible party")
        for pid in a:
            missing = _without_member(ctx, raci.party(pid), row.scope)
            if missing is not None:
                problems.append(f"Accountable party {pid!r} has no member {missing}")
        where = f"{raci.file}:{row.line}"
        if problems:
            yield Outcome(
                scope, FAIL, f"{row.activity} ({row.scope}) at {where}: " + "; ".join(problems)
            )
        else:
            yield Outcome(
                scope, PASS, f"{row.activity} ({row.scope}): A={a[0]}, R={', '.join(r)} ({where})"
            )


def _without_member(ctx: Context, party: Party, row_scope: str) -> str | None:
    """Where ``party`` has no member for a row of ``row_scope`` (None when it has one
    everywhere it must): a tenant party without a fixed tenant on a ``*`` row stands for each
    tenant's own staff, so it needs a member in every tenant."""
    principals = ctx.inventory.principals
    if party.org == "tenant" and party.tenant is None and row_scope == "*":
        lacking = sorted(
            t for t in ctx.inventory.tenant_ids if not any(party.includes(p, t) for p in principals)
        )
        return f"for {', '.join(lacking)}" if lacking else None
    tenant = row_scope if row_scope in ctx.inventory.tenant_ids else None
    if any(party.includes(p, tenant) for p in principals):
        return None
    return "in the inventory" if tenant is None else f"for {tenant}"


@check(
    "raci.practice",
    "Activities are performed by their Responsible (or Accountable) party",
    ("RACI", "ADM"),
)
def practice(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    raci = ctx.raci
    if raci is None:
        return
    performed = [
        ev
        for ev in ctx.events("priv.switch", "session.command")
        if ev.rec.get("outcome") == "success" and ev.get("attrs", "command")
    ]
    for activity in raci.activities():
        markers = tuple(m for row in raci.rows if row.activity == activity for m in row.evidence)
        if not markers:
            continue
        by_who: dict[str, list[Ev]] = defaultdict(list)
        for ev in performed:
            command = str(ev.get("attrs", "command"))
            if any(m in command for m in markers):
                by_who[who(ev)].append(ev)
        if not by_who:
            yield Outcome(
                Scope(activity=activity),
                NOT_EVALUATED,
                f"no evidence of {activity} in the period (looked for: {', '.join(markers)})",
            )
            continue
        for user, evs in sorted(by_who.items()):
            p = ctx.inventory.principal(user)
            bad = [
                ev
                for ev in evs
                if p is None
                or not (
                    raci.holds(p, "R", activity, ctx.owner_of_asset(ev.get("target", "asset")))
                    or raci.holds(p, "A", activity, ctx.owner_of_asset(ev.get("target", "asset")))
                )
            ]
            scope = Scope(activity=activity, principal=user)
            if bad:
                assets = sorted({str(e.get("target", "asset")) for e in bad})
                yield Outcome(
                    scope,
                    FAIL,
                    f"{user} performed {activity} {plural(len(bad), 'time')} on "
                    f"{', '.join(assets)} without being Responsible or Accountable for it",
                    cite(bad),
                )
            else:
                yield Outcome(
                    scope,
                    PASS,
                    f"{user} performed {activity} {plural(len(evs), 'time')} "
                    "as a Responsible party",
                    cite(evs, MAX_PASS_CITATIONS),
                )
