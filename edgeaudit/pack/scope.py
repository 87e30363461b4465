"""Which entries a pack holds, and what a tenant may see of them.

A site pack holds every entry of the period in full. A tenant pack for T holds the entries whose
``scope`` includes T (plus any entry a finding of T cites). An entry is shown in full only when
its scope is exactly ``[T]`` and its bytes name nothing of another tenant in the inventory
(tenant ids and names, segments and addresses in their networks, assets, principals and their
identities, keys and their identities, AWS accounts of their ARNs). Every other entry appears as
index + leaf hash + a redacted view (time, kind, outcome, scope with neutral labels): still
proven against the site checkpoint, but without its bytes. See docs/pack-format.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from edgeaudit.collect.inventory import Inventory

_IPV4: Final = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
# IPv6 candidates (validated by ipaddress): hex groups with at least two colons, maybe ending
# in a dotted IPv4; times (10:00:00) and MAC addresses match the shape but do not validate
_IPV6: Final = re.compile(
    r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})"
    r"(?![0-9A-Fa-f:])"
)
_ARN_ACCOUNT: Final = re.compile(r"^arn:aws[\w-]*:[\w-]*:[\w-]*:(\d{12}):")


def entry_scope(entry: Mapping[str, Any]) -> list[str]:
    """The tenants an entry is scoped to: its ``scope`` list, else its ``tenant``, else []."""
    scope = entry.get("scope")
    if isinstance(scope, list):
        return [s for s in scope if isinstance(s, str)]
    tenant = entry.get("tenant")
    return [tenant] if isinstance(tenant, str) else []


@dataclass(frozen=True)
class TenantView:
    """What tenant ``tenant`` may see; ``None`` tenant means the site (operator) view."""

    tenant: str | None
    labels: Mapping[str, str] = field(default_factory=dict)  # other tenant id -> "tenant-N"
    identifiers: tuple[tuple[str, str], ...] = ()  # (other tenants' identifier, neutral label)
    networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def site(cls) -> TenantView:
        return cls(None)

    @classmethod
    def for_tenant(cls, inventory: Inventory, tenant: str) -> TenantView:
        ids = [t.id for t in inventory.tenants]
        if tenant not in ids:
            from edgeaudit.errors import InputError

            raise InputError(
                f"--tenant {tenant!r} is not a tenant of the inventory (tenants: {', '.join(ids)})"
            )
        labels = {t.id: f"tenant-{i}" for i, t in enumerate(inventory.tenants, 1) if t.id != tenant}
        found: dict[str, str] = {}

        def add(text: str, label: str) -> None:
            if text and len(text) >= 3 and text not in found:
                found[text] = label
            m = _ARN_ACCOUNT.match(text)
            if m:
                found.setdefault(m.group(1), f"{label.split()[0]} account")

        for t in inventory.tenants:
            if t.id in labels:
                add(t.id, labels[t.id])
                add(t.name, labels[t.id])
        networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for s in inventory.segments:
            if s.owner in labels:
                add(s.id, f"{labels[s.owner]} segment")
                # every prefix: a dual-stack segment's IPv6 addresses are redacted as well
                networks.extend((net, f"{labels[s.owner]} address") for net in s.prefixes)
        for a in inventory.assets:
            if a.owner in labels:
                add(a.hostname, f"{labels[a.owner]} asset")
                for addr in a.addresses:
                    add(addr, f"{labels[a.owner]} address")
        for p in inventory.principals:
            if p.tenant in labels:
                add(p.id, f"{labels[p.tenant]} principal")
                for _, ident in p.identities:
                    add(ident, f"{labels[p.tenant]} principal")
        for k in inventory.keys:
            if k.tenant in labels:
                add(k.id, f"{labels[k.tenant]} key")
                for ident in k.identities:
                    add(ident, f"{labels[k.tenant]} key")
        ordered = tuple(sorted(found.items(), key=lambda kv: (-len(kv[0]), kv[0])))
        pattern = re.compile("|".join(re.escape(k) for k, _ in ordered)) if ordered else None
        return cls(tenant, labels, ordered, tuple(networks), pattern)

    # -- entries -------------------------------------------------------------------------

    def wants(self, scope: list[str]) -> bool:
        return self.tenant is None or self.tenant in scope

    def names_other_tenant(self, text: str) -> bool:
        if self.tenant is None:
            return False
        if self._pattern is not None and self._pattern.search(text):
            return True
        return any(self._address_label(m) for m in _IPV4.findall(text)) or any(
            self._address_label(m.group(0)) for m in _IPV6.finditer(text)
        )

    def _address_label(self, text: str) -> str | None:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return None
        for net, label in self.networks:
            if addr in net:
                return label
        return None

    def full(self, scope: list[str], text: str) -> bool:
        """Whether an entry may appear with its bytes in this view."""
        if self.tenant is None:
            return True
        return scope == [self.tenant] and not self.names_other_tenant(text)

    def label_scope(self, scope: list[str]) -> list[str]:
        return [s if s == self.tenant else self.labels.get(s, "other-tenant") for s in scope]

    def redacted(self, entry: Mapping[str, Any], scope: list[str]) -> dict[str, Any]:
        view: dict[str, Any] = {
            "kind": entry.get("kind"),
            "scope": self.label_scope(scope),
            "time": entry.get("time"),
        }
        if isinstance(entry.get("outcome"), str):
            view["outcome"] = entry["outcome"]
        return view

    # -- findings and report text -------------------------------------------------------

    def redact_text(self, text: str) -> str:
        if self.tenant is None:
            return text
        table = dict(self.identifiers)
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: table[m.group(0)], text)
        text = _IPV4.sub(lambda m: self._address_label(m.group(0)) or m.group(0), text)
        return _IPV6.sub(lambda m: self._address_label(m.group(0)) or m.group(0), text)

    def redact_value(self, value: Any) -> Any:
        """Every string inside a JSON value, redacted (keys too)."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, dict):
            return {self.redact_text(k): self.redact_value(v) for k, v in value.items()}
        return value
