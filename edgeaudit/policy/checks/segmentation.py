"""Segmentation, from probe evidence (``probe.run`` / ``probe.result``) against the isolation
matrix: every segment pair probed within the cadence, every denied pair observed blocked on a
run whose positive controls passed, every allowed pair reachable.

Per ordered segment pair the latest run from the vantage segment that probed the pair decides.
Probe results *support* PCI DSS 11.4.5 / 11.4.6 / A1.1.4; they do not satisfy them alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from edgeaudit.policy.checks._common import cite, plural
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE, Outcome, Scope
from edgeaudit.policy.registry import Param, check


class _Pair(NamedTuple):
    src: str
    dst: str
    allowed: bool  # the matrix allows src -> dst on something
    scope: Scope
    latest: tuple[Ev, list[Ev]] | None  # the latest run probing the pair, with its results


def _probed(ctx: Context) -> list[_Pair] | str:
    """Every ordered segment pair of the matrix with its latest probe run (computed once per
    assessment), or why there is nothing to judge."""
    return ctx.memo("segmentation.pairs", lambda: _pairs(ctx))


def _pairs(ctx: Context) -> list[_Pair] | str:
    if ctx.matrix is None:
        return ctx.matrix_error or "no isolation matrix (policies/isolation.yaml)"
    owners = {s.id: s.owner for s in ctx.inventory.segments}
    latest = _latest(ctx)
    out = []
    for p in ctx.matrix.pairs(list(owners)):
        tenants = [t for t in (owners.get(p.dst), owners.get(p.src)) if t not in (None, "shared")]
        scope = Scope(tenant=tenants[0] if tenants else None, segment=f"{p.src}->{p.dst}")
        out.append(_Pair(p.src, p.dst, bool(p.allowed), scope, latest.get((p.src, p.dst))))
    return out


def _latest(ctx: Context) -> dict[tuple[str, str], tuple[Ev, list[Ev]]]:
    """Latest run per (vantage, target segment) up to the as-of time, with its results."""
    runs = {
        str(ev.get("attrs", "run")): ev
        for ev in ctx.events("probe.run", lookback=True)
        if ev.t <= ctx.as_of
    }
    results: dict[tuple[str, str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events("probe.result", lookback=True):
        run = str(ev.get("attrs", "run"))
        if run in runs:
            key = (run, str(ev.get("attrs", "vantage")), str(ev.get("attrs", "segment")))
            results[key].append(ev)
    latest: dict[tuple[str, str], tuple[Ev, list[Ev]]] = {}
    for (run, src, dst), evs in results.items():
        r = runs[run]
        have = latest.get((src, dst))
        if have is None or r.t > have[0].t:
            latest[(src, dst)] = (r, evs)
    return latest


@check(
    "segmentation.cadence",
    "Every segment pair is probed within the cadence",
    ("SEG",),
    cadence=Param("duration", 183 * 86400, "longest time since the latest probe run of a pair"),
)
def cadence(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    pairs = _probed(ctx)
    if isinstance(pairs, str):
        yield Outcome(Scope(subject="segmentation"), NOT_EVALUATED, pairs)
        return
    limit = float(params["cadence"])
    for src, dst, _allowed, scope, found in pairs:
        if found is None:
            yield Outcome(scope, NOT_EVALUATED, f"no probe run from {src} has probed {dst}")
            continue
        run, _ = found
        due = run.t + limit
        text = f"latest probe run {run.get('attrs', 'run')} from {src} to {dst} at {when(run.t)}"
        if due < ctx.as_of:
            yield Outcome(
                scope,
                FAIL,
                f"segmentation test overdue: {text}, due {when(due)} "
                f"(cadence {limit / 86400:.0f} days)",
                cite([run]),
            )
        elif run.t >= ctx.start:
            yield Outcome(scope, PASS, f"{text}, in the period (next due {when(due)})", cite([run]))
        else:
            yield Outcome(
                scope,
                STALE,
                f"no probe run of {src} -> {dst} in the period: {text} predates it; the next is "
                f"due {when(due)}",
                cite([run]),
            )


def _predates(
    ctx: Context, scope: Scope, src: str, dst: str, run: Ev, cadence: float
) -> Outcome | None:
    """The result for a pair whose latest run is from before the period (None otherwise): no
    evidence of this period, so no pass. Stale while the cadence deadline has not passed at the
    as-of time; after it, not evaluated (the cadence rule fails the overdue test)."""
    if run.t >= ctx.start:
        return None
    due = run.t + cadence
    text = (
        f"no probe run of {src} -> {dst} in the period; the latest, "
        f"{run.get('attrs', 'run')} at {when(run.t)}, predates it"
    )
    if due >= ctx.as_of:
        return Outcome(scope, STALE, f"{text} (next due {when(due)})", cite([run]))
    return Outcome(
        scope,
        NOT_EVALUATED,
        f"{text}, and the next was due {when(due)} (overdue: see the cadence rule)",
        cite([run]),
    )


_CADENCE = Param(
    "duration",
    183 * 86400,
    "a run before the period is stale evidence (not a pass) until this long after it",
)


@check(
    "segmentation.denied_blocked",
    "Every denied segment pair is observed blocked, on a run in the period whose positive "
    "controls passed",
    ("SEG",),
    cadence=_CADENCE,
    reference_window=Param(
        "duration",
        3600,
        "an unanswered UDP probe is blocked given a reachable result from a vantage allowed "
        "to reach the port, in the period, from a run starting at most this long apart",
    ),
)
def denied_blocked(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    pairs = _probed(ctx)
    if isinstance(pairs, str):
        yield Outcome(Scope(subject="segmentation"), NOT_EVALUATED, pairs)
        return
    for src, dst, _allowed, scope, found in pairs:
        if found is None:
            yield Outcome(scope, NOT_EVALUATED, f"no probe evidence for {src} -> {dst}")
            continue
        run, results = found
        denied = [e for e in results if e.get("attrs", "expected") == "deny"]
        if not denied:
            continue  # an allowed-only pair: see segmentation.allowed_reachable
        before = run.t < ctx.start
        open_ = [e for e in denied if e.get("attrs", "verdict") == "reachable"]
        if open_:
            ports = sorted(
                {
                    f"{e.get('attrs', 'protocol')}/{e.get('attrs', 'port')} at "
                    f"{e.get('attrs', 'address')}"
                    for e in open_
                }
            )
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(open_), 'denied path')} from {src} to {dst} reachable: "
                f"{', '.join(ports[:8])}" + (" (latest run, before the period)" if before else ""),
                cite([run, *open_]),
            )
        elif (old := _predates(ctx, scope, src, dst, run, float(params["cadence"]))) is not None:
            yield old
        elif not run.get("attrs", "controls_ok"):
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"run {run.get('attrs', 'run')} from {src}: positive controls failed, so its "
                f"'blocked' verdicts are inconclusive",
                cite([run]),
            )
        elif (udp := _udp_silence(ctx, denied, float(params["reference_window"])))[0]:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"{plural(len(udp[0]), 'denied path')} from {src} to {dst} inconclusive (UDP "
                "open|filtered: no answer, and no reachable reference from another vantage "
                "in the period)",
                cite([run]),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(denied), 'denied path')} from {src} to {dst} blocked on run "
                f"{run.get('attrs', 'run')} with passing positive controls"
                + (
                    f" (UDP silence judged by {plural(len(udp[1]), 'reference')})" if udp[1] else ""
                ),
                cite([run, *udp[1]]),
            )


def _udp_silence(ctx: Context, denied: list[Ev], window: float) -> tuple[list[Ev], list[Ev]]:
    """(inconclusive results, references cited) of a run's denied results: UDP silence is
    settled only by a reference in the period (``edgeaudit.probe.reference``)."""
    from edgeaudit.probe.reference import seen_from, settle

    # entries are numbered by their position here, not their index: across the logs of a
    # campus an index names no entry alone
    evs = ctx.memo(
        "segmentation.udp_reachable",
        lambda: [
            e
            for e in ctx.events("probe.result", lookback=True)
            if e.get("attrs", "protocol") == "udp" and e.get("attrs", "verdict") == "reachable"
        ],
    )
    seen = [s for i, e in enumerate(evs) if (s := seen_from(e.rec, i)) is not None]
    unsettled, settled, refs = settle(
        [(e.rec, i) for i, e in enumerate(denied)], seen, (ctx.start, ctx.end), window
    )
    unsure = [
        e
        for i, e in enumerate(denied)
        if i in unsettled or (e.get("attrs", "verdict") == "inconclusive" and i not in settled)
    ]
    return unsure, [evs[i] for i in refs]


@check(
    "segmentation.allowed_reachable",
    "Every allowed segment path is reachable, on a run in the period",
    ("SEG",),
    cadence=_CADENCE,
)
def allowed_reachable(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    pairs = _probed(ctx)
    if isinstance(pairs, str):
        yield Outcome(Scope(subject="segmentation"), NOT_EVALUATED, pairs)
        return
    for src, dst, allowed, scope, found in pairs:
        if not allowed:
            continue
        if found is None:
            yield Outcome(scope, NOT_EVALUATED, f"no probe evidence for {src} -> {dst}")
            continue
        run, results = found
        if (old := _predates(ctx, scope, src, dst, run, float(params["cadence"]))) is not None:
            yield old
            continue
        wanted = [e for e in results if e.get("attrs", "expected") == "allow"]
        verdicts = [str(e.get("attrs", "verdict")) for e in wanted]
        # an unanswered UDP probe is inconclusive, not closed: it neither passes nor fails
        closed = [
            e
            for e, v in zip(wanted, verdicts, strict=True)
            if v not in ("reachable", "inconclusive")
        ]
        unsure = verdicts.count("inconclusive")
        reached = verdicts.count("reachable")
        if closed:
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(closed), 'allowed path')} from {src} to {dst} not reachable",
                cite([run, *closed]),
            )
        elif reached:
            extra = f" ({unsure} more inconclusive)" if unsure else ""
            yield Outcome(
                scope,
                PASS,
                f"{plural(reached, 'allowed path')} from {src} to {dst} reachable{extra}",
                cite([run]),
            )
        elif unsure:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"{plural(unsure, 'allowed path')} from {src} to {dst} inconclusive (e.g. UDP "
                "without an answer)",
                cite([run]),
            )
        else:
            yield Outcome(
                scope, NOT_EVALUATED, f"run did not probe the allowed paths {src} -> {dst}"
            )
