"""The evidence itself: the store verifies and its checkpoint is fresh; collection is complete
(no gaps reported by the sources, quarantine within limits, no forged source identifiers)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import cite, plural
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check


@check(
    "integrity.store",
    "The evidence store verifies and a fresh signed checkpoint covers the period",
    ("STORE",),
    per_log=True,
    checkpoint_max_age=Param("duration", 86400, "longest time since the latest checkpoint"),
)
def store(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    scope = Scope(subject="evidence-store")
    if ctx.verify is None:
        yield Outcome(scope, NOT_EVALUATED, "no verifier key to check the store against")
        return
    report = ctx.verify()
    if not report.ok:
        first = "; ".join(str(p) for p in report.problems[:3])
        yield Outcome(
            scope,
            FAIL,
            f"store verification found {plural(len(report.problems), 'problem')}: {first}",
        )
        return
    checkpoints = ctx.reader.checkpoints()
    if not checkpoints:
        yield Outcome(scope, FAIL, "the store verifies but no checkpoint has been signed")
        return
    latest = checkpoints[-1]
    age = ctx.evaluated_at - epoch(latest.signed_at)
    needed = ctx.last_index_in_period + 1
    # a mirrored pod's checkpoint is dated when the mirror held it: its age is sync freshness
    signed = "held by the mirror" if ctx.mirrored else "signed"
    if latest.tree_size < needed:
        yield Outcome(
            scope,
            FAIL,
            f"latest checkpoint (size {latest.tree_size}) does not cover the period's evidence "
            f"(needs size {needed})",
        )
    elif age > float(params["checkpoint_max_age"]):
        yield Outcome(
            scope,
            FAIL,
            f"latest checkpoint {signed} {latest.signed_at}, {age / 3600:.1f} h before the "
            f"assessment (max {float(params['checkpoint_max_age']) / 3600:g} h)",
        )
    else:
        yield Outcome(
            scope,
            PASS,
            f"store verifies ({report.entries_checked} entries, chain, tree, "
            f"{plural(len(checkpoints), 'checkpoint')}); latest checkpoint size "
            f"{latest.tree_size} {signed} {latest.signed_at}",
        )


@check(
    "integrity.completeness",
    "Collection is complete: no source gaps, quarantine within the limit",
    ("STORE",),
    per_log=True,
    max_quarantined=Param("int", 0, "quarantined records tolerated per source kind"),
)
def completeness(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    limit = int(params["max_quarantined"])
    quarantined: dict[str, int] = defaultdict(int)
    reasons: dict[str, list[str]] = defaultdict(list)
    for kind, reason, n in ctx.reader.quarantine_counts():
        quarantined[kind] += n
        reasons[kind].append(reason)
    gaps: dict[str, list[Ev]] = defaultdict(list)
    sources: set[str] = set()
    for ev in ctx.events("audit.pipeline"):
        if ev.rec.get("outcome") == "failure":
            gaps[str(ev.rec.get("source") or "?")].append(ev)
    sources.update(s for s in ctx.sources if s not in ("edgeaudit-policy",))
    for src in sorted(sources | set(quarantined) | set(gaps)):
        scope = Scope(subject=f"source:{src}")
        problems = []
        if gaps.get(src):
            first = gaps[src][0]
            problems.append(
                f"{plural(len(gaps[src]), 'gap')} reported by the source (first at "
                f"{when(first.t)}: {first.get('attrs', 'reason') or first.get('attrs')})"
            )
        if quarantined.get(src, 0) > limit:
            problems.append(
                f"{plural(quarantined[src], 'record')} quarantined (limit {limit}): "
                f"{'; '.join(sorted(set(reasons[src]))[:3])}"
            )
        if problems:
            yield Outcome(scope, FAIL, "; ".join(problems), cite(gaps.get(src, [])))
        else:
            yield Outcome(scope, PASS, f"no gaps; {quarantined.get(src, 0)} quarantined")


@check(
    "integrity.forged_identity",
    "No source record forges the identity of a trusted program",
    ("STORE", "ADM"),
    per_log=True,
)
def forged_identity(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    forged: dict[str, list[str]] = defaultdict(list)
    for kind, reason, n in ctx.reader.quarantine_counts():
        if "forged" in reason:
            forged[kind].extend([reason] * n)
    if not forged:
        yield Outcome(Scope(subject="sources"), PASS, "no forged identifiers quarantined")
    for kind, reasons in sorted(forged.items()):
        yield Outcome(
            Scope(subject=f"source:{kind}"),
            FAIL,
            f"{plural(len(reasons), 'record')} with a forged identifier quarantined: {reasons[0]}",
        )
