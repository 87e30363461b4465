"""Database engines for the evidence store: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``. Python's sqlite3 module would open
transactions lazily and on its own; we switch that off and emit ``BEGIN`` ourselves, so a
writer can take the database write lock up front with ``BEGIN IMMEDIATE`` (execution option
``sqlite_immediate=True``). Concurrent appenders then queue on the lock instead of failing.
PostgreSQL writers serialize on ``SELECT ... FOR UPDATE`` of their log's row.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from edgeaudit.errors import ConfigError

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
    """Create an engine configured for the evidence store."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "PostgreSQL support needs psycopg: pip install 'edgeaudit[postgres]'"
        ) from exc


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    assert database is not None
    parent = Path(database).parent
    if not parent.is_dir():
        raise ConfigError(f"directory {parent} for the SQLite store does not exist")
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, see module docstring
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
