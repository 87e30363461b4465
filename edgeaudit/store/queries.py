"""Reads for the policy engine: entries of some kinds in a time window, filtered in SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Connection

from edgeaudit.store.sql import _dbapi, _mark, is_postgres


def iter_kinds(
    conn: Connection,
    log_id: int,
    kinds: Sequence[str],
    since: str | None,
    until: str | None,
    upto: int,
    batch: int = 10_000,
) -> Iterator[tuple[int, bytes, bytes]]:
    """(idx, body, leaf_hash) of entries with ``kind`` in ``kinds``, ``since <= time < until``
    (text comparison on the stored RFC 3339 time: callers widen the bounds by a second and
    filter exactly), ``idx < upto``, in index order."""
    if not kinds:
        return
    m = _mark(conn)
    where = [f"log_id = {m}", f"idx < {m}", f"kind IN ({', '.join([m] * len(kinds))})"]
    params: list[object] = [log_id, upto, *kinds]
    if since is not None:
        where.append(f"time >= {m}")
        params.append(since)
    if until is not None:
        where.append(f"time < {m}")
        params.append(until)
    sql = f"SELECT idx, body, leaf_hash FROM entries WHERE {' AND '.join(where)} ORDER BY idx"
    dbapi = _dbapi(conn)
    if is_postgres(conn):
        with dbapi.cursor(name="edgeaudit_select") as cur:
            cur.itersize = batch
            cur.execute(sql, params)
            for idx, body, leaf in cur:
                yield int(idx), bytes(body), bytes(leaf)
    else:
        cur = dbapi.cursor()
        cur.arraysize = batch
        cur.execute(sql, params)
        while rows := cur.fetchmany():
            for idx, body, leaf in rows:
                yield int(idx), bytes(body), bytes(leaf)
        cur.close()


def quarantine_counts(conn: Connection, log_id: int) -> list[tuple[str, str, int]]:
    """(source kind, reason, count) of quarantined records."""
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        "SELECT source_kind, reason, COUNT(*) FROM quarantine WHERE log_id = "
        f"{m} GROUP BY source_kind, reason ORDER BY source_kind, reason",
        (log_id,),
    )
    rows = [(str(a), str(b), int(c)) for a, b, c in cur.fetchall()]
    cur.close()
    return rows


def source_counts(conn: Connection, log_id: int, upto: int) -> list[tuple[str, int]]:
    """(source, entries) below index ``upto``, for entries that name a source."""
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        f"SELECT source, COUNT(*) FROM entries WHERE log_id = {m} AND idx < {m} "
        "AND source IS NOT NULL GROUP BY source ORDER BY source",
        (log_id, upto),
    )
    rows = [(str(a), int(b)) for a, b in cur.fetchall()]
    cur.close()
    return rows


def last_index_before(conn: Connection, log_id: int, until: str, upto: int) -> int:
    """The highest index below ``upto`` of an entry with stored time ``< until`` (-1: none)."""
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        f"SELECT MAX(idx) FROM entries WHERE log_id = {m} AND idx < {m} AND time < {m}",
        (log_id, upto, until),
    )
    row = cur.fetchone()
    cur.close()
    return -1 if row is None or row[0] is None else int(row[0])
