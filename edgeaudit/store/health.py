"""A damaged, missing or empty store, said once and clearly; the page check before writing.

What the database engine reports is translated here into one of three errors, each naming the
store (the SQLite file, or the PostgreSQL URL without its password) and quoting the engine:

* :class:`StoreDamagedError`: SQLite ``SQLITE_CORRUPT`` / ``SQLITE_NOTADB`` ("database disk
  image is malformed", "file is not a database"), or a failed ``PRAGMA quick_check``;
  PostgreSQL ``XX001`` data_corrupted, ``XX002`` index_corrupted, ``58P01`` a relation file
  missing.
* :class:`StoreMissingError`: the SQLite file does not exist (it is never re-created except by
  ``init``), or the PostgreSQL database does not exist.
* :class:`StoreEmptyError`: the database holds no edgeaudit schema at all (a new database, or
  an empty one put in the store's place).

Writers run ``PRAGMA quick_check`` once per engine (one per process for the CLI and the
server) before their first write transaction, so an append never writes into pages SQLite
already finds damaged. It reads every page: about 0.5 s for 1 M entries (700 MB) from the page
cache, ~10 s from a cold disk (docs/adr/0011-backup-and-damaged-store.md).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from edgeaudit.errors import ConfigError, StoreError

_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
_PG_DAMAGE = {"XX001", "XX002", "58P01"}
_PG_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')
_QUICK_CHECK_LINES = 5

RESTORE_ADVICE = (
    "restore it from a backup with `edgeaudit restore BACKUP` (which verifies the copy against "
    "the workspace's last checkpoint), or prove a copy restored by hand with "
    "`edgeaudit verify --trusted-checkpoint NOTE`"
)
NEW_STORE_ADVICE = (
    "a new workspace's store is made by `edgeaudit init` (`edgeaudit db upgrade` creates only "
    "the schema); if this store held evidence, " + RESTORE_ADVICE
)


class StoreDamagedError(StoreError):
    """The database engine reports the store's file or pages damaged. Nothing was written."""

    def __init__(self, location: str, detail: str, advice: str = RESTORE_ADVICE) -> None:
        self.location, self.detail, self.advice = location, detail, advice
        super().__init__(
            f"store damaged: {location}: the database engine reports: {detail}. "
            f"Nothing was written; {advice}"
        )


class StoreMissingError(StoreError, ConfigError):
    """The store's SQLite file or PostgreSQL database does not exist (nothing re-created it)."""

    def __init__(self, location: str, detail: str, advice: str = NEW_STORE_ADVICE) -> None:
        self.location, self.detail, self.advice = location, detail, advice
        super().__init__(f"store missing: {location}: {detail} (nothing was re-created); {advice}")


class StoreEmptyError(StoreError, ConfigError):
    """The database holds no edgeaudit schema: new, or an empty database in the store's place."""

    def __init__(self, location: str, head: str | None, advice: str = NEW_STORE_ADVICE) -> None:
        self.location, self.head = location, head
        super().__init__(
            f"store empty: {location} holds no edgeaudit tables (schema revision none, "
            f"expected {head}); {advice}"
        )


class LogNotFoundError(StoreError):
    """The store has no log of the requested origin."""

    def __init__(self, location: str, origin: str, advice: str | None = None) -> None:
        self.location, self.origin = location, origin
        super().__init__(
            f"the store {location} has no log named {origin!r}" + (f"; {advice}" if advice else "")
        )


def location(url: str | URL) -> str:
    """How messages name a store: the SQLite file path, else the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "(no file)"
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> str | None:
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def _sqlite_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_damage(exc: BaseException) -> bool:
    """Does this database error say the store's pages or file are damaged?"""
    if isinstance(exc, sqlite3.Error):
        return _sqlite_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return getattr(exc, "sqlstate", None) in _PG_DAMAGE


def is_missing(exc: BaseException, url: str | URL) -> bool:
    """Does this error (raised while connecting) say the store does not exist?"""
    if isinstance(exc, sqlite3.Error):
        if _sqlite_code(exc) != _SQLITE_CANTOPEN:
            return False
        path = sqlite_path(url)
        return path is not None and not Path(path).exists()
    return getattr(exc, "sqlstate", None) == "3D000" or bool(_PG_NO_DATABASE.search(str(exc)))


def translate(exc: BaseException, engine: Engine) -> StoreError | None:
    """The error to raise instead of database error ``exc`` on ``engine``, or None to leave it
    as it is."""
    url = engine.url
    if is_damage(exc):
        return StoreDamagedError(location(url), _engine_text(exc), advice_for(engine))
    if is_missing(exc, url):
        what = (
            "the file does not exist"
            if sqlite_path(url)
            else f"the database server says: {_engine_text(exc)}"
        )
        return StoreMissingError(location(url), what, advice_for(engine, NEW_STORE_ADVICE))
    return None


_advice: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def set_advice(engine: Engine, advice: str) -> None:
    """What errors on ``engine`` advise (the workspace knows more than the store: how many
    entries it has seen, where its last checkpoint note is)."""
    _advice[engine] = advice


def advice_for(engine: Engine, default: str = RESTORE_ADVICE) -> str:
    return _advice.get(engine, default)


def _engine_text(exc: BaseException) -> str:
    """The engine's own words, on one line."""
    text = str(exc).strip()
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or repr(exc)


def install(engine: Engine) -> None:
    """Translate damaged / missing-store errors of every statement and connect on ``engine``."""
    from sqlalchemy import event

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        replacement = translate(ctx.original_exception, engine)
        if replacement is not None:
            raise replacement from ctx.original_exception


def quick_check(engine: Engine) -> list[str]:
    """SQLite ``PRAGMA quick_check``: the problems it reports (empty when the pages are sound).

    PostgreSQL has no equivalent without extensions; it reports damaged pages as it reads them
    (``XX001``), which :func:`install` translates, so this returns nothing there.
    """
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"PRAGMA quick_check({_QUICK_CHECK_LINES})").all()
    found = [str(r[0]) for r in rows]
    if found == ["ok"]:
        return []
    lines = (line.strip() for text in found for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("***")]


def check_pages(engine: Engine) -> None:
    """Raise :class:`StoreDamagedError` unless ``PRAGMA quick_check`` finds the pages sound."""
    problems = quick_check(engine)
    if problems:
        raise StoreDamagedError(
            location(engine.url), "quick_check: " + "; ".join(problems), advice_for(engine)
        )


_checked: weakref.WeakSet[Engine] = weakref.WeakSet()
_checked_lock = threading.Lock()


def check_before_first_write(engine: Engine) -> None:
    """:func:`check_pages` once per engine, before its first write transaction.

    Runs outside the write lock (concurrent appenders are not held up by it)."""
    with _checked_lock:
        if engine in _checked:
            return
    check_pages(engine)
    with _checked_lock:
        _checked.add(engine)
