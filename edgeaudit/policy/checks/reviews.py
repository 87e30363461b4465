"""Access reviews on cadence: the latest ``review.access`` event (appended by the reviewer:
``reviewer``, optional ``tenant``) no older than the cadence at the as-of time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import cite
from edgeaudit.policy.context import Context
from edgeaudit.policy.model import NOT_EVALUATED, PASS, STALE, Outcome, Scope
from edgeaudit.policy.registry import Param, check


@check(
    "reviews.access_cadence",
    "User accounts and access privileges are reviewed on cadence",
    ("ADM", "JIT"),
    cadence=Param("duration", 183 * 86400, "longest time between two access reviews"),
)
def access_cadence(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    cadence = float(params["cadence"])
    reviews = [ev for ev in ctx.events("review.access", lookback=True) if ev.t <= ctx.as_of]
    scope = Scope(subject="access-review")
    if not reviews:
        yield Outcome(
            scope,
            NOT_EVALUATED,
            "no access review recorded (append a review.access event when one is done)",
        )
        return
    latest = max(reviews, key=lambda e: e.t)
    age = (ctx.as_of - latest.t) / 86400
    if ctx.as_of - latest.t > cadence:
        yield Outcome(
            scope,
            STALE,
            f"latest access review {latest.rec['time']} is {age:.0f} days old "
            f"(cadence {cadence / 86400:.0f} days)",
            cite([latest]),
        )
    else:
        yield Outcome(
            scope,
            PASS,
            f"latest access review {latest.rec['time']} by {latest.rec.get('reviewer', '?')} "
            f"({age:.0f} days before the as-of time)",
            cite([latest]),
        )
