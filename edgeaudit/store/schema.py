"""SQLAlchemy models of the evidence store. Rows never leave the ``store`` package.

* ``logs``: one row per log (origin); its row is the append lock and the chain head.
* ``entries``: the exact canonical bytes of every entry, its leaf hash and chain hash, and a
  dedupe key. Append-only, enforced by triggers (see the migrations).
* ``tiles``: the Merkle tree, 16 node hashes per row (see ``edgeaudit.merkle.tiles``).
* ``checkpoints``: every signed checkpoint note. Append-only.

Hashes and entry bytes live in binary columns and are verified by re-hashing those exact bytes;
nothing hashed ever passes through a JSON column (a JSON column re-encodes what it stores, so
the bytes read back are not the bytes that were hashed).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Log(Base):
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(255), unique=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    chain_head: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(40))


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("log_id", "fp_key", name="uq_entries_fp_key"),
        CheckConstraint("idx >= 0", name="ck_entries_idx_nonnegative"),
    )

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no FK: see migration 0001
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary)
    fp_key: Mapped[bytes] = mapped_column(LargeBinary)
    time: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(128))
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str | None] = mapped_column(String(128), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class Tile(Base):
    __tablename__ = "tiles"

    log_id: Mapped[int] = mapped_column(Integer, ForeignKey("logs.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tidx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="ck_checkpoints_size_nonnegative"),)

    log_id: Mapped[int] = mapped_column(Integer, ForeignKey("logs.id"), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[str] = mapped_column(String(40))


class QuarantineRow(Base):
    """A source record a collector could not parse, kept with the reason (never dropped)."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint(
            "log_id", "source_kind", "location", "raw_sha256", name="uq_quarantine_record"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    log_id: Mapped[int] = mapped_column(Integer, ForeignKey("logs.id"))
    source_kind: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(1024))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))


class SourceOffset(Base):
    """Where a followed source file was read up to, committed with the entries it produced."""

    __tablename__ = "source_offsets"

    log_id: Mapped[int] = mapped_column(Integer, ForeignKey("logs.id"), primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    byte_offset: Mapped[int] = mapped_column(BigInteger)
    head_sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[str] = mapped_column(String(40))


class SourceDayRow(Base):
    """Per source and UTC day: entries, first index, first and last time (``summaries``)."""

    __tablename__ = "source_days"

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger)
    first_idx: Mapped[int] = mapped_column(BigInteger)
    first_time: Mapped[str] = mapped_column(String(40))
    last_time: Mapped[str] = mapped_column(String(40))


APPEND_ONLY_TABLES = ("entries", "checkpoints")
