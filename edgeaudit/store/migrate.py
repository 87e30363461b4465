"""Run the Alembic migrations in ``migrations/`` against a store (``edgeaudit db upgrade``).

Opening a store only compares its revision with :data:`HEAD`, read with one query: Alembic (and
the migration scripts) are imported only to migrate, which keeps every other command's start-up
light. A test holds :data:`HEAD` to the newest script in ``migrations/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, Engine, inspect, text

import edgeaudit
from edgeaudit.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

HEAD: Final = "0005"
"""The newest migration's revision (``migrations/versions``)."""


def migrations_dir() -> Path:
    """The ``migrations/`` directory shipped next to the package."""
    here = Path(edgeaudit.__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError("cannot find the edgeaudit migrations directory (broken installation)")


def _config() -> Config:
    from alembic.config import Config

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
    from alembic import command

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
    from alembic import command

    cfg = _config()
    with _locked(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision (Alembic's ``alembic_version`` row), None without one."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = sorted(
            str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
    if len(found) > 1:
        raise ConfigError(f"the store records several schema revisions ({', '.join(found)})")
    return found[0] if found else None


def head_revision() -> str:
    return HEAD


def scripts_head() -> str | None:
    """The newest revision of the scripts in ``migrations/`` (read by Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()
