"""The values the engine needs: one probe, and the scope guard's error. Kept apart from the
plan loader so the engine imports nothing heavy (it starts inside the vantage namespace)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeaudit.errors import InputError


class ScopeError(InputError):
    """A probe target lies outside every segment of the inventory."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One (target address, protocol, port) with what the matrix expects."""

    address: str
    protocol: str  # tcp / udp / icmp / arp
    port: int | None
    segment: str
    asset: str | None
    owner: str | None
    expected: str  # allow / deny
    payloads: tuple[str, ...] = ()  # UDP: the service requests sent per try (payloads.py)

    @property
    def control(self) -> bool:
        """A positive control: an allowed probe whose answer is decisive (UDP silence is not)."""
        return self.expected == "allow" and self.protocol in ("tcp", "icmp")
