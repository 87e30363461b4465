"""The store layer on a damaged, missing or empty database: the errors it raises, what it
never creates, and the page check before the first write."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from edgeaudit.errors import ConfigError, StoreError
from edgeaudit.store import (
    Store,
    StoreDamagedError,
    StoreEmptyError,
    StoreMissingError,
    health,
)
from edgeaudit.store.engine import open_engine
from tests.store.helpers import ORIGIN, evs


def _store_with_entries(path: Path, n: int = 40) -> None:
    with Store.open(f"sqlite:///{path}", upgrade=True) as store:
        store.log(ORIGIN, create=True).append(evs(0, n))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _noise(path: Path, table: str) -> None:
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    with path.open("r+b") as fh:
        fh.seek(page_size * (page - 1))
        fh.write(random.Random(1).randbytes(page_size))


def test_a_missing_file_is_never_created_by_opening(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    with pytest.raises(StoreMissingError, match=f"store missing: {db}: the file does not exist"):
        Store.open(url)
    assert not db.exists()
    engine = open_engine(url)  # connecting directly does not create it either
    try:
        with pytest.raises(StoreMissingError), engine.connect():
            pass
    finally:
        engine.dispose()
    assert not db.exists()
    Store.open(url, upgrade=True).close()  # creating a store does
    assert db.exists()


def test_missing_and_empty_are_config_and_store_errors(tmp_path: Path) -> None:
    """Both families catch them (exit 2), and the store-level advice names both ways on."""
    db = tmp_path / "store.db"
    with pytest.raises(ConfigError) as missing:
        Store.open(f"sqlite:///{db}")
    assert isinstance(missing.value, StoreError)
    assert "edgeaudit restore BACKUP" in str(missing.value)
    sqlite3.connect(db).close()  # an empty database
    with pytest.raises(StoreEmptyError, match="holds no edgeaudit tables") as empty:
        Store.open(f"sqlite:///{db}")
    assert isinstance(empty.value, ConfigError)
    assert db.stat().st_size == 0  # opening it wrote nothing into it


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_a_truncated_file_is_damaged_at_open(tmp_path: Path, cut: float) -> None:
    db = tmp_path / "store.db"
    _store_with_entries(db, 400)
    os.truncate(db, int(db.stat().st_size * cut) // 4096 * 4096 or 100)
    with pytest.raises(StoreDamagedError) as info, Store.open(f"sqlite:///{db}") as store:
        store.log(ORIGIN).counts()
    assert info.value.location == str(db)
    assert "malformed" in info.value.detail


def test_damaged_pages_are_found_by_reads_of_every_kind(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _store_with_entries(db)
    _noise(db, "entries")
    with Store.open(f"sqlite:///{db}") as store:
        log = store.log(ORIGIN)
        with pytest.raises(StoreDamagedError, match="malformed"):
            log.counts()  # SQLAlchemy Core
        with pytest.raises(StoreDamagedError, match="malformed"), log.reader() as reader:
            list(reader.iter_entries())  # the driver-level stream
        with pytest.raises(StoreDamagedError, match="malformed"), log.reader() as reader:
            reader.entry(3)


def test_no_write_into_damaged_pages(tmp_path: Path, signer: object) -> None:
    db = tmp_path / "store.db"
    _store_with_entries(db)
    _noise(db, "sqlite_autoindex_entries_2")  # an index page: reads of the table still work
    before = db.read_bytes()
    with Store.open(f"sqlite:///{db}") as store:
        log = store.log(ORIGIN)
        assert log.size == 40
        with pytest.raises(StoreDamagedError, match="quick_check"):
            log.append(evs(100, 5))
        with pytest.raises(StoreDamagedError, match="quick_check"):
            log.sign_checkpoint(signer)  # type: ignore[arg-type]
    assert db.read_bytes() == before


def test_the_page_check_runs_once_per_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = health.quick_check
    monkeypatch.setattr(health, "quick_check", lambda e: calls.append(e) or real(e))
    db = tmp_path / "store.db"
    with Store.open(f"sqlite:///{db}", upgrade=True) as store:
        log = store.log(ORIGIN, create=True)
        for i in range(5):
            log.append(evs(i * 10, 10))
        assert len(calls) == 1
    with Store.open(f"sqlite:///{db}") as store:  # another engine: checked again
        store.log(ORIGIN).append(evs(100, 1))
    assert len(calls) == 2


def test_check_pages_on_a_sound_store(store: Store) -> None:
    store.log(ORIGIN, create=True).append(evs(0, 20))
    store.check_pages()  # SQLite: quick_check says ok; PostgreSQL: nothing to do


class _PgError(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "damaged"),
    [("XX001", True), ("XX002", True), ("58P01", True), ("40001", False), ("23505", False)],
)
def test_postgres_damage_is_recognized_by_sqlstate(sqlstate: str, damaged: bool) -> None:
    exc = _PgError(sqlstate, "invalid page in block 7 of relation base/16384/16402")
    assert health.is_damage(exc) is damaged


def test_postgres_missing_database_is_recognized() -> None:
    exc = _PgError("", 'connection failed: FATAL:  database "gone" does not exist')
    assert health.is_missing(exc, "postgresql://u@h/gone")


@pytest.mark.postgres
def test_postgres_missing_database(pg_server: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_server).set(database="edgeaudit_no_such_db").render_as_string(False)
    with pytest.raises(StoreMissingError, match="store missing: postgresql://") as info:
        Store.open(url)
    assert "does not exist" in str(info.value)
