"""Placeholder."""

from __future__ import annotations

from typing import Any


def add_pages(app: Any, service: Any, **_: Any) -> None:
    return None
