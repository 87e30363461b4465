"""Shared pieces of the campus generator: output files with counters, clocks, ids, ordering.

Everything here is deterministic: randomness only from the ``random.Random`` passed in, times
only from the quarter's start.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
Action = tuple[Any, ...]  # (name, fields...): one thing that happened on a host
Timed = tuple[float, int, Action]  # (epoch seconds, tie-breaker, action)


class Sink:
    """One output file, written line by line, with the counts the manifest reports."""

    def __init__(self, root: Path, rel: str, kind: str, **collect: Any) -> None:
        self.rel, self.kind, self.collect = rel, kind, collect
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.records = self.events = self.malformed = self.forged = 0

    def line(self, text: str, events: int = 0) -> None:
        self._fh.write(text + "\n")
        self.records += 1
        self.events += events

    def bad(self, text: str) -> None:
        """A planted malformed line: the parser must quarantine it."""
        self.line(text)
        self.malformed += 1

    def close(self) -> dict[str, Any]:
        self._fh.close()
        return entry(
            self.rel,
            self.kind,
            self.records,
            self.events,
            self.malformed,
            self.forged,
            **self.collect,
        )


def entry(
    rel: str,
    kind: str,
    records: int,
    events: int,
    malformed: int = 0,
    forged: int = 0,
    *,
    timezone: str | None = None,
    year: int | None = None,
    source: str | None = None,
    options: dict[str, str] | None = None,
    card_key_env: str | None = None,
    note: str | None = None,
    vantage: str | None = None,
) -> dict[str, Any]:
    """A manifest entry; ``args`` is what follows ``edgeaudit collect KIND PATH``."""
    args: list[str] = []
    if vantage:
        args += ["--vantage", vantage]
    if timezone:
        args += ["--timezone", timezone]
    if year:
        args += ["--year", str(year)]
    if source:
        args += ["--source", source]
    for k, v in (options or {}).items():
        args += ["--option", f"{k}={v}"]
    out: dict[str, Any] = {
        "path": rel,
        "kind": kind,
        "args": args,
        "options": options or {},
        "timezone": timezone,
        "year": year,
        "source": source,
        "card_key_env": card_key_env,
        "records": records,
        "events": events,
        "malformed": malformed,
        "forged": forged,
        "quarantined": malformed + forged,
    }
    if vantage:
        out["vantage"] = vantage
    if note:
        out["note"] = note
    return out


class Clock:
    """UTC and site-local renderings of epoch seconds (offsets cached per hour)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._offsets: dict[int, int] = {}

    def local(self, t: float) -> time.struct_time:
        hour = int(t) // 3600
        off = self._offsets.get(hour)
        if off is None:
            delta = datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
            off = self._offsets[hour] = int(delta.total_seconds()) if delta else 0
        return time.gmtime(int(t) + off)

    def rfc3164(self, t: float) -> str:
        g = self.local(t)
        return (
            f"{MONTHS[g.tm_mon - 1]} {g.tm_mday:>2} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}"
        )

    def local_text(self, t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", self.local(t))


def iso(t: float, digits: int = 0) -> str:
    """RFC 3339 UTC with ``digits`` fractional digits."""
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t)))
    if digits:
        frac = round((t - int(t)) * 10**digits)
        frac = min(frac, 10**digits - 1)
        return f"{base}.{frac:0{digits}d}Z"
    return base + "Z"


def uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def hexid(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def b64ish(rng: random.Random, n: int = 43) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(alphabet[rng.getrandbits(6)] for _ in range(n))


def ordered(episodes: Iterable[list[tuple[float, Action]]]) -> Iterator[Timed]:
    """Actions of episodes (each starting no earlier than the one before) in time order.

    Episodes may overlap (an admin session spans many scanner probes); only actions not yet
    due are kept, so memory stays bounded by the overlap."""
    heap: list[Timed] = []
    seq = itertools.count()
    for episode in episodes:
        if not episode:
            continue
        start = episode[0][0]
        while heap and heap[0][0] <= start:
            yield heapq.heappop(heap)
        for t, action in episode:
            heapq.heappush(heap, (t, next(seq), action))
    while heap:
        yield heapq.heappop(heap)


def merge(*streams: Iterator[Timed]) -> Iterator[Timed]:
    return heapq.merge(*streams, key=lambda x: (x[0], x[1]))
