"""The inventory (``policies/inventory.yaml``): site, tenants, segments, assets, principals with
their identities in each source, keys and break-glass accounts.

Validated on load (each section by :mod:`edgeaudit.collect.inventory_sections`, the values in
:mod:`edgeaudit.collect.inventory_types`); every error names the file, the line and the
problem. Lookups used by the parsers (identity -> principal, host or address -> asset, provider
identity -> key) are precomputed dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeaudit.collect import inventory_sections as sections
from edgeaudit.collect.inventory_types import (
    Asset,
    BreakGlass,
    Key,
    Leaver,
    Principal,
    Segment,
    Storage,
    Tenant,
)
from edgeaudit.yamlfile import Node, load_yaml


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
    tenant_nodes, tenants = sections.tenants(top)
    tenant_ids = {t.id for t in tenants}
    segments = sections.segments(top, tenant_ids)
    assets = sections.assets(top, tenant_ids, {s.id: s for s in segments})
    principals = sections.principals(top, tenant_ids)
    sections.check_reviewers(tenant_nodes, principals)
    keys = sections.keys(top, tenant_ids)
    break_glass = sections.break_glass(top, assets)
    leavers = sections.leavers(top)
    storage = sections.storage(top, tenant_ids)
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
