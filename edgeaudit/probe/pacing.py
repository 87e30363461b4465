"""Token buckets of the engine: the run's packet rate (``rate``, packets per second) and, when
a plan asks for it (``udp_pace``), the UDP datagrams sent to each address.

A host limits the ICMP errors it sends to one destination (Linux: one per second after a burst
of six, ``net.ipv4.icmp_ratelimit``/``net.ipv6.icmp.ratelimit``): UDP probes sent back to back
to many closed ports of one host draw port-unreachable answers for the first few only, and the
others look silent (open|filtered, inconclusive). Pacing the datagrams to each address under
the host's own budget lets every closed port answer, at the price of time: after the burst, one
datagram per ``udp_pace`` seconds per address (addresses are paced independently).
"""

from __future__ import annotations

import time


class Bucket:
    """The run's rate cap: ``rate`` packets per second, bursts of a fiftieth of a second."""

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, rate / 50)
        self.tokens = self.burst
        self.last = time.monotonic()

    def wait(self) -> float:
        """0 when a packet may go now (and take a token), else the seconds to wait."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Pace:
    """Per-address buckets of UDP datagrams: ``burst`` at once, then one per ``pace`` seconds."""

    def __init__(self, pace: float, burst: int) -> None:
        self.pace, self.burst = pace, float(burst)
        self.tokens: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self.tokens.get(address, (self.burst, now))
        return min(self.burst, tokens + (now - at) / self.pace)

    def wait(self, address: str, n: int, now: float) -> float:
        """Seconds until ``address`` may take ``n`` datagrams (a request of more datagrams
        than the burst goes once the bucket is full)."""
        return max(0.0, (min(n, self.burst) - self._tokens(address, now)) * self.pace)

    def take(self, address: str, n: int, now: float) -> bool:
        """Spend ``n`` datagrams of ``address``'s budget if it has them."""
        tokens = self._tokens(address, now)
        if tokens < min(n, self.burst):
            return False
        self.tokens[address] = (tokens - n, now)
        return True
