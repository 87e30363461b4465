"""The values the engine needs: one probe, one answer, and the scope guard's error. Kept apart
from the plan loader so the engine imports nothing heavy (it starts inside the vantage
namespace)."""

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


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer to a probe, as the engine matched it."""

    kind: str  # syn-ack / rst / icmp / udp / echo / arp
    reporter: str  # the address that answered
    ttl: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    mac: str | None = None
    detail: str | None = None  # UDP: what answered (payloads.describe)
