"""Failed logons: bursts of failures from one source address or against one account, and a
success from that address or for that account right after a burst.

A failure is an ``auth.logon_failed`` entry (``attrs.repeated``, sshd's "message repeated N
times", counts N). The same attempt is often recorded by more than one source (sshd's syslog
line and auditd's ``USER_AUTH``), so failures are counted per source kind and never added up
across sources. A **burst** is at least ``threshold`` failures within ``window`` seconds; the
bursts of one address or account that touch (the next failure within ``window`` of the last)
are one episode, cited whole. The account is the inventory principal when the identity resolved,
else the user name on the asset (or service) it was tried against.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural
from edgeaudit.policy.checks._sessions import describe
from edgeaudit.policy.context import Context, Ev, paused_gc, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

FAILED = "auth.logon_failed"
LOGON = "auth.logon"


def _positive(n: object) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError("must be at least 1")


@dataclass(frozen=True, slots=True)
class Episode:
    """Failures of one address or account (one source kind) that form bursts."""

    by: str  # "source" or "account"
    key: str  # the address, or the account label
    principal: str | None  # the inventory principal tried, when the identity resolved
    failures: tuple[Ev, ...]
    count: int  # failures, "message repeated" counted

    @property
    def first(self) -> float:
        return self.failures[0].t

    @property
    def last(self) -> float:
        return self.failures[-1].t

    def scope(self, ctx: Context) -> Scope:
        assets = {_where(e) for e in self.failures}
        asset = next(iter(assets)) if len(assets) == 1 else None
        known = ctx.inventory.asset(asset) if asset else None
        tenant = ctx.tenant_of(known.owner) if known else None
        subject = f"{self.by} {self.key}"
        return Scope(
            tenant=tenant,
            asset=known.hostname if known else None,
            principal=self.principal,
            subject=subject,
        )

    def describe(self) -> str:
        where = sorted({_where(e) or "?" for e in self.failures})
        return (
            f"{plural(self.count, 'failed logon')} "
            f"{'from' if self.by == 'source' else 'against'} {self.key} "
            f"between {when(self.first)} and {when(self.last)} on {', '.join(where)}"
        )


def _part(ev: Ev, name: str) -> dict[str, Any]:
    v = ev.rec.get(name)
    return v if type(v) is dict else {}


def _where(ev: Ev) -> str | None:
    target = _part(ev, "target")
    asset = target.get("asset")
    if type(asset) is str and asset:
        return asset
    resource = target.get("resource")
    return resource if type(resource) is str and resource else None


def account_of(ev: Ev) -> tuple[str, str | None] | None:
    """(label, principal) of the account an attempt was for; None when it names none."""
    actor = _part(ev, "actor")
    principal = actor.get("principal")
    if type(principal) is str and principal:
        return principal, principal
    user = _part(ev, "target").get("account") or actor.get("user")
    if type(user) is not str or not user:
        return None
    where = _where(ev)
    return (f"{user}@{where}" if where else user), None


def source_of(ev: Ev) -> str | None:
    ip = _part(ev, "actor").get("src_ip")
    return ip if type(ip) is str and ip else None


@dataclass(frozen=True, slots=True)
class Failures:
    """The period's failed logons as the burst checks need them."""

    episodes: list[Episode]
    count: int  # failed-logon entries in the period
    sample: list[Ev]  # the first few, to cite when nothing fails


def episodes(ctx: Context, threshold: int, window: float) -> Failures:
    """Every burst episode of the period (computed once per assessment and parameters)."""
    return ctx.memo(f"logons.episodes:{threshold}:{window}", lambda: _find(ctx, threshold, window))


# one failed logon as the burst search keeps it: (time, index, weight, leaf hash, where, the
# origin of its log: None in a single-log assessment)
Item = tuple[float, int, int, bytes, tuple[str, str] | None, str | None]


