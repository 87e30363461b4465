"""Helpers shared by the checks: grouping evidence by scope and citing it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from edgeaudit.policy.context import Context, Ev
from edgeaudit.policy.model import EvidenceRef

MAX_PASS_CITATIONS: Final = 25  # a passing result cites a sample; a failing one cites all


def cite(evs: Iterable[Ev], limit: int | None = None) -> tuple[EvidenceRef, ...]:
    refs = sorted({e.ref for e in evs}, key=lambda r: r.sort_key)
    return tuple(refs if limit is None else refs[:limit])


UNRESOLVED: Final = "unresolved: "


def who(ev: Ev) -> str:
    """The acting principal's id as the evidence names it (an inventory id, or one the inventory
    no longer has), or ``unresolved: <identity>`` when the identity did not resolve."""
    actor = ev.rec.get("actor")
    if type(actor) is not dict:
        return UNRESOLVED + "unknown"
    principal = actor.get("principal")
    if principal:
        return str(principal)
    return UNRESOLVED + str(actor.get("user") or "unknown")


def text(value: object, default: str = "") -> str:
    """A field of an entry as text (entries are arbitrary JSON: never trust a type)."""
    if value is None:
        return default
    return value if isinstance(value, str) else str(value)


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def reviewer_problem(
    ctx: Context, reviewer: object, subjects: set[str], asset: str | None
) -> str | None:
    """Why ``reviewer`` may not review (None when they may): an inventory principal holding R
    or A for the rule's activity, not one of the principals under review."""
    if not isinstance(reviewer, str) or not reviewer:
        return "the review names no reviewer"
    p = ctx.inventory.principal(reviewer)
    if p is None:
        return f"reviewer {reviewer} is not a principal of the inventory"
    if reviewer in subjects:
        return f"{reviewer} reviewed their own access"
    activity = ctx.activity
    if ctx.raci is None or activity is None:
        return "no RACI matrix to show who may review"
    owner = ctx.owner_of_asset(asset)
    if not (ctx.raci.holds(p, "R", activity, owner) or ctx.raci.holds(p, "A", activity, owner)):
        return f"{reviewer} holds neither R nor A for {activity!r} in the RACI matrix"
    return None
