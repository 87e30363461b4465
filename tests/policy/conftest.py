"""Fixtures of the policy tests: a SQLite evidence log and a private copy of ``policies/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeaudit.store import Store
from tests.policy.helpers import ORIGIN, Evidence, copy_policies


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path}/store.db", upgrade=True) as s:
        yield s


@pytest.fixture
def ev(sqlite_store: Store) -> Evidence:
    return Evidence(sqlite_store.log(ORIGIN, create=True))


@pytest.fixture
def pol(tmp_path: Path) -> Path:
    """A private copy of ``policies/`` without the demo's waivers (tests that need waivers
    write their own), so a demo waiver never changes what a check test expects."""
    root = copy_policies(tmp_path / "policies")
    (root / "waivers.yaml").write_text("version: 1\nwaivers: []\n", encoding="utf-8")
    return root
