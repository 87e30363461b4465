"""Driver-level statements on the hot paths, the same logic on SQLite and PostgreSQL.

SQLAlchemy Core is used for everything else; appends and proof reads go to the DBAPI connection
of the current transaction because ORM and Core executemany cost 2-10x (measured on our
benchmark machines; see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from edgeaudit.merkle.tiles import TileKey

EntryRow = tuple[int, int, bytes, bytes, bytes, str, str, str | None, str | None, bytes]
ENTRY_COLUMNS = "log_id, idx, leaf_hash, chain_hash, fp_key, time, kind, tenant, source, body"
_CHUNK = 500
_PG_ENTRY_TYPES = [
    "int4",
    "int8",
    "bytea",
    "bytea",
    "bytea",
    "text",
    "text",
    "text",
    "text",
    "bytea",
]


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _dbapi(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _mark(conn: Connection) -> str:
    return "%s" if is_postgres(conn) else "?"


def lock_log(conn: Connection, log_id: int) -> tuple[int, bytes]:
    """Lock the log's head row for this transaction; return (tree size, chain head).

    On SQLite the transaction already holds the write lock (BEGIN IMMEDIATE).
    """
    m = _mark(conn)
    suffix = " FOR UPDATE" if is_postgres(conn) else ""
    cur = _dbapi(conn).cursor()
    cur.execute(f"SELECT tree_size, chain_head FROM logs WHERE id = {m}{suffix}", (log_id,))
    row = cur.fetchone()
    cur.close()
    if row is None:
        raise LookupError(f"log {log_id} does not exist")
    return int(row[0]), bytes(row[1])


def existing_fp_keys(conn: Connection, log_id: int, keys: Sequence[bytes]) -> set[bytes]:
    """Which of ``keys`` are already stored for this log."""
    found: set[bytes] = set()
    cur = _dbapi(conn).cursor()
    if is_postgres(conn):
        cur.execute(  # %b: binary parameters, no bytea text escaping on either side
            "SELECT fp_key FROM entries WHERE log_id = %b AND fp_key = ANY(%b)",
            (log_id, list(keys)),
        )
        found.update(bytes(r[0]) for r in cur.fetchall())
    else:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cur.execute(
                f"SELECT fp_key FROM entries WHERE log_id = ? AND fp_key IN ({marks})",
                (log_id, *chunk),
            )
            found.update(r[0] for r in cur.fetchall())
    cur.close()
    return found


def insert_entries(conn: Connection, rows: Iterable[EntryRow]) -> None:
    dbapi = _dbapi(conn)
    if is_postgres(conn):
        from psycopg.types.string import BytesBinaryDumper  # only reached with psycopg

        with dbapi.cursor() as cur:
            # set_types picks the newest dumper of bytea, psycopg's DB-API Binary wrapper (a
            # Python call per value); the plain bytes dumper is compiled: 1.5 us less a row
            cur.adapters.register_dumper(bytes, BytesBinaryDumper)
            with cur.copy(f"COPY entries ({ENTRY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_PG_ENTRY_TYPES)
                write = copy.write_row
                for row in rows:
                    write(row)
    else:
        dbapi.executemany(
            f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows
        )


def fetch_tiles(conn: Connection, log_id: int, keys: Collection[TileKey]) -> dict[TileKey, bytes]:
    """Read tiles by key in one query (OR'd equalities: ``IN (VALUES ...)`` scans on SQLite)."""
    if not keys:
        return {}
    m = _mark(conn)
    where = " OR ".join([f"(log_id = {m} AND level = {m} AND tidx = {m})"] * len(keys))
    params: list[int] = []
    for level, tidx in keys:
        params += (log_id, level, tidx)
    cur = _dbapi(conn).cursor()
    cur.execute(f"SELECT level, tidx, hashes FROM tiles WHERE {where}", params)
    out = {(int(r[0]), int(r[1])): bytes(r[2]) for r in cur.fetchall()}
    cur.close()
    return out


_COPY_TILES_FROM = 64  # new tiles from which PostgreSQL gets them by COPY (one round trip)


def upsert_tiles(
    conn: Connection,
    log_id: int,
    tiles: Mapping[TileKey, bytes],
    stored: Collection[TileKey] = (),
) -> None:
    """Write ``tiles``; those of ``stored`` exist and are updated, the others are new.

    On PostgreSQL many new tiles (a large batch) are inserted by COPY, which refuses a tile
    already stored instead of overwriting it."""
    m = _mark(conn)
    rows = [(log_id, level, tidx, blob) for (level, tidx), blob in tiles.items()]
    cur = _dbapi(conn).cursor()
    if is_postgres(conn) and len(rows) - len(stored) >= _COPY_TILES_FROM:
        known = set(stored)
        new = [r for r in rows if (r[1], r[2]) not in known]
        rows = [r for r in rows if (r[1], r[2]) in known]
        from psycopg.types.string import BytesBinaryDumper  # only reached with psycopg

        cur.adapters.register_dumper(bytes, BytesBinaryDumper)  # see insert_entries
        with cur.copy("COPY tiles (log_id, level, tidx, hashes) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "int2", "int8", "bytea"])
            for row in new:
                cp.write_row(row)
    if rows:
        cur.executemany(
            f"INSERT INTO tiles (log_id, level, tidx, hashes) VALUES ({m}, {m}, {m}, {m}) "
            "ON CONFLICT (log_id, level, tidx) DO UPDATE SET hashes = excluded.hashes",
            rows,
        )
    cur.close()


def update_head(conn: Connection, log_id: int, size: int, chain_head: bytes) -> None:
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        f"UPDATE logs SET tree_size = {m}, chain_head = {m} WHERE id = {m}",
        (size, chain_head, log_id),
    )
    cur.close()


def iter_entry_hashes(
    conn: Connection, log_id: int, start: int = 0, batch: int = 10_000
) -> Iterator[tuple[int, bytes, bytes, bytes]]:
    """Stream (idx, body, leaf_hash, chain_hash) in index order, from ``start``."""
    m = _mark(conn)
    # start == 0 means every row, including any planted at a negative index.
    bound = f" AND idx >= {m}" if start else ""
    sql = (
        "SELECT idx, body, leaf_hash, chain_hash FROM entries "
        f"WHERE log_id = {m}{bound} ORDER BY idx"
    )
    params = (log_id, start) if start else (log_id,)
    dbapi = _dbapi(conn)
    if is_postgres(conn):
        with dbapi.cursor(name="edgeaudit_stream") as cur:
            cur.itersize = batch
            cur.execute(sql, params)
            yield from cur
    else:
        cur = dbapi.cursor()
        cur.arraysize = batch
        cur.execute(sql, params)
        while rows := cur.fetchmany():
            yield from rows
        cur.close()


def fetch_entry(conn: Connection, log_id: int, index: int) -> tuple[bytes, bytes] | None:
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        f"SELECT body, leaf_hash FROM entries WHERE log_id = {m} AND idx = {m}", (log_id, index)
    )
    row = cur.fetchone()
    cur.close()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def fetch_bodies(conn: Connection, log_id: int, start: int, end: int) -> list[tuple[int, bytes]]:
    """(idx, body) of the stored entries with ``start <= idx < end``, in index order."""
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    try:
        cur.execute(
            f"SELECT idx, body FROM entries WHERE log_id = {m} AND idx >= {m} AND idx < {m} "
            "ORDER BY idx",
            (log_id, start, end),
        )
        return [(int(idx), bytes(body)) for idx, body in cur.fetchall()]
    finally:
        cur.close()


