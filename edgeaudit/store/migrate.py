"""Run the Alembic migrations in ``migrations/`` against a store (``edgeaudit db upgrade``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

import edgeaudit
from edgeaudit.errors import ConfigError


def migrations_dir() -> Path:
    """The ``migrations/`` directory shipped next to the package."""
    here = Path(edgeaudit.__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError("cannot find the edgeaudit migrations directory (broken installation)")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    return cfg


_PG_MIGRATION_LOCK = 0x65646765_61756469  # "edgeaudi": one advisory lock for migrations


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock before it reads anything, so that
    processes migrating the same store at once run one after the other."""
    with (
        engine.connect().execution_options(sqlite_immediate=True) as conn,
        conn.begin(),
    ):
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest); creates a missing SQLite file
    (upgrading is how a store is made)."""
    from edgeaudit.store.engine import create_sqlite_file, use_wal

    create_sqlite_file(engine.url)
    cfg = _config()
    with _locked(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    if engine.dialect.name == "sqlite":  # a new store: WAL once it has tables (engine.use_wal)
        with engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            use_wal(cur)
            cur.close()


def downgrade(engine: Engine, revision: str) -> None:
    cfg = _config()
    with _locked(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