def _ev(item: Item) -> Ev:
    """An entry to cite, with only what the reasons read (where the attempt was)."""
    t, index, _, leaf, where, origin = item
    target = dict([where]) if where else {}
    return Ev(index, leaf.hex(), t, {"kind": FAILED, "target": target}, origin)


def _find(ctx: Context, threshold: int, window: float) -> Failures:
    # one streamed pass over the failures (never cached: most of a busy quarter), fields read
    # once, small tuples kept (no cycles among them: the collector waits until the end)
    with paused_gc():
        return _scan(ctx, threshold, window)


def _scan(ctx: Context, threshold: int, window: float) -> Failures:
    groups: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    principal: dict[tuple[str, str], str | None] = {}
    empty: dict[str, Any] = {}
    count = 0
    sample: list[Ev] = []
    for origin, index, leaf, t, rec in ctx.log_rows(FAILED):
        kind = rec.get("source")
        kind = kind if type(kind) is str else "?"
        attrs, actor, target = rec.get("attrs"), rec.get("actor"), rec.get("target")
        attrs = attrs if type(attrs) is dict else empty
        actor = actor if type(actor) is dict else empty
        target = target if type(target) is dict else empty
        n = attrs.get("repeated")
        weight = n if type(n) is int and n > 0 else 1
        asset, resource = target.get("asset"), target.get("resource")
        where: tuple[str, str] | None = None
        if type(asset) is str and asset:
            where = ("asset", asset)
        elif type(resource) is str and resource:
            where = ("resource", resource)
        item: Item = (t, index, weight, leaf, where, origin)
        count += 1
        if len(sample) < MAX_PASS_CITATIONS:
            sample.append(_ev(item))
        ip = actor.get("src_ip")
        if type(ip) is str and ip:
            k = ("source", ip, kind)
            groups[k].append(item)
            totals[k] += weight
        pid = actor.get("principal")
        if type(pid) is str and pid:
            label: str | None = pid
        else:
            pid = None
            user = target.get("account") or actor.get("user")
            label = None if type(user) is not str or not user else user
            if label is not None and where is not None:
                label = f"{user}@{where[1]}"
        if label is not None:
            k = ("account", label, kind)
            groups[k].append(item)
            totals[k] += weight
            principal[("account", label)] = pid
    out: list[Episode] = []
    for k, items in groups.items():
        if totals[k] < threshold:
            continue  # the common case: a handful of failures in the quarter
        by, key, _kind = k
        items.sort(key=lambda i: (i[0], i[5] or "", i[1]))
        out.extend(_bursts(by, key, principal.get((by, key)), items, threshold, window))
    out.sort(key=lambda e: (e.first, e.by, e.key))
    return Failures(out, count, sample)


def _bursts(
    by: str,
    key: str,
    principal: str | None,
    items: list[Item],
    threshold: int,
    window: float,
) -> Iterator[Episode]:
    """Maximal runs of failures that lie in some window of ``threshold`` or more, linear."""
    marked = [False] * len(items)
    lo, total, upto = 0, 0, 0  # marked[:upto] are decided
    for hi, (t, _, weight, _, _, _) in enumerate(items):
        total += weight
        while t - items[lo][0] > window:
            total -= items[lo][2]
            lo += 1
        if total >= threshold:
            for i in range(max(lo, upto), hi + 1):
                marked[i] = True
            upto = hi + 1
    run: list[Item] = []
    for item, m in zip(items, marked, strict=True):
        if not m:
            continue
        if run and item[0] - run[-1][0] > window:
            yield _episode(by, key, principal, run)
            run = []
        run.append(item)
    if run:
        yield _episode(by, key, principal, run)


def _episode(by: str, key: str, principal: str | None, run: list[Item]) -> Episode:
    return Episode(by, key, principal, tuple(_ev(i) for i in run), sum(i[2] for i in run))


_THRESHOLD = Param("int", 10, "failures that make a burst", _positive)
_WINDOW = Param("duration", 300, "the window the failures fall in")


