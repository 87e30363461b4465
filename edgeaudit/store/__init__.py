"""The tamper-evident evidence store: a hash chain plus an RFC 6962 tree, with signed
checkpoints, on SQLite (embedded default) or PostgreSQL.

Database rows never leave this package: callers get plain values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from edgeaudit.canonical import GENESIS_CHAIN
from edgeaudit.errors import ConfigError
from edgeaudit.store import health, migrate
from edgeaudit.store.engine import create_sqlite_file, normalize_url, open_engine, redact
from edgeaudit.store.health import (
    LogNotFoundError,
    StoreDamagedError,
    StoreEmptyError,
    StoreMissingError,
)
from edgeaudit.store.log import EvidenceLog
from edgeaudit.store.mirror import MirroredLog, MirrorError
from edgeaudit.store.reader import LogReader
from edgeaudit.store.schema import Log
from edgeaudit.store.values import (
    AppendResult,
    CheckpointSigner,
    QuarantineRecord,
    ResumePoint,
    StoredCheckpoint,
)

__all__ = [
    "AppendResult",
    "CheckpointSigner",
    "EvidenceLog",
    "LogNotFoundError",
    "LogReader",
    "MirrorError",
    "MirroredLog",
    "QuarantineRecord",
    "ResumePoint",
    "Store",
    "StoreDamagedError",
    "StoreEmptyError",
    "StoreMissingError",
    "StoredCheckpoint",
]

_log = logging.getLogger("edgeaudit")


class Store:
    """An open evidence store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._before_close: list[Callable[[], None]] = []

    @classmethod
    def open(cls, url: str, *, upgrade: bool = False) -> Store:
        """Open the store at ``url``; with ``upgrade`` run the migrations first.

        Without ``upgrade`` the schema must already be at the newest revision, and a missing
        SQLite file is a :class:`StoreMissingError` (it is created only with ``upgrade``). A
        damaged file is a :class:`StoreDamagedError`, a database without any edgeaudit table a
        :class:`StoreEmptyError`.
        """
        path = health.sqlite_path(normalize_url(url))
        if path is not None and Path(path).parent.is_dir():
            if upgrade:
                create_sqlite_file(normalize_url(url))
            elif not Path(path).exists():
                raise StoreMissingError(health.location(url), "the file does not exist")
        engine = open_engine(url)  # a missing directory: ConfigError naming it
        try:
            if upgrade:
                migrate.upgrade(engine)
            else:
                current, head = migrate.current_revision(engine), migrate.head_revision()
                if current is None and not inspect(engine).get_table_names():
                    raise StoreEmptyError(health.location(url), head)
                if current != head:
                    raise ConfigError(
                        f"store {redact(url)} is at schema revision {current or 'none'}, "
                        f"expected {head}: run `edgeaudit db upgrade`"
                    )
        except DBAPIError as exc:
            engine.dispose()
            raise ConfigError(f"cannot open store {redact(url)}: {exc.orig}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def location(self) -> str:
        """The SQLite file, or the PostgreSQL URL without its password (for messages)."""
        return health.location(self.engine.url)

    def check_pages(self) -> None:
        """SQLite ``PRAGMA quick_check`` (reads every page): raise :class:`StoreDamagedError`
        naming what it found. A no-op on PostgreSQL, which reports damaged pages as it reads
        them."""
        health.check_pages(self.engine)

    def before_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the store is closed normally (not while an exception propagates out
        of its ``with`` block); what it raises is logged, never raised."""
        self._before_close.append(fn)

    def close(self) -> None:
        hooks, self._before_close = self._before_close, []
        for fn in hooks:
            try:
                fn()
            except Exception as exc:  # bookkeeping must not turn a success into a failure
                _log.debug("on closing the store: %s", exc)
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._before_close = []
        self.close()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def origins(self) -> list[str]:
        t = Log.__table__
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(t.c.origin).order_by(t.c.id))]

    def log(self, origin: str, *, create: bool = False) -> EvidenceLog:
        """The log named ``origin``; with ``create``, make it if it does not exist."""
        t = Log.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.id).where(t.c.origin == origin)).first()
        if row is None and create:
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(Log).values(
                            origin=origin, tree_size=0, chain_head=GENESIS_CHAIN, created_at=now
                        )
                    )
            except IntegrityError:
                pass  # created concurrently by another process
            return self.log(origin)
        if row is None:
            raise LogNotFoundError(self.location, origin)
        return EvidenceLog(self.engine, int(row[0]), origin)

    def mirror(self, origin: str, *, create: bool = False) -> MirroredLog:
        """The log ``origin`` as a mirror of another store's log of that origin
        (:mod:`edgeaudit.store.mirror`); with ``create``, make it if it does not exist."""
        return MirroredLog(self.log(origin, create=create))

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())
