"""Workspace fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import Cli, make_workspace


@pytest.fixture
def cli(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    """A workspace on SQLite and on PostgreSQL."""
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", db_url)


@pytest.fixture
def lite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """A workspace on SQLite only: for checks that happen before the store is opened."""
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")
