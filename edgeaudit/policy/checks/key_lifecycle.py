"""Key lifecycle: key administration (rotation, configuration, policy, deletion) only by key
custodians (a role of the rule) or under a grant; no key made exportable or deletable (key-state
snapshots, deletion calls); no request made with a Vault root token."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, text, who
from edgeaudit.policy.checks._keyuse import facts, is_root
from edgeaudit.policy.checks.keys import (
    _authorization_refs,
    _authorized,
    _check_authorizations,
)
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

DELETION_OPS = ("schedule-deletion", "delete")


def _admin_by(ctx: Context, ev: Ev, roles: set[str], auths: tuple[Mapping[str, str], ...]) -> bool:
    """Whether the principal of an administrative key event held a custody role or a grant
    (an authorization of the rule) for the key at the time."""
    user = who(ev)
    p = ctx.inventory.principal(user)
    if p is not None and roles & set(p.roles):
        return True
    key, owner = text(ev.get("key", "key")), text(ev.get("key", "owner"))
    return bool(auths) and _authorized(ctx, auths, user, key, owner, ev.t)


def _service_event(ev: Ev) -> bool:
    """An automatic rotation the provider did itself (no principal acted)."""
    return ev.get("attrs", "service_event") is True and ev.kind == "key.rotate"


@check(
    "keys.lifecycle",
    "Key administration is done by key custodians or under a grant; no key is exportable or "
    "deletable",
    ("KEY",),
    roles=Param("texts", ("key-admin",), "roles that may administer tenant keys (key custody)"),
    grants=Param(
        "records",
        (),
        "key administration granted to others: {role|principal, key|tenant, from, until}",
        _check_authorizations,
        _authorization_refs,
    ),
)
def lifecycle(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    roles, grants = set(params["roles"]), tuple(params["grants"])
    admin: dict[tuple[str, str, str], list[tuple[Ev, bool]]] = defaultdict(list)
    configs: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("key.config", "key.rotate"):
        if ev.rec.get("outcome") == "failure" or _service_event(ev):
            continue
        k = ev.rec.get("key")
        key = text(k.get("key"), "unknown") if type(k) is dict else "unknown"
        owner = text(k.get("owner")) if type(k) is dict else ""
        admin[(owner, key, who(ev))].append((ev, _admin_by(ctx, ev, roles, grants)))
        configs[key].append(ev)
    for (owner, key, user), items in sorted(admin.items()):
        scope = Scope(tenant=ctx.tenant_of(owner), key=key, principal=user)
        bad = [ev for ev, ok in items if not ok]
        ops = sorted({text(e.get("key", "operation"), e.kind) for e, _ in items})
        if bad:
            yield Outcome(
                scope,
                FAIL,
                f"{user} administered {key} {plural(len(bad), 'time')} ({', '.join(ops)}) "
                f"without a key-custody role ({', '.join(sorted(roles))}) or a grant; first at "
                f"{when(bad[0].t)}",
                cite(bad),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'administrative action')} on {key} by {user} "
                f"({', '.join(ops)}), a custodian or under a grant",
                cite((e for e, _ in items), MAX_PASS_CITATIONS),
            )
    yield from _exposure(ctx, configs)


def _exposure(ctx: Context, configs: Mapping[str, list[Ev]]) -> Iterator[Outcome]:
    """Per inventory key: is it exportable or deletable (key-state snapshots of the period),
    or was its deletion scheduled (administrative events)."""
    snaps: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("key.state", lookback=True):
        if ev.t <= ctx.as_of:  # a snapshot taken at the period's end counts
            snaps[text(ev.get("key", "key"))].append(ev)
    for key in ctx.inventory.keys:
        scope = Scope(tenant=key.tenant, key=key.id, subject="exposure")
        every = sorted(snaps.get(key.id, []), key=lambda e: (e.t, e.key))
        # the period's snapshots, else the latest before it (what the key was as the period began)
        states = [e for e in every if e.t >= ctx.start] or every[-1:]
        flags: list[str] = []
        cited: list[Ev] = []
        for ev in states:
            found = [f for f in ("exportable", "deletion_allowed") if ev.get("attrs", f) is True]
            if found:
                flags.append(f"{' and '.join(found)} in the snapshot of {when(ev.t)}")
                cited.append(ev)
        deletions = [
            ev for ev in configs.get(key.id, []) if ev.get("key", "operation") in DELETION_OPS
        ]
        for ev in deletions:
            flags.append(f"deletion {ev.get('key', 'operation')} by {who(ev)} at {when(ev.t)}")
        if flags:
            # the configuration changes before the first flagged snapshot show who did it
            first = min((e.t for e in cited), default=ctx.end)
            changes = [e for e in configs.get(key.id, []) if e.t <= first]
            yield Outcome(
                scope,
                FAIL,
                f"{key.id} of {key.tenant} was made exportable or deletable: {'; '.join(flags)}",
                cite([*cited, *deletions, *changes]),
            )
        elif states and states[-1].t >= ctx.start:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(states), 'key-state snapshot')} of {key.id} in the period: "
                "neither exportable nor deletable",
                cite(states, MAX_PASS_CITATIONS),
            )
        elif key.provider == "aws-kms" and any(s.startswith("cloudtrail") for s in ctx.sources):
            yield Outcome(
                scope,
                PASS,
                f"{key.id} is a KMS key (key material never leaves KMS) and the period's "
                "CloudTrail shows no deletion scheduled",
                cite(states, MAX_PASS_CITATIONS),
            )
        elif states:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"the latest key-state snapshot of {key.id}, {when(states[-1].t)}, predates the "
                "period: whether it is exportable or deletable now is not shown",
                cite(states),
            )
        else:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"no key-state snapshot of {key.id} in the period shows whether it is "
                "exportable or deletable",
            )


ROOT_KINDS = ("key.config", "key.rotate", "vault.request")


@check(
    "keys.root_token",
    "Vault root tokens are not used",
    ("KEY",),
)
def root_token(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    uses = [ev for ev in ctx.events(*ROOT_KINDS) if is_root(ev)]
    uses += facts(ctx).root
    uses.sort(key=ctx.arrival)
    if not uses:
        if "vault" in ctx.sources:
            yield Outcome(
                Scope(subject="vault root token"),
                PASS,
                "no request made with a root token in the Vault audit log of the period",
            )
        return
    paths = sorted({text(e.get("attrs", "path") or e.get("target", "resource"), "?") for e in uses})
    yield Outcome(
        Scope(subject="vault root token"),
        FAIL,
        f"{plural(len(uses), 'request')} made with a Vault root token (first at "
        f"{when(uses[0].t)}, entry {uses[0].ref.text()}; paths {', '.join(paths[:10])}"
        f"{' …' if len(paths) > 10 else ''}): root tokens are for emergencies, revoked after use",
        cite(uses),
        (("requests", len(uses)),),
    )
