"""The Alembic migrations build the same schema on SQLite and PostgreSQL, triggers included."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from edgeaudit.errors import ConfigError
from edgeaudit.store import Store, migrate
from edgeaudit.store.engine import open_engine
from edgeaudit.store.triggers import existing_triggers, trigger_names
from tests.store.helpers import ORIGIN, evs

EXPECTED_TRIGGERS = {n for t in ("entries", "checkpoints") for n in trigger_names(t)}


def test_upgrade_creates_schema_and_triggers(store: Store) -> None:
    assert set(store.table_names()) >= {"logs", "entries", "tiles", "checkpoints"}
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    with store.engine.connect() as conn:
        assert existing_triggers(conn) >= EXPECTED_TRIGGERS
    cols = {c["name"]: c for c in inspect(store.engine).get_columns("entries")}
    assert {"idx", "leaf_hash", "chain_hash", "fp_key", "body"} <= set(cols)
    uniques = inspect(store.engine).get_unique_constraints("entries")
    assert any(u["column_names"] == ["log_id", "fp_key"] for u in uniques)


def test_upgrade_is_idempotent_and_downgrade_roundtrips(db_url: str) -> None:
    engine = open_engine(db_url)
    try:
        migrate.upgrade(engine)
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert "entries" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert existing_triggers(conn) >= EXPECTED_TRIGGERS
    finally:
        engine.dispose()


def test_open_without_upgrade_refuses_an_unmigrated_store(db_url: str) -> None:
    with pytest.raises(ConfigError, match="db upgrade"):
        Store.open(db_url)


@pytest.mark.parametrize("table", ["entries", "checkpoints"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET log_id = log_id", "DELETE FROM {t}"])
def test_append_only_tables_refuse_update_and_delete(
    store: Store, signer, table: str, statement: str
) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 5))
    log.sign_checkpoint(signer)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement.format(t=table)))
    assert log.size == 5
    assert len(log.checkpoints()) == 1


@pytest.mark.postgres
def test_truncate_is_refused_on_postgres(pg_url: str) -> None:
    with Store.open(pg_url, upgrade=True) as store:
        log = store.log(ORIGIN, create=True)
        log.append(evs(0, 3))
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text("TRUNCATE entries CASCADE"))
        assert log.size == 3


def test_head_is_the_newest_migration_script() -> None:
    assert migrate.scripts_head() == migrate.HEAD


def test_opening_a_store_does_not_import_alembic(store: Store) -> None:
    """Only migrating needs Alembic: every other command starts without it (start-up time)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from edgeaudit.store import Store\n"
        f"s = Store.open({store.engine.url.render_as_string(hide_password=False)!r})\n"
        "print(sorted(s.origins()) is not None, 'alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
