"""The sections of ``policies/inventory.yaml``, each read and validated from its YAML nodes
(:func:`edgeaudit.collect.inventory.load_inventory` reads them in file order, so the first
problem found is the one reported). Every error names the file, the line and the problem."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence

from edgeaudit.collect.inventory_types import (
    ASSET_KINDS,
    IDENTITY_KINDS,
    KEY_PROVIDERS,
    ORGS,
    PRINCIPAL_TYPES,
    Asset,
    BreakGlass,
    Key,
    Leaver,
    Principal,
    Segment,
    Storage,
    Tenant,
)
from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.yamlfile import Node


def tenants(top: dict[str, Node]) -> tuple[list[dict[str, Node]], tuple[Tenant, ...]]:
    """The tenants (ids unique), with their mappings (for :func:`check_reviewers`)."""
    tenant_nodes = [
        n.mapping({"id", "name", "jurisdiction", "regions", "reviewer"}, {"id"})
        for n in top["tenants"].items()
    ]
    out = tuple(
        Tenant(
            f["id"].text("tenant id"),
            f["name"].text("tenant name") if "name" in f else "",
            f["jurisdiction"].text("jurisdiction") if "jurisdiction" in f else None,
            f["regions"].texts("region") if "regions" in f else (),
            f["reviewer"].text("reviewer") if "reviewer" in f else None,
        )
        for f in tenant_nodes
    )
    if len({t.id for t in out}) != len(out):
        raise top["tenants"].fail("tenant ids must be unique")
    return tenant_nodes, out


def owner(n: Node, tenant_ids: Collection[str], allow_shared: bool = True) -> str:
    """A tenant id of the inventory (or ``shared`` where allowed)."""
    value = n.text("owner")
    if value in tenant_ids or (allow_shared and value == "shared"):
        return value
    raise n.fail(f"unknown tenant {value!r} (known: {', '.join(sorted(tenant_ids))})")


def segments(top: dict[str, Node], tenant_ids: Collection[str]) -> list[Segment]:
    out = []
    for n in top["segments"].items() if "segments" in top else ():
        f = n.mapping({"id", "owner", "cidr", "cidrs", "vlan"}, {"id", "owner"})
        prefixes = _prefixes(n, f)
        vlan = int(f["vlan"].text("vlan")) if "vlan" in f else None
        out.append(
            Segment(f["id"].text("segment id"), owner(f["owner"], tenant_ids), prefixes, vlan)
        )
    return out


def assets(
    top: dict[str, Node], tenant_ids: Collection[str], by_segment: dict[str, Segment]
) -> list[Asset]:
    out = []
    for n in top["assets"].items() if "assets" in top else ():
        f = n.mapping(
            {"hostname", "kind", "owner", "segment", "address", "addresses"},
            {"hostname", "kind", "owner"},
        )
        kind = f["kind"].text("asset kind")
        if kind not in ASSET_KINDS:
            raise f["kind"].fail(f"asset kind {kind!r} must be one of {sorted(ASSET_KINDS)}")
        segment = f["segment"].text("segment") if "segment" in f else None
        if segment is not None and segment not in by_segment:
            raise f["segment"].fail(f"unknown segment {segment!r}")
        hostname = f["hostname"].text("hostname")
        if "address" in f and "addresses" in f:
            raise f["address"].fail("give address or addresses, not both")
        field = "address" if "address" in f else "addresses"
        addresses: tuple[str, ...] = ()
        if "address" in f:
            addresses = (f["address"].text("address"),)
        elif "addresses" in f:
            addresses = f["addresses"].texts("address")
        for a in addresses:
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise f[field].fail(f"{a!r} is not an IP address") from None
            if segment is not None:
                _check_address(f[field], hostname, a, by_segment[segment])
        out.append(Asset(hostname, kind, owner(f["owner"], tenant_ids), segment, addresses))
    return out


def principals(top: dict[str, Node], tenant_ids: Collection[str]) -> list[Principal]:
    out = []
    seen_identities: dict[tuple[str, str], str] = {}
    for n in top["principals"].items() if "principals" in top else ():
        f = n.mapping(
            {
                "id",
                "type",
                "org",
                "tenant",
                "partner",
                "roles",
                "identities",
                "end_date",
                "shared",
            },
            {"id", "type", "org"},
        )
        pid = f["id"].text("principal id")
        ptype, org = f["type"].text("type"), f["org"].text("org")
        if ptype not in PRINCIPAL_TYPES:
            raise f["type"].fail(f"type {ptype!r} must be one of {sorted(PRINCIPAL_TYPES)}")
        if org not in ORGS:
            raise f["org"].fail(f"org {org!r} must be one of {sorted(ORGS)}")
        tenant = owner(f["tenant"], tenant_ids, allow_shared=False) if "tenant" in f else None
        if (org == "tenant") != (tenant is not None):
            raise n.fail(f"principal {pid!r}: a tenant is required exactly when org is 'tenant'")
        identities: list[tuple[str, str]] = []
        if "identities" in f:
            ids = f["identities"].mapping(set(IDENTITY_KINDS), set())
            for kind in IDENTITY_KINDS:
                for ident in ids[kind].texts(f"{kind} identity") if kind in ids else ():
                    if (kind, ident) in seen_identities:
                        raise ids[kind].fail(
                            f"{kind} identity {ident!r} already belongs to "
                            f"{seen_identities[(kind, ident)]!r}"
                        )
                    seen_identities[(kind, ident)] = pid
                    identities.append((kind, ident))
        roles = f["roles"].texts("role") if "roles" in f else ()
        end = _end_date(f["end_date"]) if "end_date" in f else None
        shared = f["shared"].boolean("shared") if "shared" in f else False
        out.append(Principal(pid, ptype, org, tenant, roles, tuple(identities), end, shared))
    return out


def check_reviewers(tenant_nodes: list[dict[str, Node]], principals: Sequence[Principal]) -> None:
    """A tenant's reviewer is a principal of the inventory."""
    pids = {p.id for p in principals}
    for f in tenant_nodes:
        if "reviewer" in f and f["reviewer"].text("reviewer") not in pids:
            raise f["reviewer"].fail(
                f"reviewer {f['reviewer'].text('reviewer')!r} is not a principal of the inventory"
            )


