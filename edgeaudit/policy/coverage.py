"""How much of a period's evidence of each pod a campus assessment holds (ADR 0018, "Coverage").

The mirror holds a pod's log up to the checkpoint it last held. A pod is **covered** when the
mirror verified that held checkpoint as the pod's newest signed one at or after the *horizon*:
the period's end, or the evaluation time while the period has not ended. Every entry the pod had
signed by then is within the held size; an entry it adds later is beyond it, whatever time it
states. Assumed: the pod appends and signs the period's evidence by the period's end (a pod that
collects late, with back-dated times, must be synced after it caught up). Entries the mirror
already stores beyond the held checkpoint (a cut pass) dated before the horizon prove the
assumption false for that pod: it is behind, whenever it was verified.

A pod that signed an empty checkpoint is held at size 0 (the empty tree) when the mirror
verified that checkpoint (:func:`mirror_verified_empty`), and judged by the same rule.

Not covered: **behind** (verified before the horizon, never, or the late entries above),
**never-synced** (no checkpoint held, nor an empty one verified), **forked** (the pod's key
signed two histories; the one not held may hold the period's evidence). While any pod is not
covered no event check's result is a pass: a pass would rest on evidence the campus does not
hold (:func:`no_pass_from_absence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from edgeaudit.policy.context import epoch, iso
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope

COVERED: Final = "covered"
BEHIND: Final = "behind"
NEVER_SYNCED: Final = "never-synced"
FORKED: Final = "forked"
STATES: Final = (COVERED, BEHIND, NEVER_SYNCED, FORKED)
SUBJECT: Final = "mirror-coverage"  # the scope subject of a pod's coverage result


@dataclass(frozen=True, slots=True)
class Coverage:
    """One pod's coverage of the period, as the campus assessment judged it."""

    origin: str
    state: str  # one of STATES
    tree_size: int  # the held size judged
    last_entry: str | None  # the time the last held entry (index tree_size - 1) states
    verified_at: str | None  # when the mirror last verified the held checkpoint as the newest
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "state": self.state,
            "tree_size": self.tree_size,
            "last_entry": self.last_entry,
            "verified_at": self.verified_at,
        }


def mirror_verified(root: Path, origin: str, held_size: int | None) -> str | None:
    """When the mirror (workspace ``root``) last verified the checkpoint of ``held_size`` as
    the pod's newest signed one, from its state file (``verified_at``/``verified_size``, or a
    state written before those: ``fetched_at``/``fetched_size`` of a pass that held it). None
    when not recorded, or recorded for another size: the pod then counts as behind."""
    from edgeaudit.mirror.state import MirrorFiles, last_verified

    if held_size is None:
        return None
    got = last_verified(MirrorFiles(root, origin).read_state())
    if got is None or got[1] is None or got[1] != held_size:
        return None
    at = got[0]
    try:
        return iso(epoch(at))
    except ValueError:
        return None  # not a time the mirror writes: unknown, so behind


def mirror_verified_empty(root: Path, origin: str, stored: int | None) -> str | None:
    """When the mirror (workspace ``root``) last verified an empty checkpoint (size 0) as the
    pod's newest, for a pod of which the store holds no checkpoint: the mirror stores none of
    size 0 (a pass that finds one is "up-to-date, holds 0"), so the state file is read, and only
    trusted where nothing contradicts it. None (never synced) unless all of: the state records
    a verified pass at size 0 (:func:`mirror_verified`); the store holds the pod's log with no
    entry (``stored``: its size, None when the store has no log of ``origin``; the pass that
    verified size 0 creates it); no pass since recorded a bigger checkpoint served
    (``fetched_size``); and no note is pending (a pass proved entries against a bigger one)."""
    from edgeaudit.mirror.state import MirrorFiles

    if stored != 0:
        return None
    files = MirrorFiles(root, origin)
    fetched = files.read_state().get("fetched_size")
    if fetched is not None and (type(fetched) is not int or fetched != 0):
        return None
    if files.pending() is not None:
        return None
    return mirror_verified(root, origin, 0)


def judge(
    origin: str,
    tree_size: int | None,
    *,
    last_entry: str | None,
    verified_at: str | None,
    forked: bool,
    late_stored: bool,
    horizon: float,
    ended: bool,
) -> Coverage:
    """The coverage of one pod held at ``tree_size`` (None: none held). ``late_stored``: the
    mirror stores entries beyond the held checkpoint dated before ``horizon``; ``ended``: the
    horizon is the period's end (else the evaluation time)."""
    until = f"{'the period end' if ended else 'the evaluation time (the period has not ended)'}"
    until += f" {iso(horizon)}"
    if tree_size is None:
        why = f"no checkpoint of {origin} is held by the mirror (never synced): none of its "
        why += "evidence of the period is held"
        return Coverage(origin, NEVER_SYNCED, 0, None, None, why)
    holds = f"the mirror of {origin} holds {tree_size} entries"
    holds += f", the last dated {last_entry}" if last_entry else ""
    seen = f"last verified at {verified_at}" if verified_at else "never recorded as verified"
    if forked:
        why = f"{holds}; it is stopped by a fork: the pod's key signed another history, which "
        why += "may hold evidence of the period the held one lacks"
        return Coverage(origin, FORKED, tree_size, last_entry, verified_at, why)
    if verified_at is None or epoch(verified_at) < horizon:
        why = f"{holds}; {seen}, before {until}"
        return Coverage(origin, BEHIND, tree_size, last_entry, verified_at, why)
    if late_stored:
        why = f"{holds}; {seen}, but entries stored beyond the held checkpoint are dated before "
        why += f"{until}: the pod adds evidence of the period late"
        return Coverage(origin, BEHIND, tree_size, last_entry, verified_at, why)
    why = f"{holds}; {seen}, at or after {until}"
    return Coverage(origin, COVERED, tree_size, last_entry, verified_at, why)


def gaps(coverage: Sequence[Coverage]) -> str:
    """The pods not covered, as a reason names them ('' when every pod is covered)."""
    return "; ".join(c.reason for c in coverage if c.state != COVERED)


def no_pass_from_absence(outcomes: list[Outcome], coverage: Sequence[Coverage]) -> list[Outcome]:
    """An event check's outcomes with every pass not evaluated while a pod is not covered."""
    gap = gaps(coverage)
    if not gap:
        return outcomes
    return [
        o
        if o.status != PASS
        else replace(
            o,
            status=NOT_EVALUATED,
            reason=f"{o.reason} -- not a pass: the campus does not hold all of the period's "
            f"evidence ({gap})",
        )
        for o in outcomes
    ]


def coverage_outcome(c: Coverage, ended: bool) -> Outcome | None:
    """The collection result of a pod not covered (None when covered): it fails once the
    period has ended, and is not evaluated while it runs (no mirror can be ahead of now)."""
    if c.state == COVERED:
        return None
    return Outcome(Scope(subject=SUBJECT, log=c.origin), FAIL if ended else NOT_EVALUATED, c.reason)