@check(
    "logons.failure_bursts",
    "No burst of failed logons from one address or against one account",
    ("ADM",),
    threshold=_THRESHOLD,
    window=_WINDOW,
)
def failure_bursts(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    threshold, window = int(params["threshold"]), float(params["window"])
    failures = episodes(ctx, threshold, window)
    found = failures.episodes
    grouped: dict[Scope, list[Episode]] = defaultdict(list)
    for ep in found:
        grouped[ep.scope(ctx)].append(ep)
    for scope, eps in grouped.items():
        n = sum(len(e.failures) for e in eps)
        yield Outcome(
            scope,
            FAIL,
            f"{plural(len(eps), 'burst')} of at least {threshold} failed logons within "
            f"{describe(window)}: " + "; ".join(e.describe() for e in eps[:5]),
            cite(ev for e in eps for ev in e.failures),
            (("entries", n), ("failures", sum(e.count for e in eps))),
        )
    if found:
        return
    if not failures.count and not ctx.events(LOGON):
        yield Outcome(Scope(subject="logons"), NOT_EVALUATED, "no logon or failed logon recorded")
        return
    yield Outcome(
        Scope(subject="logons"),
        PASS,
        f"{plural(failures.count, 'failed logon')} in the period, none in a burst of "
        f"{threshold} within {describe(window)} from one address or against one account",
        cite(failures.sample),
    )


@check(
    "logons.success_after_burst",
    "No successful logon right after a burst of failures from the same address or account",
    ("ADM",),
    threshold=_THRESHOLD,
    window=_WINDOW,
    after=Param("duration", 600, "how long after a burst's last failure a success counts"),
)
def success_after_burst(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    threshold, window = int(params["threshold"]), float(params["window"])
    after = float(params["after"])
    failures = episodes(ctx, threshold, window)
    found = failures.episodes
    successes: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events(LOGON):
        if ev.rec.get("outcome") != "success":
            continue
        ip = source_of(ev)
        if ip is not None:
            successes[("source", ip)].append(ev)
        acct = account_of(ev)
        if acct is not None:
            successes[("account", acct[0])].append(ev)
    times = {}
    for k, evs in successes.items():
        evs.sort(key=lambda e: (e.t, e.key))
        times[k] = [e.t for e in evs]
    failed_scopes: set[Scope] = set()
    for ep in found:
        k = (ep.by, ep.key)
        if k not in successes:
            continue
        lo = bisect_left(times[k], ep.first)
        hi = bisect_right(times[k], ep.last + after)
        hits = successes[k][lo:hi]
        if not hits:
            continue
        first = hits[0]
        who = first.get("actor", "principal") or first.get("actor", "user") or "?"
        scope = ep.scope(ctx)
        if scope.principal is None and isinstance(first.get("actor", "principal"), str):
            scope = Scope(
                tenant=scope.tenant,
                asset=scope.asset,
                principal=str(first.get("actor", "principal")),
                subject=scope.subject,
            )
        if scope in failed_scopes:
            continue
        failed_scopes.add(scope)
        yield Outcome(
            scope,
            FAIL,
            f"successful logon of {who} from {source_of(first) or '?'} at {when(first.t)}, "
            f"{describe(max(0.0, first.t - ep.last))} after {ep.describe()}",
            cite([*ep.failures, *hits]),
            (
                ("success", first.index if first.origin is None else first.ref.text()),
                ("failures", ep.count),
            ),
        )
    if failed_scopes:
        return
    if not failures.count and not ctx.events(LOGON):
        yield Outcome(Scope(subject="logons"), NOT_EVALUATED, "no logon or failed logon recorded")
        return
    yield Outcome(
        Scope(subject="logons"),
        PASS,
        f"{plural(len(found), 'burst')} of failed logons in the period (an address's and an "
        "account's counted apart), none followed by a "
        f"success from the same address or for the same account within {describe(after)}",
        cite((ev for ep in found for ev in ep.failures), MAX_PASS_CITATIONS),
    )
