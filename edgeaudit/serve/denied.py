"""Refused requests on record, aggregated so that a flood cannot fill the store.

Every refused request (a bad or revoked token, forbidden, a foreign or unknown export id, a
CSRF failure, a failed sign-in, rate-limited, a foreign ``Host``) is counted under
(minute, key, reason). The key is the token id once the token's signature verified, otherwise
the client address: an unverified token id is the caller's word, and keying on it would let
one client mint unlimited keys. At most ``max_keys`` distinct keys are kept per minute; refusals
of further keys are counted in one ``overflow`` entry of that minute. A background thread
appends one ``access.denied`` entry per (minute, key, reason) with its ``count`` once the
minute has ended (and everything still held when the service stops), so a refusal costs a
dictionary update on the request path, never a store write. Counts a failed append could not
write are kept for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from edgeaudit.events import prepare

log = logging.getLogger("edgeaudit.serve")
KIND: Final = "access.denied"
MAX_KEYS: Final = 100
FLUSH_SECONDS: Final = 5.0

Append = Callable[[list[Any]], object]


def _minute_text(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Denials:
    def __init__(
        self,
        append: Append,
        *,
        max_keys: int = MAX_KEYS,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        self._append = append
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # minute -> (key kind, key, reason) -> count; minute -> keys seen; minute -> overflow
        self._counts: dict[int, dict[tuple[str, str, str], int]] = {}
        self._keys: dict[int, set[tuple[str, str]]] = {}
        self._overflow: dict[int, int] = {}
        self._stop = threading.Event()
        self._flush_seconds = flush_seconds
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="access-denied", daemon=True)
            self._thread.start()

    def add(self, key_kind: str, key: str, reason: str) -> None:
        """Count one refusal (``key_kind``: ``token`` or ``address``)."""
        minute = int(self._clock() // 60)
        k = (key_kind, key[:100])
        with self._lock:
            keys = self._keys.setdefault(minute, set())
            if k not in keys and len(keys) >= self.max_keys:
                self._overflow[minute] = self._overflow.get(minute, 0) + 1
                return
            keys.add(k)
            counts = self._counts.setdefault(minute, {})
            c = (key_kind, k[1], reason)
            counts[c] = counts.get(c, 0) + 1

    def pending(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._counts.values()) + len(self._overflow)

    def flush(self, everything: bool = False) -> int:
        """Append the entries of ended minutes (``everything``: of every minute held); returns
        how many entries were appended."""
        now_minute = int(self._clock() // 60)
        with self._lock:
            done = sorted(
                m for m in set(self._counts) | set(self._overflow) if everything or m < now_minute
            )
            taken = [(m, self._counts.pop(m, {}), self._overflow.pop(m, 0)) for m in done]
            for m in done:
                self._keys.pop(m, None)
        events: list[dict[str, Any]] = []
        for minute, counts, overflow in taken:
            when = _minute_text(minute)
            for (key_kind, key, reason), n in sorted(counts.items()):
                events.append(
                    {
                        "time": when,
                        "kind": KIND,
                        "key": key,
                        "key_kind": key_kind,
                        "reason": reason,
                        "count": n,
                        "window": "1m",
                    }
                )
            if overflow:
                events.append(
                    {
                        "time": when,
                        "kind": KIND,
                        "key": "overflow",
                        "key_kind": "overflow",
                        "reason": f"more than {self.max_keys} keys in the minute",
                        "count": overflow,
                        "window": "1m",
                    }
                )
        if events:
            entries = [prepare(e, fingerprint=f"{KIND}:{uuid.uuid4().hex}") for e in events]
            try:
                self._append(entries)
            except BaseException:
                self._put_back(taken)  # counted again at the next flush, never lost
                raise
        return len(events)

    def _put_back(self, taken: list[tuple[int, dict[tuple[str, str, str], int], int]]) -> None:
        with self._lock:
            for minute, counts, overflow in taken:
                mine = self._counts.setdefault(minute, {})
                keys = self._keys.setdefault(minute, set())
                for c, n in counts.items():
                    mine[c] = mine.get(c, 0) + n
                    keys.add((c[0], c[1]))
                if overflow:
                    self._overflow[minute] = self._overflow.get(minute, 0) + overflow

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception:  # the store is busy or gone: keep counting, try again later
                log.exception("appending access.denied entries failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush(everything=True)
        except Exception:
            log.exception("appending access.denied entries failed")
