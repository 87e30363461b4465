"""Retention and collection gaps, from the store's per-source daily summaries (never a scan of
a year of entries): each source's evidence reaches back to the retention horizon the tenants'
jurisdictions require (the longest applies: PCI DSS 10.5.1 twelve months, CERT-In 180 days,
the DPDP Rules one year), and between the horizon (or the source's first entry) and the as-of
time no two consecutive entries of a source are further apart than the source's largest gap.

Gaps are measured across midnight (UTC): the last entry of one day to the first of the next day
that has entries, so every gap of a day or more is measured exactly; the largest gap may not be
set below a day. A source that stopped is measured up to the store's latest entry of any source
(at or before the as-of time): a gap is a source missing while collection went on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import plural
from edgeaudit.policy.checks.incidents import seconds
from edgeaudit.policy.context import Context, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, EvidenceRef, Outcome, Scope
from edgeaudit.policy.registry import Param, check

DAY = 86400.0
DEFAULT_HORIZONS = (
    {"jurisdiction": "*", "keep": "365d", "reason": "PCI DSS 10.5.1 (12 months, 3 online)"},
    {"jurisdiction": "IN", "keep": "365d", "reason": "DPDP Rules 6(1)(e); CERT-In 180 days"},
    {"jurisdiction": "EU", "keep": "365d", "reason": "PCI DSS 10.5.1 for EU tenants"},
)


def _check_horizons(records: tuple[Mapping[str, str], ...]) -> None:
    for r in records:
        extra = set(r) - {"jurisdiction", "keep", "reason"}
        if extra or not {"jurisdiction", "keep"} <= set(r):
            raise ValueError(f"each horizon needs jurisdiction and keep (and reason): {dict(r)}")
        seconds(r["keep"])


def _check_gaps(records: tuple[Mapping[str, str], ...]) -> None:
    for r in records:
        if set(r) - {"source", "max_gap", "reason"} or not {"source", "max_gap"} <= set(r):
            raise ValueError(f"each gap limit needs source and max_gap (and reason): {dict(r)}")
        if seconds(r["max_gap"]) < DAY:
            raise ValueError(f"max_gap of {r['source']} below a day cannot be judged: {dict(r)}")


def _at_least_a_day(value: object) -> None:
    if not isinstance(value, (int, float)) or value < DAY:
        raise ValueError("max_gap below a day cannot be judged from daily summaries")


@check(
    "retention.horizon",
    "Evidence is kept back to the retention horizon with no collection gap",
    ("STORE",),
    per_log=True,
    horizons=Param(
        "records",
        DEFAULT_HORIZONS,
        "{jurisdiction ('*': every site), keep, reason}: how far back evidence must reach",
        _check_horizons,
    ),
    max_gap=Param(
        "duration", 2 * 86400, "largest gap between two entries of a source", _at_least_a_day
    ),
    max_gaps=Param("records", (), "{source, max_gap}: a source's own largest gap", _check_gaps),
    sources=Param("texts", (), "sources to judge (empty: every source in the store)"),
)
def horizon(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    jurisdictions = {t.jurisdiction for t in ctx.inventory.tenants if t.jurisdiction}
    applies = [
        (float(seconds(r["keep"])), r)
        for r in params["horizons"]
        if r["jurisdiction"] == "*" or r["jurisdiction"] in jurisdictions
    ]
    if not applies:
        return
    keep, basis = max(applies, key=lambda a: a[0])
    why = basis.get("reason") or basis["jurisdiction"]
    limits = {r["source"]: float(seconds(r["max_gap"])) for r in params["max_gaps"]}
    wanted = set(params["sources"])
    days: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for row in ctx.reader.source_days(ctx.tree_size):
        if not wanted or row.source in wanted:
            days[row.source].append((epoch(row.first_time), epoch(row.last_time), row.first_idx))
    as_of = ctx.as_of
    since = as_of - keep
    # collection went on until the latest entry of any source (at or before the as-of time)
    lasts = [hi for spans in days.values() for lo, hi, _ in spans if lo <= as_of]
    collected = min(as_of, max(lasts)) if lasts else as_of
    for source in sorted(wanted - set(days)):
        yield Outcome(
            Scope(subject=f"source {source}"),
            FAIL if wanted else NOT_EVALUATED,
            f"source {source} has no entry in the store: nothing is retained",
        )
    for source, spans in sorted(days.items()):
        spans = [s for s in spans if s[0] <= as_of]
        scope = Scope(subject=f"source {source}")
        if not spans:
            continue
        limit = limits.get(source, float(params["max_gap"]))
        first = spans[0][0]
        gaps: list[tuple[float, float]] = []
        resumed: list[int] = []  # an entry of the day each gap ended or began (cited)
        prev_last = None
        for lo, hi, idx in spans:
            if prev_last is not None and lo > since and lo - prev_last > limit:
                gaps.append((max(prev_last, since), lo))
                resumed.append(idx)
            prev_last = hi if prev_last is None else max(prev_last, hi)
        assert prev_last is not None
        if collected - prev_last > limit:
            gaps.append((prev_last, collected))
            resumed.append(spans[-1][2])  # an entry of the source's last day
        observed = (
            ("first", when(first)),
            ("horizon_days", round(keep / DAY)),
            ("max_gap_days", round(limit / DAY, 2)),
        )
        if gaps:
            longest = max(b - a for a, b in gaps)
            listed = "; ".join(
                f"{when(a)} to {when(b)} ({(b - a) / DAY:.1f} days)" for a, b in gaps[:5]
            )
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(gaps), 'collection gap')} of {source} longer than "
                f"{limit / DAY:g} days (longest {longest / DAY:.1f}): {listed}"
                f"{' …' if len(gaps) > 5 else ''}",
                tuple(EvidenceRef(i, ctx.reader.entry(i)[1].hex(), ctx.origin) for i in resumed),
                (*observed, ("gaps", [[when(a), when(b)] for a, b in gaps])),
            )
        elif first <= since + DAY:
            yield Outcome(
                scope,
                PASS,
                f"{source} holds evidence from {when(first)}, back past the {keep / DAY:g}-day "
                f"horizon ({why}) at {when(since)}, with no gap over {limit / DAY:g} days",
                (),
                observed,
            )
        else:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"{source}'s evidence begins {when(first)} ({(as_of - first) / DAY:.0f} days "
                f"before {when(as_of)}): the {keep / DAY:g}-day horizon ({why}) cannot be shown "
                f"before {when(first + keep)}; no gap over {limit / DAY:g} days so far",
                (),
                observed,
            )
