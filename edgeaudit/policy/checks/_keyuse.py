"""One pass over the period's key use for the checks that judge facts of single uses: where a
key was used (residency), root-token use (key lifecycle) and use by leavers after their end
date. Only what those checks cite is kept; what to keep depends on the inventory alone (no rule
parameter), so the pass is shared by every rule of an assessment (``Context.memo``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, who
from edgeaudit.policy.context import Context, Ev, epoch

ROOT_CREDENTIAL = "root-token"
SEEN = 5  # uses of each key kept to show it in use (where it lives is where it was used)


def is_root(ev: Ev) -> bool:
    """Whether the entry records a request made with a Vault root token."""
    return ev.get("actor", "credential") == ROOT_CREDENTIAL or ev.get("attrs", "root_token") is True


def use_region(ev: Ev) -> str | None:
    """The region an entry says a key was used in (CloudTrail ``awsRegion``)."""
    region = ev.get("attrs", "region")
    return region if isinstance(region, str) and region else None


@dataclass
class RegionUses:
    """Uses of one key in one region: a count and the entries to cite (all when the region is
    not allowed for the key's tenant, else a sample)."""

    count: int = 0
    cited: list[Ev] = field(default_factory=list)


@dataclass
class KeyUseFacts:
    regions: dict[tuple[str, str, str], RegionUses]  # (tenant, key, region)
    seen: dict[tuple[str, str], list[Ev]]  # (tenant, key) -> the first uses of the period
    root: list[Ev]
    after_end: dict[str, list[Ev]]  # principal -> uses after their end date


def end_dates(ctx: Context) -> dict[str, float]:
    """Principal id -> end of access (epoch), from principals' end dates and the leavers."""
    out = {p.id: epoch(p.end_date) for p in ctx.inventory.principals if p.end_date}
    for leaver in ctx.inventory.leavers:
        out[leaver.id] = min(out.get(leaver.id, float("inf")), epoch(leaver.end_date))
    return out


MEMO = "keyuse.facts"


def facts(ctx: Context) -> KeyUseFacts:
    """The facts of the period's key use: gathered by ``keys.tenant_use``'s pass when that rule
    ran first, else by a pass of their own."""

    def gather() -> KeyUseFacts:
        collector = Collector(ctx)
        for ev in ctx.stream("key.use"):
            collector.add(ev)
        return collector.result()

    return ctx.memo(MEMO, gather)


def collector_for(ctx: Context) -> Collector | None:
    """A collector for a check that streams key use anyway (None when the facts are known)."""
    return None if ctx.has_memo(MEMO) else Collector(ctx)


class Collector:
    """Gathers :class:`KeyUseFacts` one key use at a time."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.allowed = {t.id: frozenset(t.regions) for t in ctx.inventory.tenants if t.regions}
        self.ends = end_dates(ctx)
        self.regions: dict[tuple[str, str, str], RegionUses] = {}
        self.root: list[Ev] = []
        self.after: dict[str, list[Ev]] = defaultdict(list)
        self.seen: dict[tuple[str, str], list[Ev]] = {}

    def add(self, ev: Ev) -> None:
        # the hot loop of a quarter's key use: fields read directly (entries are plain dicts)
        rec = ev.rec
        actor = rec.get("actor")
        attrs = rec.get("attrs")
        if (type(actor) is dict and actor.get("credential") == ROOT_CREDENTIAL) or (
            type(attrs) is dict and attrs.get("root_token") is True
        ):
            self.root.append(ev)
        if self.ends:
            user = who(ev)
            end = self.ends.get(user)
            if end is not None and ev.t >= end:
                self.after[user].append(ev)
        k = rec.get("key")
        if type(k) is not dict or not k.get("resolved"):
            return  # a key the inventory does not know: keys.tenant_use reports it
        owner, key = k.get("owner"), k.get("key")
        if type(owner) is not str or type(key) is not str:
            return
        first = self.seen.get((owner, key))
        if first is None:
            first = self.seen[(owner, key)] = []
        if len(first) < SEEN:
            first.append(ev)
        region = attrs.get("region") if type(attrs) is dict else None
        if type(region) is not str or not region or owner not in self.allowed:
            return
        g = self.regions.get((owner, key, region))
        if g is None:
            g = self.regions[(owner, key, region)] = RegionUses()
        g.count += 1
        if region not in self.allowed[owner] or len(g.cited) < MAX_PASS_CITATIONS:
            g.cited.append(ev)

    def result(self) -> KeyUseFacts:
        return KeyUseFacts(self.regions, dict(self.seen), self.root, dict(self.after))

    def publish(self) -> None:
        """Make the facts gathered known to the checks that read them."""
        self.ctx.memo(MEMO, self.result)
