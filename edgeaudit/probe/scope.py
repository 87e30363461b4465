"""The scope guard and address checks: which segment an address belongs to, refusing targets
outside the inventory's segments or outside a plan's targets, and addresses that are not hosts
(a prefix's network address; an IPv4 prefix's broadcast address)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError
from edgeaudit.probe.model import ScopeError


def segment_of(address: str, inventory: Inventory) -> str | None:
    """The inventory segment whose network holds ``address`` (most specific first)."""
    ip = ipaddress.ip_address(address)
    best: tuple[int, str] | None = None
    for s in inventory.segments:
        inside = ip.version == s.cidr.version and ip in s.cidr
        if inside and (best is None or s.cidr.prefixlen > best[0]):
            best = (s.cidr.prefixlen, s.id)
    return best[1] if best else None


def guard(addresses: Iterable[str], inventory: Inventory, segments: Iterable[str] = ()) -> None:
    """The scope guard: refuse any address outside the inventory's segments (and, when
    ``segments`` is given, outside those segments)."""
    wanted = set(segments)
    for address in addresses:
        seg = segment_of(address, inventory)
        if seg is None:
            nets = ", ".join(f"{s.id} {s.cidr}" for s in inventory.segments)
            raise ScopeError(
                f"scope guard: {address} is outside every segment of the inventory ({nets}); "
                "refusing to probe it"
            )
        if wanted and seg not in wanted:
            raise ScopeError(
                f"scope guard: {address} lies in segment {seg!r}, which is not a target of "
                f"this plan ({', '.join(sorted(wanted))}); refusing to probe it"
            )
        net = next(s.cidr for s in inventory.segments if s.id == seg)
        if not_a_host(address, net):
            raise ScopeError(
                f"scope guard: {address} is the {not_a_host(address, net)} address of segment "
                f"{seg!r} ({net}), not a host; refusing to probe it"
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


def check_assets(inventory: Inventory, path: str | Path) -> None:
    """Every asset address lies in its segment's network and is a host address there."""
    nets = {s.id: s.cidr for s in inventory.segments}
    for asset in inventory.assets:
        net = nets.get(asset.segment or "")
        if net is None:
            continue
        for a in asset.addresses:
            ip = ipaddress.ip_address(a)
            if ip.version != net.version or ip not in net:
                raise InputError(
                    f"{path}: asset {asset.hostname!r}: address {a} lies outside its segment "
                    f"{asset.segment!r} ({net})"
                )
            if (what := not_a_host(a, net)) is not None:
                raise InputError(
                    f"{path}: asset {asset.hostname!r}: address {a} is the {what} address of "
                    f"its segment {asset.segment!r} ({net}), not a host"
                )
