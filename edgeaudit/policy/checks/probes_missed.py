"""Probe runs that did not happen: scheduled runs the scheduler recorded as missed
(``probe.missed``), and changes of the isolation matrix not followed by a probe run of the pairs
within the deadline (PCI DSS 11.4.5: "after any changes").

A **change** is the first probe run under a matrix version that differs from the version of the
run before it, a probe run triggered ``change:REF``, or (seen by this evaluation) an isolation
matrix whose version no run has probed yet. After a change at time T every ordered segment pair
of the matrix must be probed by a run under that version (or a later one) in [T, T + within].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, text
from edgeaudit.policy.checks._sessions import describe
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check


def _tenant(ctx: Context, *segments: str) -> str | None:
    owners = {s.id: s.owner for s in ctx.inventory.segments}
    for seg in segments:
        t = ctx.tenant_of(owners.get(seg))
        if t is not None:
            return t
    return None


@check("probes.missed", "No scheduled probe run is missed", ("SEG",))
def missed(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    misses: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events("probe.missed"):
        plan = text(ev.get("attrs", "plan"), "?")
        misses[(plan, text(ev.get("attrs", "vantage"), "?"))].append(ev)
    runs: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events("probe.run"):
        key = (text(ev.get("attrs", "plan"), "?"), text(ev.get("attrs", "vantage"), "?"))
        runs[key].append(ev)
    for plan, vantage in sorted(set(misses) | set(runs)):
        scope = Scope(tenant=_tenant(ctx, vantage), segment=vantage, subject=f"plan {plan}")
        missed_runs = misses.get((plan, vantage), [])
        if missed_runs:
            dues = "; ".join(
                f"due {text(e.get('attrs', 'due'), when(e.t))}, detected "
                f"{text(e.get('attrs', 'detected'), '?')}"
                for e in missed_runs[:5]
            )
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(missed_runs), 'scheduled run')} of probe plan {plan} from "
                f"{vantage} missed: {dues}",
                cite(missed_runs),
            )
        else:
            done = runs[(plan, vantage)]
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(done), 'run')} of probe plan {plan} from {vantage} in the period, "
                "no scheduled run missed",
                cite(done, MAX_PASS_CITATIONS),
            )


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds % 3600 == 0 else describe(seconds)


def _version(ev: Ev) -> str:
    return text(ev.get("attrs", "matrix_version"), "?")


@check(
    "probes.rerun_after_change",
    "A change of the isolation matrix is followed by a probe run of every pair",
    ("SEG",),
    within=Param("duration", 7 * 86400, "time allowed between a change and the probe runs"),
)
def rerun_after_change(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    within = float(params["within"])
    if ctx.matrix is None:
        yield Outcome(
            Scope(subject="isolation matrix"),
            NOT_EVALUATED,
            ctx.matrix_error or "no isolation matrix (policies/isolation.yaml)",
        )
        return
    runs = sorted(
        (e for e in ctx.events("probe.run", lookback=True) if e.t <= ctx.as_of),
        key=lambda e: (e.t, e.key),
    )
    # probed (src, dst) pairs per run id, from the results
    probed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ev in ctx.events("probe.result", lookback=True):
        probed[text(ev.get("attrs", "run"))].add(
            (text(ev.get("attrs", "vantage")), text(ev.get("attrs", "segment")))
        )
    order: dict[str, int] = {}
    changes: list[tuple[float, str, str, Ev | None]] = []  # (time, version, why, entry)
    previous: str | None = None
    for r in runs:
        v = _version(r)
        order.setdefault(v, len(order))
        trigger = text(r.get("attrs", "trigger"))
        if trigger.startswith("change:"):
            changes.append((r.t, v, f"probe run triggered by {trigger}", r))
        elif previous is not None and v != previous:
            changes.append((r.t, v, f"matrix version {v} first probed (was {previous})", r))
        previous = v
    current = ctx.matrix.version
    segments = [s.id for s in ctx.inventory.segments]
    pairs = [(p.src, p.dst) for p in ctx.matrix.pairs(segments)]
    if current not in order:
        yield Outcome(
            Scope(subject=f"isolation matrix {current}"),
            NOT_EVALUATED,
            f"isolation matrix version {current} has no probe run yet; when it changed is not "
            "recorded, so the deadline of its re-test cannot be judged",
        )
        order[current] = len(order)
    in_period = [c for c in changes if ctx.start <= c[0] < ctx.end]
    if not in_period:
        yield Outcome(
            Scope(subject="isolation matrix"),
            PASS,
            f"no change of the isolation matrix in the period ({plural(len(runs), 'probe run')}"
            f"; the current version {current})",
            cite(runs[-MAX_PASS_CITATIONS:]),
        )
        return
    for t, version, why, entry in in_period:
        due = t + within
        rank = order[version]
        done: dict[tuple[str, str], Ev] = {}
        for r in runs:
            if r.t < t or r.t > due or order.get(_version(r), -1) < rank:
                continue
            for pair in probed.get(text(r.get("attrs", "run")), ()):
                done.setdefault(pair, r)
        for src, dst in pairs:
            scope = Scope(
                tenant=_tenant(ctx, dst, src),
                segment=f"{src}->{dst}",
                subject=f"change {version}@{when(t)}",
            )
            base = [entry] if entry is not None else []
            hit = done.get((src, dst))
            if hit is not None:
                yield Outcome(
                    scope,
                    PASS,
                    f"{why} at {when(t)}; {src} -> {dst} probed at {when(hit.t)} by run "
                    f"{hit.get('attrs', 'run')}",
                    cite([*base, hit]),
                )
            elif due > ctx.as_of:
                yield Outcome(
                    scope,
                    NOT_EVALUATED,
                    f"{why} at {when(t)}; {src} -> {dst} not probed yet, due {when(due)}",
                    cite(base),
                )
            else:
                yield Outcome(
                    scope,
                    FAIL,
                    f"{why} at {when(t)}; {src} -> {dst} not probed within "
                    f"{_days(within)} (due {when(due)})",
                    cite(base),
                )
