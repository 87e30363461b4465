"""A per-key token bucket (per API token id, or per client for sign-in attempts)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> float | None:
        """None when allowed; else the seconds to wait before the next request is allowed."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle buckets
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return None
