"""The scope guard and address checks: which segment an address belongs to, refusing targets
outside the inventory's segments or outside a plan's targets, and addresses that are not hosts
(a prefix's network address; an IPv4 prefix's broadcast address). A segment may have several
prefixes (a dual-stack segment: IPv4 and IPv6); an address belongs to the segment whose prefix
holding it is the most specific."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.inventory_sections import not_a_host as not_a_host  # re-exported
from edgeaudit.collect.inventory_types import Segment
from edgeaudit.errors import InputError
from edgeaudit.probe.model import ScopeError

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def prefixes(inventory: Inventory) -> list[Net]:
    """Every prefix of every segment (either family)."""
    return [net for s in inventory.segments for net in s.prefixes]


def _where(address: str, inventory: Inventory) -> tuple[Segment, Net] | None:
    best: tuple[Segment, Net] | None = None
    for s in inventory.segments:
        net = s.prefix_of(address)
        if net is not None and (best is None or net.prefixlen > best[1].prefixlen):
            best = (s, net)
    return best


def segment_of(address: str, inventory: Inventory) -> str | None:
    """The inventory segment with a prefix holding ``address`` (most specific first)."""
    found = _where(address, inventory)
    return found[0].id if found else None


def _nets(segment: Segment) -> str:
    return ", ".join(str(n) for n in segment.prefixes)


def guard(addresses: Iterable[str], inventory: Inventory, segments: Iterable[str] = ()) -> None:
    """The scope guard: refuse any address outside the inventory's segments (and, when
    ``segments`` is given, outside those segments), IPv4 or IPv6."""
    wanted = set(segments)
    for address in addresses:
        found = _where(address, inventory)
        if found is None:
            nets = "; ".join(f"{s.id} {_nets(s)}" for s in inventory.segments)
            raise ScopeError(
                f"scope guard: {address} is outside every segment of the inventory ({nets}); "
                "refusing to probe it"
            )
        seg, net = found
        if wanted and seg.id not in wanted:
            raise ScopeError(
                f"scope guard: {address} lies in segment {seg.id!r}, which is not a target of "
                f"this plan ({', '.join(sorted(wanted))}); refusing to probe it"
            )
        if (what := not_a_host(address, net)) is not None:
            raise ScopeError(
                f"scope guard: {address} is the {what} address of segment "
                f"{seg.id!r} ({net}), not a host; refusing to probe it"
            )


def check_assets(inventory: Inventory, path: str | Path) -> None:
    """Every asset address lies in one of its segment's prefixes and is a host address there
    (``load_inventory`` checks this with the line; this covers inventories built otherwise)."""
    by_id = {s.id: s for s in inventory.segments}
    for asset in inventory.assets:
        segment = by_id.get(asset.segment or "")
        if segment is None:
            continue
        for a in asset.addresses:
            net = segment.prefix_of(a)
            if net is None:
                raise InputError(
                    f"{path}: asset {asset.hostname!r}: address {a} lies outside its segment "
                    f"{asset.segment!r} ({_nets(segment)})"
                )
            if (what := not_a_host(a, net)) is not None:
                raise InputError(
                    f"{path}: asset {asset.hostname!r}: address {a} is the {what} address of "
                    f"its segment {asset.segment!r} ({net}), not a host"
                )
