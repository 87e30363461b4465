"""The inventory (``policies/inventory.yaml``): site, tenants, segments, assets, principals with
their identities in each source, keys and break-glass accounts.

Validated on load; every error names the file, the line and the problem. Lookups used by the
parsers (identity -> principal, host or address -> asset, provider identity -> key) are
precomputed dictionaries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.yamlfile import Node, load_yaml

ASSET_KINDS: Final = frozenset({"host", "bmc", "switch", "pdu"})
PRINCIPAL_TYPES: Final = frozenset({"person", "service"})
ORGS: Final = frozenset({"operator", "partner", "tenant"})
IDENTITY_KINDS: Final = ("unix", "ssh_key_id", "teleport", "vault", "aws_arn", "badge")
KEY_PROVIDERS: Final = frozenset({"vault-transit", "aws-kms"})


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    # where the tenant's data may be (residency): its jurisdiction (e.g. IN, EU) and the regions
    # its keys, evidence and backups may live in and be used from (AWS regions, site regions)
    jurisdiction: str | None = None
    regions: tuple[str, ...] = ()
    reviewer: str | None = None  # the principal who reviews the tenant's principals' access


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    owner: str  # tenant id or "shared"
    # the segment's prefixes: one (``cidr:``) or several (``cidrs:``, e.g. a dual-stack
    # segment's IPv4 and IPv6 prefixes)
    prefixes: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    vlan: int | None

    @property
    def cidr(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The first prefix (readers that handle dual-stack segments use ``prefixes``)."""
        return self.prefixes[0]

    def prefix_of(self, address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The most specific of the segment's prefixes holding ``address`` (None: outside)."""
        ip = ipaddress.ip_address(address)
        inside = [n for n in self.prefixes if n.version == ip.version and ip in n]
        return max(inside, key=lambda n: n.prefixlen) if inside else None


@dataclass(frozen=True, slots=True)
class Asset:
    hostname: str
    kind: str
    owner: str  # tenant id or "shared"
    segment: str | None
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    type: str
    org: str
    tenant: str | None
    roles: tuple[str, ...]
    identities: tuple[tuple[str, str], ...]  # (kind, identity)
    end_date: str | None = None  # RFC 3339 UTC: access ended (a leaver); activity after fails
    shared: bool = False  # a shared or generic account (interactive logons are findings)


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    tenant: str
    provider: str
    identities: tuple[str, ...]  # transit "mount/name", ARNs, aliases, key ids
    # where the key material lives: the Vault cluster's region (default: the site's), replicas
    regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Leaver:
    """A principal removed from the inventory, with the date their access ended."""

    id: str
    end_date: str  # RFC 3339 UTC


@dataclass(frozen=True, slots=True)
class Storage:
    """Where evidence or a backup of it is kept (residency)."""

    name: str
    kind: str  # evidence | backup
    region: str
    tenants: tuple[str, ...] = ()  # whose data it holds (empty: every tenant's)


@dataclass(frozen=True, slots=True)
class BreakGlass:
    account: str
    assets: tuple[str, ...]  # hostnames, or ("*",) for every asset


@dataclass(frozen=True)
class Inventory:
    site: str
    timezone: str | None
    tenants: tuple[Tenant, ...]
    segments: tuple[Segment, ...]
    assets: tuple[Asset, ...]
    principals: tuple[Principal, ...]
    keys: tuple[Key, ...]
    break_glass: tuple[BreakGlass, ...]
    region: str | None = None  # the site's region (where its Vault and evidence store run)
    leavers: tuple[Leaver, ...] = ()
    storage: tuple[Storage, ...] = ()

    @classmethod
    def empty(cls) -> Inventory:
        return cls("unknown", None, (), (), (), (), (), ())

    def __post_init__(self) -> None:
        by_identity: dict[tuple[str, str], Principal] = {}
        for p in self.principals:
            for kind, ident in p.identities:
                by_identity[(kind, ident)] = p
        by_host: dict[str, Asset] = {}
        for a in self.assets:
            by_host[a.hostname.lower()] = a
            by_host[a.hostname.split(".")[0].lower()] = a
            for addr in a.addresses:
                by_host[addr] = a
        by_key: dict[tuple[str, str], Key] = {}
        for k in self.keys:
            for ident in (k.id, *k.identities):
                by_key[(k.provider, ident)] = k
        object.__setattr__(self, "_principals", by_identity)
        object.__setattr__(self, "_assets", by_host)
        object.__setattr__(self, "_keys", by_key)
        object.__setattr__(self, "_by_id", {p.id: p for p in self.principals})

    def principal_for(self, kind: str, identity: str) -> Principal | None:
        found: Principal | None = self._principals.get((kind, identity))  # type: ignore[attr-defined]
        return found

    def principal(self, pid: str | None) -> Principal | None:
        """The principal with inventory id ``pid`` (None for None or an unknown id)."""
        table: dict[str, Principal] = self._by_id  # type: ignore[attr-defined]
        return None if pid is None else table.get(pid)

    def asset(self, name_or_address: str) -> Asset | None:
        table: dict[str, Asset] = self._assets  # type: ignore[attr-defined]
        return table.get(name_or_address) or table.get(name_or_address.lower())

    def key_for(self, provider: str, identity: str) -> Key | None:
        found: Key | None = self._keys.get((provider, identity))  # type: ignore[attr-defined]
        return found

    def is_break_glass(self, account: str, asset: str | None) -> bool:
        for bg in self.break_glass:
            if bg.account == account and ("*" in bg.assets or (asset and asset in bg.assets)):
                return True
        return False

    @property
    def tenant_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.tenants)

    def tenant(self, tid: str | None) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tid), None)


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate an inventory file."""
    return _build(load_yaml(path, "inventory"))


def _build(root: Node) -> Inventory:
    top = root.mapping(
        {
            "site",
            "tenants",
            "segments",
            "assets",
            "principals",
            "keys",
            "break_glass",
            "leavers",
            "storage",
        },
        {"site", "tenants"},
    )
    site = top["site"].mapping({"name", "timezone", "region"}, {"name"})
    tenant_nodes = [
        n.mapping({"id", "name", "jurisdiction", "regions", "reviewer"}, {"id"})
        for n in top["tenants"].items()
    ]
    tenants = tuple(
        Tenant(
            f["id"].text("tenant id"),
            f["name"].text("tenant name") if "name" in f else "",
            f["jurisdiction"].text("jurisdiction") if "jurisdiction" in f else None,
            f["regions"].texts("region") if "regions" in f else (),
            f["reviewer"].text("reviewer") if "reviewer" in f else None,
        )
        for f in tenant_nodes
    )
    tenant_ids = {t.id for t in tenants}
    if len(tenant_ids) != len(tenants):
        raise root.fail("tenant ids must be unique", top["tenants"].node)

    def owner(n: Node, allow_shared: bool = True) -> str:
        value = n.text("owner")
        if value in tenant_ids or (allow_shared and value == "shared"):
            return value
        raise n.fail(f"unknown tenant {value!r} (known: {', '.join(sorted(tenant_ids))})")

    segments = []
    for n in top["segments"].items() if "segments" in top else ():
        f = n.mapping({"id", "owner", "cidr", "cidrs", "vlan"}, {"id", "owner"})
        prefixes = _prefixes(n, f)
        vlan = int(f["vlan"].text("vlan")) if "vlan" in f else None
        segments.append(Segment(f["id"].text("segment id"), owner(f["owner"]), prefixes, vlan))
    by_segment = {s.id: s for s in segments}
    segment_ids = set(by_segment)

    assets = []
    for n in top["assets"].items() if "assets" in top else ():
        f = n.mapping(
            {"hostname", "kind", "owner", "segment", "address", "addresses"},
            {"hostname", "kind", "owner"},
        )
        kind = f["kind"].text("asset kind")
        if kind not in ASSET_KINDS:
            raise f["kind"].fail(f"asset kind {kind!r} must be one of {sorted(ASSET_KINDS)}")
        segment = f["segment"].text("segment") if "segment" in f else None
        if segment is not None and segment not in segment_ids:
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
        assets.append(Asset(hostname, kind, owner(f["owner"]), segment, addresses))

    principals = []
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
        tenant = owner(f["tenant"], allow_shared=False) if "tenant" in f else None
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
        principals.append(Principal(pid, ptype, org, tenant, roles, tuple(identities), end, shared))
    pids = {p.id for p in principals}
    for f in tenant_nodes:
        if "reviewer" in f and f["reviewer"].text("reviewer") not in pids:
            raise f["reviewer"].fail(
                f"reviewer {f['reviewer'].text('reviewer')!r} is not a principal of the inventory"
            )

    keys = []
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
        keys.append(
            Key(f["id"].text("key id"), owner(f["tenant"], False), provider, identities_k, regions)
        )

    break_glass = []
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
        break_glass.append(BreakGlass(f["account"].text("account"), bg_assets))

    leavers = []
    for n in top["leavers"].items() if "leavers" in top else ():
        f = n.mapping({"id", "end_date", "reason"}, {"id", "end_date"})
        # a leaver may still be listed as a principal (an inventory kept for the collectors of
        # the time): its end date applies all the same
        leavers.append(Leaver(f["id"].text("leaver id"), _end_date(f["end_date"])))

    storage = []
    for n in top["storage"].items() if "storage" in top else ():
        f = n.mapping({"name", "kind", "region", "tenants"}, {"name", "kind", "region"})
        skind = f["kind"].text("storage kind")
        if skind not in ("evidence", "backup"):
            raise f["kind"].fail(f"storage kind {skind!r} must be evidence or backup")
        holds = tuple(owner(t, False) for t in f["tenants"].items()) if "tenants" in f else ()
        storage.append(
            Storage(f["name"].text("storage name"), skind, f["region"].text("region"), holds)
        )

    tz = site["timezone"].text("timezone") if "timezone" in site else None
    return Inventory(
        site=site["name"].text("site name"),
        timezone=tz,
        tenants=tenants,
        segments=tuple(segments),
        assets=tuple(assets),
        principals=tuple(principals),
        keys=tuple(keys),
        break_glass=tuple(break_glass),
        region=site["region"].text("region") if "region" in site else None,
        leavers=tuple(leavers),
        storage=tuple(storage),
    )


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
