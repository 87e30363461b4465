"""Shared fixtures: real SQLite files and real PostgreSQL databases, generated keys.

PostgreSQL: ``$EDGEAUDIT_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
must reach a server where the user may CREATE DATABASE; every test gets its own database,
dropped afterwards. Without a server those tests skip, except under ``CI=true`` where a missing
server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"edgeaudit_t_{uuid.uuid4().hex[:12]}"
    conn = _admin_connect()
    conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each test using this runs twice: on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url, upgrade=True) as s:
        yield s


@pytest.fixture
def signer() -> Ed25519Signer:
    return generate("audit.example.net/test-log")
