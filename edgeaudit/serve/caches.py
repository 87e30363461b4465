"""What the service reuses between requests: the policies and the inventory's tenants
(re-read when their files change) and computed values such as assessments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.policy.files import Policies, load_policies

log = logging.getLogger("edgeaudit.serve")
FAILURE_SECONDS = 60.0  # at most this long a failed computation is answered from memory


class PolicyCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int], ...] = ()
        self._policies: Policies | None = None

    def _files_stamp(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (p.name, p.stat().st_mtime_ns) for p in sorted(self.root.rglob("*")) if p.is_file()
        )

    def get(self) -> Policies:
        stamp = self._files_stamp()
        with self._lock:
            if self._policies is None or stamp != self._stamp:
                try:
                    self._policies = load_policies(self.root)
                except EdgeauditError as exc:  # the operator's files, not the caller's input
                    raise ConfigError(str(exc)) from None
                self._stamp = stamp
            return self._policies


class TenantCache:
    """The inventory's tenant ids, re-read when ``inventory.yaml`` changes (token checks use
    the inventory alone, so removing a tenant there revokes its tokens at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._tenants: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        from edgeaudit.collect.inventory import load_inventory

        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._tenants = (
                        load_inventory(self.path).tenant_ids if stamp is not None else frozenset()
                    )
                except EdgeauditError as exc:
                    raise ConfigError(str(exc)) from None
                self._stamp = stamp
            return self._tenants


class Cache:
    """Values reused for ``seconds``, and failures remembered (a period the engine failed on
    is not re-evaluated by every request for it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._computing: dict[tuple[Any, ...], threading.Event] = {}
        self._failed: dict[tuple[Any, ...], tuple[float, Exception]] = {}

    def failure(self, key: tuple[Any, ...]) -> Exception | None:
        """The failure remembered for ``key``, while it is recent."""
        with self._lock:
            hit = self._failed.get(key)
        if hit is None or time.monotonic() - hit[0] >= min(FAILURE_SECONDS, self.seconds):
            return None
        return hit[1]

    def failed(self, key: tuple[Any, ...], exc: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            self._failed = {k: v for k, v in self._failed.items() if now - v[0] < 3600}
            self._failed[key] = (now, exc)

    def get(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, reused for ``cache_seconds`` (assessments, the dashboard's probe map).

        Once a value exists, an expired one is still returned at once while a background thread
        computes its successor (an assessment of a large store takes seconds: pages must not
        wait for it). Concurrent misses of one key wait for a single computation. With
        ``cache_seconds`` 0 every call computes afresh."""
        if self.seconds <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            running = self._computing.get(key)
            if hit is None and running is None:  # a miss: claimed while no other can see it
                self._computing[key] = threading.Event()
            elif hit is not None and now - hit[0] >= self.seconds and not running:
                self._computing[key] = threading.Event()
                threading.Thread(
                    target=self._refresh, args=(key, compute), name="edgeaudit-refresh", daemon=True
                ).start()
        if hit is not None:
            return hit[1]
        if running is not None:
            running.wait()
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit[1]
        return self._refresh(key, compute, claim=True)

    def _refresh(
        self, key: tuple[Any, ...], compute: Callable[[], Any], claim: bool = False
    ) -> Any:
        if claim:
            with self._lock:
                self._computing.setdefault(key, threading.Event())
        try:
            value = compute()
            now = time.monotonic()
            with self._lock:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < 3600}
                self._cache[key] = (now, value)
            return value
        except Exception:
            if not claim:  # a background refresh: keep serving the previous value
                log.exception("refreshing %s failed", key[0])
                return None
            raise
        finally:
            with self._lock:
                done = self._computing.pop(key, None)
            if done is not None:
                done.set()
