"""Shared helpers for the benchmarks: synthetic events and timing."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator

KINDS = ("auth.logon", "priv.switch", "key.use", "grant.approve", "physical.access")
TENANTS = ("fintech-a", "media-b", "ai-c", None)


def event(i: int) -> dict[str, object]:
    """A 12-field event shaped like a normalized syslog logon (about 300 bytes canonical)."""
    s = 1_700_000_000 + i // 10
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s)),
        "kind": KINDS[i % 5],
        "tenant": TENANTS[i % 4],
        "source": "syslog:fa-web-01",
        "actor": {"principal": f"user{i % 97}", "session": f"s{i}"},
        "host": f"host-{i % 31:02d}",
        "outcome": "success",
        "src_ip": f"10.{i % 256}.{(i >> 8) % 256}.{(i >> 16) % 256}",
        "port": 40000 + i % 20000,
        "pid": 1000 + i % 50000,
        "method": "publickey",
        "raw_sha256": f"{i:064x}",
    }


def events(start: int, count: int) -> Iterator[dict[str, object]]:
    for i in range(start, start + count):
        yield event(i)


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