def keys(top: dict[str, Node], tenant_ids: Collection[str]) -> list[Key]:
    out = []
    for n in top["keys"].items() if "keys" in top else ():
        f = n.mapping(
            {"id", "tenant", "provider", "identities", "regions"}, {"id", "tenant", "provider"}
        )
        provider = f["provider"].text("provider")
        if provider not in KEY_PROVIDERS:
            raise f["provider"].fail(
                f"provider {provider!r} must be one of {sorted(KEY_PROVIDERS)}"
            )
        identities_k = f["identities"].texts("key identity") if "identities" in f else ()
        regions = f["regions"].texts("region") if "regions" in f else ()
        out.append(
            Key(
                f["id"].text("key id"),
                owner(f["tenant"], tenant_ids, False),
                provider,
                identities_k,
                regions,
            )
        )
    return out


def break_glass(top: dict[str, Node], assets: Sequence[Asset]) -> list[BreakGlass]:
    out = []
    hostnames = {a.hostname for a in assets}
    for n in top["break_glass"].items() if "break_glass" in top else ():
        f = n.mapping({"account", "assets"}, {"account"})
        bg_assets = f["assets"].texts("asset") if "assets" in f else ("*",)
        for name in bg_assets:
            if name != "*" and name not in hostnames:
                raise f["assets"].fail(
                    f"break-glass account {f['account'].text('account')!r} names unknown asset "
                    f"{name!r} (not an asset hostname of the inventory)"
                )
        out.append(BreakGlass(f["account"].text("account"), bg_assets))
    return out