def insert_quarantine(
    conn: Connection, log_id: int, records: Sequence[Any], created_at: str
) -> int:
    """Insert quarantined records, skipping ones already stored; return how many are new."""
    if not records:
        return 0
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    new = 0
    for r in records:  # rowcount per statement is portable; executemany's is not
        cur.execute(
            "INSERT INTO quarantine (log_id, source_kind, source, location, reason, raw, "
            f"raw_sha256, created_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}) "
            "ON CONFLICT (log_id, source_kind, location, raw_sha256) DO NOTHING",
            (
                log_id,
                r.source_kind,
                r.source,
                r.location,
                r.reason,
                r.raw,
                r.raw_sha256,
                created_at,
            ),
        )
        new += max(cur.rowcount, 0)
    cur.close()
    return new


def upsert_resume(conn: Connection, log_id: int, point: Any, updated_at: str) -> None:
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        "INSERT INTO source_offsets (log_id, source_kind, path, byte_offset, head_sha256, "
        f"updated_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}) "
        "ON CONFLICT (log_id, source_kind, path) DO UPDATE SET "
        "byte_offset = excluded.byte_offset, head_sha256 = excluded.head_sha256, "
        "updated_at = excluded.updated_at",
        (log_id, point.source_kind, point.path, point.offset, point.head_sha256, updated_at),
    )
    cur.close()
