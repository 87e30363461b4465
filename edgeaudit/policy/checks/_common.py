"""Helpers shared by the checks: grouping evidence by scope and citing it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from edgeaudit.policy.context import Ev
from edgeaudit.policy.model import EvidenceRef

MAX_PASS_CITATIONS: Final = 25  # a passing result cites a sample; a failing one cites all


def cite(evs: Iterable[Ev], limit: int | None = None) -> tuple[EvidenceRef, ...]:
    refs = sorted({e.ref for e in evs})
    return tuple(refs if limit is None else refs[:limit])


def who(ev: Ev) -> str:
    """The acting principal's inventory id, or ``?<identity>`` when it did not resolve."""
    actor = ev.rec.get("actor") or {}
    principal = actor.get("principal")
    if principal:
        return str(principal)
    return "?" + str(actor.get("user") or "unknown")


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"
