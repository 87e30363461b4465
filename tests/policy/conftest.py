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
    return copy_policies(tmp_path / "policies")