def leavers(top: dict[str, Node]) -> list[Leaver]:
    out = []
    for n in top["leavers"].items() if "leavers" in top else ():
        f = n.mapping({"id", "end_date", "reason"}, {"id", "end_date"})
        # a leaver may still be listed as a principal (an inventory kept for the collectors of
        # the time): its end date applies all the same
        out.append(Leaver(f["id"].text("leaver id"), _end_date(f["end_date"])))
    return out


def storage(top: dict[str, Node], tenant_ids: Collection[str]) -> list[Storage]:
    out = []
    for n in top["storage"].items() if "storage" in top else ():
        f = n.mapping({"name", "kind", "region", "tenants"}, {"name", "kind", "region"})
        skind = f["kind"].text("storage kind")
        if skind not in ("evidence", "backup"):
            raise f["kind"].fail(f"storage kind {skind!r} must be evidence or backup")
        holds = (
            tuple(owner(t, tenant_ids, False) for t in f["tenants"].items())
            if "tenants" in f
            else ()
        )
        out.append(
            Storage(f["name"].text("storage name"), skind, f["region"].text("region"), holds)
        )
    return out


def _prefixes(
    n: Node, f: dict[str, Node]
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A segment's prefixes: ``cidr: 198.18.10.0/24`` or ``cidrs: [198.18.10.0/24,
    2001:db8:10::/64]`` (exactly one of the two; no duplicate or overlapping prefixes)."""
    if ("cidr" in f) == ("cidrs" in f):
        raise n.fail("a segment needs cidr (one prefix) or cidrs (a list of prefixes): exactly one")
    key = "cidr" if "cidr" in f else "cidrs"
    texts = (f[key].text("cidr"),) if key == "cidr" else f[key].texts("cidr")
    if not texts:
        raise f[key].fail("cidrs must list at least one prefix")
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for text in texts:
        try:
            net = ipaddress.ip_network(text)
        except ValueError as exc:
            raise f[key].fail(f"not a CIDR network: {exc}") from None
        for other in out:
            if net.version == other.version and net.overlaps(other):
                raise f[key].fail(f"prefix {net} overlaps {other} of the same segment")
        out.append(net)
    return tuple(out)


def _check_address(n: Node, hostname: str, address: str, segment: Segment) -> None:
    """An asset address is a host address of one of its segment's prefixes."""
    net = segment.prefix_of(address)
    nets = ", ".join(str(p) for p in segment.prefixes)
    if net is None:
        raise n.fail(
            f"asset {hostname!r}: address {address} lies outside its segment "
            f"{segment.id!r} ({nets})"
        )
    if (what := not_a_host(address, net)) is not None:
        raise n.fail(
            f"asset {hostname!r}: address {address} is the {what} address of its segment "
            f"{segment.id!r} ({net}), not a host"
        )


def not_a_host(address: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    """'network' or 'broadcast' when ``address`` is one of ``net``'s (IPv6: the subnet-router
    anycast address, RFC 4291 2.6.1), else None. /31, /32, /127 and /128 have none."""
    ip = ipaddress.ip_address(address)
    if net.prefixlen >= (31 if net.version == 4 else 127):
        return None
    if ip == net.network_address:
        return "network"
    if net.version == 4 and ip == net.broadcast_address:
        return "broadcast"
    return None


def _end_date(n: Node) -> str:
    """An end date as RFC 3339 UTC: a date (``2026-08-14``: access ended at its start, UTC) or
    an RFC 3339 UTC time."""
    value = n.text("end_date")
    if len(value) == 10:
        value += "T00:00:00Z"
    try:
        return parse_utc_time(value, "end_date")[0]
    except InputError as exc:
        raise n.fail(f"{exc} (write 2026-08-14 or 2026-08-14T18:00:00Z)") from None
