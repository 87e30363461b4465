"""Append-only triggers, the same guarantee on SQLite and PostgreSQL.

SQLite's Alembic batch mode rebuilds a table and silently drops its triggers: every migration
touching an append-only table must call :func:`create_append_only_triggers` again;
``tests/store/test_migrations.py`` checks they exist.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from edgeaudit.store.schema import APPEND_ONLY_TABLES

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION edgeaudit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'edgeaudit: table % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END
$$
"""


def trigger_names(table: str) -> list[str]:
    return [f"{table}_append_only_update", f"{table}_append_only_delete"]


def create_append_only_triggers(conn: Connection) -> None:
    """(Re-)create the triggers that refuse UPDATE and DELETE on append-only tables."""
    drop_append_only_triggers(conn)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text(_PG_FUNCTION))
    for table in APPEND_ONLY_TABLES:
        for name, op in zip(trigger_names(table), ("UPDATE", "DELETE"), strict=True):
            if postgres:
                conn.execute(
                    text(
                        f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION edgeaudit_append_only()"
                    )
                )
            else:
                conn.execute(
                    text(
                        f"CREATE TRIGGER {name} BEFORE {op} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, 'edgeaudit: table {table} is append-only "
                        f"({op} refused)'); END"
                    )
                )
        if postgres:
            conn.execute(
                text(
                    f"CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION edgeaudit_append_only()"
                )
            )


def drop_append_only_triggers(conn: Connection) -> None:
    postgres = conn.dialect.name == "postgresql"
    for table in APPEND_ONLY_TABLES:
        names = trigger_names(table) + ([f"{table}_append_only_truncate"] if postgres else [])
        for name in names:
            on = f" ON {table}" if postgres else ""
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}{on}"))


def existing_triggers(conn: Connection) -> set[str]:
    """Names of the edgeaudit append-only triggers present in the database."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON t.tgrelid = c.oid "
                "WHERE c.relnamespace = current_schema()::regnamespace "
                "AND t.tgname LIKE '%append_only%'"
            )
        )
    else:
        rows = conn.execute(
            text(
                "SELECT name FROM sqlite_master "
                "WHERE type = 'trigger' AND name LIKE '%append_only%'"
            )
        )
    return {r[0] for r in rows}
