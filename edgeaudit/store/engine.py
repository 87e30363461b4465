"""Database engines for the evidence store: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``. Python's sqlite3 module would open
transactions lazily and on its own; we switch that off and emit ``BEGIN`` ourselves, so a
writer can take the database write lock up front with ``BEGIN IMMEDIATE`` (execution option
``sqlite_immediate=True``). Concurrent appenders then queue on the lock instead of failing.
PostgreSQL writers serialize on ``SELECT ... FOR UPDATE`` of their log's row.

Connections open the SQLite file with SQLite's ``mode=rw``: connecting never creates a missing
file, so no command re-creates a lost store as an empty one. Only creating a store does
(:func:`create_sqlite_file`, called by ``Store.open(upgrade=True)`` and ``migrate.upgrade``).
Errors that say the store is damaged or missing are translated on every engine
(:mod:`edgeaudit.store.health`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from edgeaudit.errors import ConfigError
from edgeaudit.store import health

SQLITE_BUSY_TIMEOUT_MS = 120_000


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``sqlite:///`` URLs; pick the drivers edgeaudit supports."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {redact(url)!r} is not valid: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("SQLite stores need a file path, e.g. sqlite:///evidence/store.db")
        return parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    raise ConfigError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://...")


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def open_engine(url: str) -> Engine:
    """Create an engine configured for the evidence store. Connecting never creates a missing
    SQLite file (see :func:`create_sqlite_file`)."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                "PostgreSQL support needs psycopg: pip install 'edgeaudit[postgres]'"
            ) from exc
    health.install(engine)
    return engine


def create_sqlite_file(url: str | URL) -> None:
    """Create the (empty) SQLite file of ``url`` if it does not exist; nothing for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    path = Path(parsed.database)
    if not path.exists() and path.parent.is_dir():
        sqlite3.connect(path).close()  # creates the file as SQLite always did


def use_wal(cur: sqlite3.Cursor) -> None:
    """Switch the database to WAL mode (persistent in the file), unless it is already, or has
    no schema at all: a new or empty database put in the store's place is not written to by
    merely opening it. :func:`edgeaudit.store.migrate.upgrade` switches it once it has tables
    (other open connections follow on their next transaction)."""
    if cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    if cur.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
        return
    cur.execute("PRAGMA journal_mode=WAL")


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    assert database is not None
    path = Path(database).absolute()
    if not path.parent.is_dir():
        raise ConfigError(f"directory {path.parent} for the SQLite store does not exist")
    # SQLite URI filename: mode=rw fails on a missing file instead of creating an empty one
    target = f"file:{quote(str(path))}?mode=rw"

    def _connect() -> sqlite3.Connection:
        return sqlite3.connect(
            target, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )

    engine = create_engine(url, creator=_connect)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, see module docstring
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        use_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
