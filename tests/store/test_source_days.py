"""Per-source daily summaries: kept by every append, backfilled by the migration, read at a
snapshot size; on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from edgeaudit.events import prepare
from edgeaudit.store import Store, migrate, summaries
from edgeaudit.store.engine import open_engine
from tests.store.helpers import ORIGIN


def entry(time: str, source: str | None, n: int) -> object:
    rec: dict[str, object] = {"time": time, "kind": "a.b", "n": n}
    if source is not None:
        rec["source"] = source
    return prepare(rec)


def test_appends_keep_the_summaries(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(
        [
            entry("2026-11-20T08:00:00Z", "syslog", 0),
            entry("2026-11-20T23:59:59.5Z", "syslog", 1),
            entry("2026-11-21T00:00:00Z", "syslog", 2),
            entry("2026-11-20T12:00:00Z", None, 3),  # no source: not summarized
        ]
    )
    log.append(
        [entry("2026-11-20T06:00:00Z", "syslog", 4), entry("2026-11-20T07:00:00Z", "vault", 5)]
    )
    log.append([entry("2026-11-20T06:00:00Z", "syslog", 4)])  # a duplicate adds nothing
    with log.reader() as reader:
        days = reader.source_days(log.size)
        assert [(d.source, d.day, d.entries, d.first_idx) for d in days] == [
            ("syslog", "2026-11-20", 3, 0),
            ("syslog", "2026-11-21", 1, 2),
            ("vault", "2026-11-20", 1, 5),
        ]
        first = days[0]
        assert (first.first_time, first.last_time) == (
            "2026-11-20T06:00:00Z",
            "2026-11-20T23:59:59.5Z",
        )
        # at a smaller snapshot size a day first seen later is not listed
        assert [(d.source, d.day) for d in reader.source_days(5)] == [
            ("syslog", "2026-11-20"),
            ("syslog", "2026-11-21"),
        ]


def test_rebuild_gives_the_same_summaries(store: Store) -> None:
    log = store.log(ORIGIN, create=True)
    log.append([entry(f"2026-11-{d:02d}T0{d % 10}:00:00Z", "auditd", d) for d in range(1, 29)])
    with log.reader() as reader:
        kept = reader.source_days(log.size)
    with store.engine.begin() as conn:
        summaries.rebuild(conn)
    with log.reader() as reader:
        assert reader.source_days(log.size) == kept


def test_the_migration_backfills_a_store_appended_before_it(db_url: str) -> None:
    with Store.open(db_url, upgrade=True) as store:
        log = store.log(ORIGIN, create=True)
        log.append(
            [entry("2026-11-20T08:00:00Z", "syslog", 0), entry("2026-11-22T08:00:00Z", "syslog", 1)]
        )
        with log.reader() as reader:
            kept = reader.source_days(log.size)
    assert len(kept) == 2
    engine = open_engine(db_url)
    try:
        migrate.downgrade(engine, "0003")  # the store as it was before summaries
        assert "source_days" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    with Store.open(db_url) as store:
        log = store.log(ORIGIN)
        with log.reader() as reader:
            assert reader.source_days(log.size) == kept
