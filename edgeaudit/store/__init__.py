"""The tamper-evident evidence store: a hash chain plus an RFC 6962 tree, with signed
checkpoints, on SQLite (embedded default) or PostgreSQL.

Database rows never leave this package: callers get plain values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from edgeaudit.canonical import GENESIS_CHAIN
from edgeaudit.errors import ConfigError, StoreError
from edgeaudit.store import migrate
from edgeaudit.store.engine import open_engine, redact
from edgeaudit.store.log import (
    AppendResult,
    CheckpointSigner,
    EvidenceLog,
    LogReader,
    QuarantineRecord,
    ResumePoint,
    StoredCheckpoint,
)
from edgeaudit.store.schema import Log

__all__ = [
    "AppendResult",
    "CheckpointSigner",
    "EvidenceLog",
    "LogReader",
    "QuarantineRecord",
    "ResumePoint",
    "Store",
    "StoredCheckpoint",
]


class Store:
    """An open evidence store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, upgrade: bool = False) -> Store:
        """Open the store at ``url``; with ``upgrade`` run the migrations first.

        Without ``upgrade`` the schema must already be at the newest revision.
        """
        engine = open_engine(url)
        try:
            if upgrade:
                migrate.upgrade(engine)
            else:
                current, head = migrate.current_revision(engine), migrate.head_revision()
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

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
            raise StoreError(f"the store has no log named {origin!r}")
        return EvidenceLog(self.engine, int(row[0]), origin)

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())
