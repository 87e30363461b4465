"""Shared fixtures: real SQLite files and real PostgreSQL databases, generated keys.

PostgreSQL: ``$EDGEAUDIT_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
must reach a server where the user may CREATE DATABASE; every test gets its own empty database.
Without a server those tests skip, except under ``CI=true`` where a missing server is a failure.

Creating and dropping a database per test was the slowest part of a PostgreSQL test (``DROP
DATABASE`` forces a checkpoint of the whole server: seconds on a busy one). So a database a test
is done with is emptied instead (its connections ended, every schema dropped, ``public``
created again as PostgreSQL creates it) and handed to the next test; one that cannot be emptied
(e.g. the test dropped it) is dropped. The pool is dropped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.note.signer import Ed25519Signer, generate
from edgeaudit.store import Store

PG_URL = os.environ.get("EDGEAUDIT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_connect() -> object:
    import psycopg

    url = make_url(PG_URL)
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=5,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of a reachable PostgreSQL server, or skip (fail under CI)."""
    try:
        conn = _admin_connect()
    except Exception as exc:  # ImportError or any connection failure
        message = f"PostgreSQL not reachable at {make_url(PG_URL)!r}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(f"{message}; set EDGEAUDIT_TEST_PG_URL to run the PostgreSQL tests")
    conn.close()  # type: ignore[attr-defined]
    return PG_URL


# What is left in an emptied database must be what CREATE DATABASE gives (from template1).
_EMPTY_CHECK = """
SELECT (SELECT count(*) FROM pg_namespace
        WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public'))
     + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public')
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public')
     + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public')
     + (SELECT count(*) FROM pg_largeobject_metadata)
     + (SELECT count(*) FROM pg_event_trigger)
     + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
"""


class _PgDatabases:
    """Empty databases for the tests of one session: created on demand, emptied and reused."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.free: list[str] = []
        self.made: set[str] = set()

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"edgeaudit_t_{uuid.uuid4().hex[:12]}"
        conn = _admin_connect()
        try:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]
        self.made.add(name)
        return name

    def give_back(self, name: str) -> None:
        """Empty ``name`` for the next test, or drop it if it cannot be emptied."""
        import psycopg

        admin = _admin_connect()
        try:
            admin.execute(  # type: ignore[attr-defined]
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            try:
                with psycopg.connect(self.url(name), autocommit=True, connect_timeout=5) as db:
                    schemas = db.execute(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                        " AND nspname <> 'information_schema'"
                    ).fetchall()
                    with db.transaction():
                        db.execute("SET LOCAL lock_timeout = '10s'")
                        for (schema,) in schemas:
                            db.execute(f'DROP SCHEMA "{schema}" CASCADE')
                        db.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
                        db.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
                        db.execute("COMMENT ON SCHEMA public IS 'standard public schema'")
                    row = db.execute(_EMPTY_CHECK).fetchone()
                    emptied = row is not None and row[0] == 0
            except psycopg.Error:
                emptied = False
            if emptied:
                self.free.append(name)
            else:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
                self.made.discard(name)
        finally:
            admin.close()  # type: ignore[attr-defined]

    def url(self, name: str) -> str:
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        conn = _admin_connect()
        try:
            for name in sorted(self.made):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def _pg_databases(pg_server: str) -> Iterator[_PgDatabases]:
    pool = _PgDatabases(pg_server)
    yield pool
    pool.drop_all()


@pytest.fixture
def pg_url(_pg_databases: _PgDatabases) -> Iterator[str]:
    """An empty PostgreSQL database for this test alone (fresh, or emptied after an earlier
    test, see the module's docstring)."""
    name = _pg_databases.take()
    try:
        yield _pg_databases.url(name)
    finally:
        _pg_databases.give_back(name)


@pytest.fixture(scope="session")
def _sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to the newest revision once per session, copied by ``db_url``
    for the tests that open ``store`` (running every migration per test took longer than most
    of those tests)."""
    path = tmp_path_factory.mktemp("sqlite-migrated") / "store.db"
    with Store.open(f"sqlite:///{path}", upgrade=True):
        pass
    leftovers = sorted(p.name for p in path.parent.iterdir() if p != path)
    assert not leftovers, f"a closed store left {leftovers} beside its file"
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on a SQLite file and on a PostgreSQL database (empty;
    a SQLite file already at the newest revision when the test opens ``store``)."""
    if request.param == "sqlite":
        if "store" in request.fixturenames:
            shutil.copyfile(request.getfixturevalue("_sqlite_migrated"), tmp_path / "store.db")
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url, upgrade=True) as s:
        yield s


@pytest.fixture
def signer() -> Ed25519Signer:
    return generate("audit.example.net/test-log")
