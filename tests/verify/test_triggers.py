"""The append-only triggers: the first line of defence, before verification has to catch it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edgeaudit.store import Store
from edgeaudit.store.triggers import existing_triggers
from tests.verify import tamper as t

STATEMENTS = {
    "update-entry-body": "UPDATE entries SET body = body || body WHERE idx = 3",
    "update-entry-noop": "UPDATE entries SET idx = idx WHERE idx = 3",
    "delete-entry": "DELETE FROM entries WHERE idx = 39",
    "delete-all-entries": "DELETE FROM entries",  # SQLite's truncate optimization must not apply
    "update-checkpoint": "UPDATE checkpoints SET note = 'forged' WHERE tree_size = 10",
    "delete-checkpoint": "DELETE FROM checkpoints WHERE tree_size = 40",
    "delete-all-checkpoints": "DELETE FROM checkpoints",
}


def test_append_only_triggers_refuse(store: Store, signer) -> None:
    """UPDATE and DELETE on entries and checkpoints raise, and nothing changes."""
    built = t.build_log(store, signer)
    before = {name: t.read_table(store, name) for name in ("entries", "checkpoints")}

    for name, statement in STATEMENTS.items():
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
        after = {table: t.read_table(store, table) for table in before}
        assert after == before, name

    assert t.verify(built.log, signer).ok


def test_truncate_refused_on_postgresql(pg_url: str, signer) -> None:
    with Store.open(pg_url, upgrade=True) as store:
        built = t.build_log(store, signer)
        for table in ("entries", "checkpoints"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
        assert t.read_entries(store, built.log.log_id) == built.rows
        assert t.verify(built.log, signer).ok


def test_attacker_helper_restores_triggers(store: Store) -> None:
    """The tamper tests' attacker drops the triggers and puts them back, like a careful one."""
    with store.engine.connect() as conn:
        before = existing_triggers(conn)
    assert before
    with t.attacker(store) as conn:
        assert existing_triggers(conn) == set()
    with store.engine.connect() as conn:
        assert existing_triggers(conn) == before
