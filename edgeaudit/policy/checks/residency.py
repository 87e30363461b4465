"""Data residency: each tenant's keys live, are used and replicated, and its evidence and
backups are kept, only in the regions the inventory allows the tenant (``tenants[].regions``).

Where a key lives: the key's ``regions`` in the inventory (a Vault cluster's region and its
performance secondaries, a multi-Region key's replicas), else the region of its KMS ARNs, else
the site's region (a Vault transit key of the pod's own cluster). A multi-Region KMS key
(``mrk-``) is a finding unless the inventory lists every region it is replicated to and all are
allowed. Where a key was used: CloudTrail's ``awsRegion`` of each use and each administrative
call; a ``ReplicateKey`` call is a finding unless its replica region is allowed. Where evidence
and backups are: the inventory's ``storage`` (default: the evidence store at the site) and
``backup.run`` records (``destination``, ``region``, optional ``tenant``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.collect.inventory_types import Key, Tenant
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, text
from edgeaudit.policy.checks._keyuse import KeyUseFacts, facts, use_region
from edgeaudit.policy.context import Context, Ev, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import check

_KMS_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/(.+)")
REPLICATE = ("ReplicateKey",)


def key_regions(key: Key, site_region: str | None) -> tuple[tuple[str, ...], bool]:
    """(regions the key material lives in, whether it is a multi-Region KMS key)."""
    arn_regions: list[str] = []
    multi = False
    for ident in key.identities:
        m = _KMS_ARN.fullmatch(ident)
        if m:
            arn_regions.append(m.group(1))
            multi = multi or m.group(2).startswith("mrk-")
        elif ident.startswith("mrk-"):
            multi = True
    if key.regions:
        return tuple(dict.fromkeys(key.regions)), multi
    if arn_regions:
        return tuple(dict.fromkeys(arn_regions)), multi
    if key.provider == "vault-transit" and site_region:
        return (site_region,), multi
    return (), multi


def _allowed_text(t: Tenant) -> str:
    return f"{t.id}'s allowed regions ({', '.join(t.regions)})"


@check(
    "residency.regions",
    "Tenant keys, key use, evidence and backups stay in the tenant's allowed regions",
    ("KEY",),
)
def regions(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    inv = ctx.inventory
    found = facts(ctx)
    admin: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events("key.config", "key.rotate"):
        k = ev.rec.get("key")
        if type(k) is dict and k.get("resolved"):
            admin[(text(k.get("owner")), text(k.get("key")))].append(ev)
    backups: dict[tuple[str | None, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events("backup.run"):
        dest = text(ev.rec.get("destination"), "unnamed destination")
        backups[
            (ev.rec.get("tenant") if isinstance(ev.rec.get("tenant"), str) else None, dest)
        ].append(ev)
    for tenant in inv.tenants:
        if not tenant.regions:
            yield Outcome(
                Scope(tenant=tenant.id),
                NOT_EVALUATED,
                f"the inventory gives {tenant.id} no allowed regions (tenants[].regions): "
                "residency cannot be judged",
            )
            continue
        allowed = set(tenant.regions)
        for key in inv.keys:
            if key.tenant == tenant.id:
                yield _key(ctx, tenant, key, allowed, found, admin.get((tenant.id, key.id), []))
        yield from _storage(ctx, tenant, allowed, backups)


def _key(
    ctx: Context,
    tenant: Tenant,
    key: Key,
    allowed: set[str],
    found: KeyUseFacts,
    admin: list[Ev],
) -> Outcome:
    uses = found.regions
    scope = Scope(tenant=tenant.id, key=key.id)
    problems: list[str] = []
    cited: list[Ev] = []
    lives, multi = key_regions(key, ctx.inventory.region)
    outside = [r for r in lives if r not in allowed]
    if outside:
        problems.append(f"key material in {', '.join(outside)} (inventory)")
    if multi and not key.regions:
        problems.append(
            "a multi-Region KMS key whose replica regions the inventory does not list "
            "(keys[].regions)"
        )
    region_uses = sorted((r, g) for (t, k, r), g in uses.items() if t == tenant.id and k == key.id)
    sample: list[Ev] = []
    for use_at, g in region_uses:
        if use_at in allowed:
            sample.extend(g.cited)
            continue
        ops = sorted({text(e.get("key", "operation"), "use") for e in g.cited})
        problems.append(
            f"{plural(g.count, 'use')} in {use_at} ({', '.join(ops)}; first at "
            f"{when(g.cited[0].t)}, entry {g.cited[0].ref.text()})"
        )
        cited.extend(g.cited)
    for ev in admin:
        api = text(ev.get("attrs", "api")) or text(ev.get("key", "operation"))
        region = use_region(ev)
        if api in REPLICATE or ev.get("key", "operation") == "replicate":
            replica = ev.get("attrs", "replica_region")
            if not (isinstance(replica, str) and replica in allowed):
                where = replica if isinstance(replica, str) else "a region the entry does not name"
                problems.append(f"replicated to {where} at {when(ev.t)} (entry {ev.ref.text()})")
                cited.append(ev)
                continue
        primary = ev.get("attrs", "primary_region")
        if isinstance(primary, str) and primary not in allowed:
            problems.append(
                f"primary region moved to {primary} at {when(ev.t)} (entry {ev.ref.text()})"
            )
            cited.append(ev)
            continue
        if region is not None and region not in allowed:
            problems.append(f"{api or ev.kind} in {region} at {when(ev.t)} (entry {ev.ref.text()})")
            cited.append(ev)
        elif region is not None:
            sample.append(ev)
    observed = (("key_regions", list(lives)), ("use_regions", [r for r, _ in region_uses]))
    if problems:
        return Outcome(
            scope,
            FAIL,
            f"{key.id} of {tenant.id} outside {_allowed_text(tenant)}: {'; '.join(problems)}",
            cite(cited),
            observed,
        )
    if not lives:
        return Outcome(
            scope,
            NOT_EVALUATED,
            f"where {key.id} lives is unknown: no KMS ARN, no keys[].regions and no site region",
            cite(sample, MAX_PASS_CITATIONS),
            observed,
        )
    shown = [*sample, *admin, *found.seen.get((tenant.id, key.id), [])]
    if not shown:
        return Outcome(
            scope,
            NOT_EVALUATED,
            f"no use or administration of {key.id} in the period: the inventory places it in "
            f"{', '.join(lives)}, inside {_allowed_text(tenant)}, but no evidence shows it",
            (),
            observed,
        )
    sample = shown
    used = ", ".join(f"{r} ({g.count})" for r, g in region_uses) or "no region recorded"
    return Outcome(
        scope,
        PASS,
        f"{key.id} lives in {', '.join(lives)}; uses by region: {used}; all inside "
        f"{_allowed_text(tenant)}",
        cite(sample, MAX_PASS_CITATIONS),
        observed,
    )


def _storage(
    ctx: Context,
    tenant: Tenant,
    allowed: set[str],
    backups: Mapping[tuple[str | None, str], list[Ev]],
) -> Iterator[Outcome]:
    inv = ctx.inventory
    stores = [s for s in inv.storage if not s.tenants or tenant.id in s.tenants]
    if not any(s.kind == "evidence" for s in stores):
        scope = Scope(tenant=tenant.id, subject="evidence-store")
        if inv.region is None:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                "the inventory names no site region and no evidence storage: where the "
                "evidence store is cannot be judged",
            )
        elif inv.region in allowed:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"the evidence store is at the site, in {inv.region}, inside "
                f"{_allowed_text(tenant)}: an inventory declaration, no evidence",
            )
        else:
            yield Outcome(
                scope,
                FAIL,
                f"the evidence store is at the site, in {inv.region}, outside "
                f"{_allowed_text(tenant)}",
            )
    runs: dict[str, list[Ev]] = defaultdict(list)
    for (owner, dest), evs in backups.items():
        if owner is None or owner == tenant.id:  # a backup without a tenant holds every tenant's
            runs[dest].extend(evs)
    declared = {s.name: s for s in stores}
    for name in sorted(set(declared) | set(runs)):
        store = declared.get(name)
        evs = sorted(runs.get(name, []), key=ctx.arrival)
        kind = store.kind if store is not None else "backup"
        scope = Scope(tenant=tenant.id, subject=f"{kind}: {name}")
        problems: list[str] = []
        if store is not None and store.region not in allowed:
            problems.append(f"{kind} storage {name} is in {store.region} (inventory)")
        bad = [e for e in evs if text(e.rec.get("region")) not in allowed]
        if bad:
            where = sorted({text(e.rec.get("region"), "no region recorded") for e in bad})
            problems.append(
                f"{plural(len(bad), 'backup')} of {tenant.id}'s data to {name} in "
                f"{', '.join(where)}; first at {when(bad[0].t)} (entry {bad[0].ref.text()})"
            )
        if problems:
            yield Outcome(
                scope,
                FAIL,
                f"{'; '.join(problems)}: outside {_allowed_text(tenant)}",
                cite(bad),
            )
            continue
        said = [f"{kind} storage {name}"]
        if store is not None:
            said.append(f"in {store.region}")
        if evs:
            regions = sorted({text(e.rec.get("region")) for e in evs})
            said.append(f"with {plural(len(evs), 'backup')} in {', '.join(regions)}")
        yield Outcome(
            scope,
            PASS if evs else NOT_EVALUATED,
            f"{' '.join(said)}: inside {_allowed_text(tenant)}"
            + ("" if evs else " (an inventory declaration: no backup.run in the period shows it)"),
            cite(evs, MAX_PASS_CITATIONS),
        )
