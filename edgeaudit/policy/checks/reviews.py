"""Access reviews on cadence: the latest ``review.access`` event (appended by the reviewer:
``reviewer``, optional ``tenant``, optional ``subjects``: the principals whose access was
reviewed) by someone who may review (R or A for the rule's RACI activity, not a subject).

A review in the period passes; the latest one before the period is ``stale`` while its cadence
deadline has not passed at the as-of time, and ``fail`` (overdue) once it has."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import cite, reviewer_problem
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
        (ev for ev in ctx.events("review.access", lookback=True) if ev.t <= ctx.as_of),
        key=lambda e: (e.t, e.index),
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
