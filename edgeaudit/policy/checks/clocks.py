"""Clock synchronization, where a source records it: ``clock.sync`` records (a time-sync
daemon's report appended per asset: ``asset``, ``server``, ``offset_ms``, ``synced``) show each
asset synchronized to a configured time source (CERT-In: NIC / NPL servers, or servers
traceable to them), within the largest offset, at least once per cadence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, text
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, PASS, STALE, Outcome, Scope
from edgeaudit.policy.registry import Param, check


def _asset(ev: Ev) -> str:
    return text(ev.rec.get("asset") or ev.get("target", "asset") or ev.rec.get("host"), "unknown")


def _problem(ev: Ev, servers: set[str], max_offset: float) -> str | None:
    if ev.rec.get("synced") is not True:
        return f"not synchronized at {when(ev.t)}"
    server = text(ev.rec.get("server"))
    if servers and server not in servers:
        name = server or "an unnamed server"
        return f"synchronized to {name} at {when(ev.t)}, not a configured time source"
    offset = ev.rec.get("offset_ms")
    if not isinstance(offset, (int, float)) or isinstance(offset, bool):
        return f"no offset recorded at {when(ev.t)}"
    if abs(offset) > max_offset:
        return f"offset {offset:g} ms at {when(ev.t)} (max {max_offset:g})"
    return None


@check(
    "clocks.synchronized",
    "Clocks are synchronized to the configured time sources",
    ("STORE",),
    servers=Param("texts", (), "configured time sources (empty: any server)"),
    max_offset=Param("int", 100, "largest clock offset in milliseconds"),
    cadence=Param("duration", 86400, "longest time between two clock-sync records of an asset"),
)
def synchronized(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    servers, max_offset = set(params["servers"]), float(params["max_offset"])
    cadence = float(params["cadence"])
    by_asset: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("clock.sync", lookback=True):
        if ev.t <= ctx.as_of:
            by_asset[_asset(ev)].append(ev)
    for asset, evs in sorted(by_asset.items()):
        evs.sort(key=lambda e: (e.t, e.key))
        a = ctx.inventory.asset(asset)
        scope = Scope(tenant=ctx.tenant_of(a.owner if a else None), asset=asset)
        inside = [e for e in evs if e.t >= ctx.start]
        bad = [(e, why) for e in inside if (why := _problem(e, servers, max_offset))]
        gaps: list[tuple[Ev, Ev | None]] = [
            (x, y) for x, y in pairwise(evs) if y.t >= ctx.start and y.t - x.t > cadence
        ]
        latest = evs[-1]
        if latest.t + cadence < ctx.as_of:
            gaps.append((latest, None))
        if bad or gaps:
            said = [w for _, w in bad[:5]]
            said += [
                f"no record from {when(x.t)} to {when(y.t) if y else when(ctx.as_of)}"
                for x, y in gaps[:5]
            ]
            yield Outcome(
                scope,
                FAIL,
                f"clock of {asset}: {plural(len(bad), 'bad reading')}, {plural(len(gaps), 'gap')} "
                f"over {cadence / 3600:g} h: {'; '.join(said)}",
                cite([*(e for e, _ in bad), *(e for x, y in gaps for e in (x, y) if e)]),
            )
        elif inside:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(inside), 'clock-sync record')} of {asset} in the period, all "
                f"synchronized within {max_offset:g} ms"
                + (f" to {', '.join(sorted(servers))}" if servers else ""),
                cite(inside, MAX_PASS_CITATIONS),
            )
        else:
            yield Outcome(
                scope,
                STALE,
                f"no clock-sync record of {asset} in the period; the last, {when(latest.t)}, "
                "predates it",
                cite([latest]),
            )
