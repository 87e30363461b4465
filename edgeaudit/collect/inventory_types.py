"""The inventory's values (``policies/inventory.yaml``, :mod:`edgeaudit.collect.inventory`):
tenants, segments, assets, principals, keys, leavers, storage and break-glass accounts, and
the words each of their fields may take."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

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
