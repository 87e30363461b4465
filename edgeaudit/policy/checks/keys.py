"""Tenant keys: used only by the tenant's principals or an authorized operator role (Cedar),
and rotated within the maximum age (from key-state snapshots and rotation events). Key
administration, exposure and root tokens: ``key_lifecycle``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.collect.inventory import Inventory
from edgeaudit.policy.cedar import Request
from edgeaudit.policy.checks._common import (
    MAX_PASS_CITATIONS,
    UNRESOLVED,
    cite,
    plural,
    text,
    who,
)
from edgeaudit.policy.checks._keyuse import collector_for
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE, Outcome, Scope
from edgeaudit.policy.registry import Param, check


def _authorized(
    ctx: Context, auths: tuple[Mapping[str, str], ...], user: str, key: str, owner: str, t: float
) -> bool:
    p = ctx.inventory.principal(user)
    for a in auths:
        if "principal" in a and a["principal"] != user:
            continue
        if "role" in a and (p is None or a["role"] not in p.roles):
            continue
        if "key" in a and a["key"] != key:
            continue
        if "tenant" in a and a["tenant"] != owner:
            continue
        if "from" in a and t < epoch(a["from"]):
            continue
        if "until" in a and t >= epoch(a["until"]):
            continue
        return True
    return False


def _check_authorizations(auths: tuple[Mapping[str, str], ...]) -> None:
    for a in auths:
        _check_authorization(a)


def _authorization_refs(a: Mapping[str, str], inv: Inventory) -> None:
    """An authorization names principals, roles, keys and tenants the inventory knows."""
    if "principal" in a and inv.principal(a["principal"]) is None:
        raise ValueError(f"unknown principal {a['principal']!r} (not in the inventory)")
    if "role" in a and not any(a["role"] in p.roles for p in inv.principals):
        raise ValueError(f"role {a['role']!r} is held by no principal of the inventory")
    if "key" in a and not any(k.id == a["key"] for k in inv.keys):
        raise ValueError(f"unknown key {a['key']!r} (not in the inventory)")
    if "tenant" in a and a["tenant"] not in inv.tenant_ids:
        raise ValueError(f"unknown tenant {a['tenant']!r}")


def _check_authorization(a: Mapping[str, str]) -> None:
    extra = set(a) - {"role", "principal", "key", "tenant", "from", "until", "reason"}
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)} in authorization {a}")
    if not ({"role", "principal"} & set(a)) or not ({"key", "tenant"} & set(a)):
        raise ValueError(f"an authorization names a role or principal and a key or tenant: {a}")
    for field in ("from", "until"):
        if field in a:
            epoch(a[field])


@check(
    "keys.tenant_use",
    "Tenant keys are used only by that tenant's principals or an authorized operator role",
    ("KEY",),
    authorizations=Param(
        "records",
        (),
        "tenant authorizations for operator key use: {role|principal, key|tenant, from, until}",
        _check_authorizations,
        _authorization_refs,
    ),
)
def tenant_use(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    auths = tuple(params["authorizations"])
    # streamed: the bulk of a campus is key use, so only what is cited is kept. Cedar is asked
    # once per distinct (principal, key, authorized): a quarter of key use is a few dozen
    groups: dict[tuple[str, str], _Uses] = {}
    decided: dict[tuple[str, str, bool], bool] = {}
    unknown: dict[str, list[Ev]] = defaultdict(list)  # uses of keys the inventory lacks
    known_key = ctx.cedar.known
    # the same pass gathers what residency, root-token and leaver checks read of key use
    facts = collector_for(ctx)
    for ev in ctx.stream("key.use"):
        if facts is not None:
            facts.add(ev)
        k = ev.rec.get("key")
        if type(k) is not dict:
            unknown["unknown"].append(ev)
            continue
        key = k.get("key")
        if not (k.get("resolved") and type(key) is str and known_key("Key", key)):
            unknown[text(key or k.get("identity") or k.get("resource"), "unknown")].append(ev)
            continue
        user = who(ev)
        ok = bool(auths) and _authorized(ctx, auths, user, key, text(k.get("owner")), ev.t)
        allowed = decided.get((user, key, ok))
        if allowed is None:
            request = Request(user, "key.use", "Key", key, (False, False, False, ok))
            allowed = decided[(user, key, ok)] = ctx.cedar.decide([request])[0].allowed
        g = groups.get((key, user))
        if g is None:
            g = groups[(key, user)] = _Uses(ev)
        g.add(ev, allowed)
    if facts is not None:
        facts.publish()
    for (key, user), g in sorted(groups.items()):
        owner = text(g.first.get("key", "owner"))
        scope = Scope(tenant=ctx.tenant_of(owner), key=key, principal=user)
        if g.denied:
            ops = sorted({text(e.get("key", "operation"), "use") for e in g.denied})
            known = not user.startswith(UNRESOLVED) and ctx.inventory.principal(user) is not None
            who_text = user if known else f"{user} (not in the inventory)"
            yield Outcome(
                scope,
                FAIL,
                f"{who_text} used {owner}'s key {key} {plural(len(g.denied), 'time')} "
                f"({', '.join(ops)}) without authorization; first at {when(g.denied[0].t)}",
                cite(g.denied),
                (("uses", g.count), ("denied", len(g.denied))),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(g.count, 'use')} of {key} by {user}, all allowed",
                cite(g.sample),
                (("uses", g.count),),
            )
    for name, evs in sorted(unknown.items()):
        yield Outcome(
            Scope(key=f"unresolved: {name}"),
            NOT_EVALUATED,
            f"{plural(len(evs), 'use')} of key {name}, which is not in the inventory: whose key "
            f"it is (and so who may use it) is unknown; first at {when(evs[0].t)}",
            cite(evs, MAX_PASS_CITATIONS),
            (("uses", len(evs)),),
        )


class _Uses:
    """Uses of one key by one principal: a count, every denied use, a sample of allowed ones."""

    def __init__(self, first: Ev) -> None:
        self.first = first
        self.count = 0
        self.denied: list[Ev] = []
        self.sample: list[Ev] = []

    def add(self, ev: Ev, allowed: bool) -> None:
        self.count += 1
        if not allowed:
            self.denied.append(ev)
        elif len(self.sample) < MAX_PASS_CITATIONS:
            self.sample.append(ev)


SKEW = 300.0  # seconds a snapshot's clock may run ahead of the collector's


def _snapshot_rotation(ev: Ev) -> float | None:
    """When the snapshot says the key was last rotated; None when it does not say, or claims a
    rotation after the snapshot itself was taken (not evidence of anything)."""
    attrs = ev.rec.get("attrs")
    if not isinstance(attrs, dict):
        return None
    for field in ("latest_version_created", "last_rotation", "creation_date"):
        value = attrs.get(field)
        if isinstance(value, str):
            try:
                t = epoch(value)
            except ValueError:
                return None
            return t if t <= ev.t + SKEW else None
    return None


@check(
    "keys.rotation_age",
    "Tenant keys are rotated within the maximum cryptoperiod",
    ("KEY",),
    max_age=Param("duration", 365 * 86400, "longest time since the last rotation"),
    snapshot_max_age=Param("duration", 45 * 86400, "a key-state snapshot older than this is stale"),
)
def rotation_age(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    max_age, snap_age = float(params["max_age"]), float(params["snapshot_max_age"])
    snapshots: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("key.state", lookback=True):
        snapshots[str(ev.get("key", "key"))].append(ev)
    rotations: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("key.rotate", lookback=True):
        if ev.rec.get("outcome") != "failure":
            rotations[str(ev.get("key", "key"))].append(ev)
    for key in ctx.inventory.keys:
        scope = Scope(tenant=key.tenant, key=key.id)
        snaps = [s for s in snapshots.get(key.id, []) if s.t <= ctx.as_of]
        rots = [r for r in rotations.get(key.id, []) if r.t <= ctx.as_of]
        latest_snap = max(snaps, key=lambda e: e.t) if snaps else None
        candidates: list[tuple[float, Ev]] = [(r.t, r) for r in rots]
        if latest_snap is not None and (rotated := _snapshot_rotation(latest_snap)) is not None:
            candidates.append((rotated, latest_snap))
        if not candidates:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"no key-state snapshot or rotation event for {key.id} in the period or the "
                f"{ctx.lookback / 86400:.0f} days before it",
            )
            continue
        last, basis = max(candidates, key=lambda c: c[0])
        age = ctx.as_of - last
        cited = [basis] + ([latest_snap] if latest_snap is not None else [])
        days = age / 86400
        newest = max(e.t for e in cited)
        if age > max_age:
            yield Outcome(
                scope,
                FAIL,
                f"key {key.id} of {key.tenant} last rotated {when(last)}: {days:.0f} days old at "
                f"{when(ctx.as_of)} (max {max_age / 86400:.0f}; rotation was due "
                f"{when(last + max_age)})",
                cite(cited),
                (("age_days", round(days, 1)),),
            )
        elif newest >= ctx.start:
            yield Outcome(
                scope,
                PASS,
                f"key {key.id} last rotated {when(last)} ({days:.0f} days before "
                f"{when(ctx.as_of)}; next rotation due {when(last + max_age)})",
                cite(cited),
                (("age_days", round(days, 1)),),
            )
        elif newest + snap_age < ctx.as_of:
            yield Outcome(
                scope,
                FAIL,
                f"no key-state snapshot or rotation of {key.id} in the period: last "
                f"{when(newest)}, due {when(newest + snap_age)} (every "
                f"{snap_age / 86400:.0f} days)",
                cite(cited),
            )
        else:
            yield Outcome(
                scope,
                STALE,
                f"no key-state snapshot or rotation of {key.id} in the period; the last, "
                f"{when(newest)}, showed a rotation on {when(last)}; the next snapshot is due "
                f"{when(newest + snap_age)}",
                cite(cited),
            )
