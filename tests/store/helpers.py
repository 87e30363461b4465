"""Builders shared by the store tests."""

from __future__ import annotations

from edgeaudit.events import PreparedEntry, prepare

ORIGIN = "audit.example.net/test-log"


def ev(i: int, **extra: object) -> PreparedEntry:
    return prepare(
        {"time": f"2026-11-20T08:{i // 60 % 60:02d}:{i % 60:02d}Z", "kind": "a.b", "n": i, **extra}
    )


def evs(start: int, count: int) -> list[PreparedEntry]:
    return [ev(i) for i in range(start, start + count)]
