"""Per-source daily summaries: how many entries each source contributed on each UTC day, the
first index and the first and last stored time of that day.

Kept in the append transaction (one upsert per source and day of a batch), so checks that
judge retention and collection gaps read a few hundred rows instead of scanning a year of
entries. A summary is derived data: it is rebuilt from the entries by the migration that
created it, and :func:`rebuild` recomputes it (e.g. after a restore).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection

from edgeaudit.store.sql import _dbapi, _mark, is_postgres


class SourceDay(NamedTuple):
    source: str
    day: str  # YYYY-MM-DD (UTC), the first 10 characters of the stored time
    entries: int
    first_idx: int
    first_time: str  # stored time text (compare with a second's tolerance: see context.WIDEN)
    last_time: str


# (source, day) -> [entries, first index, first time, last time]
Batch = dict[tuple[str, str], list[object]]


def summarize(rows: Iterable[tuple[int, str, str | None]]) -> Batch:
    """The summary rows of a batch of (index, stored time, source); entries without a source
    are not summarized (no collector produced them)."""
    out: Batch = {}
    for idx, time, source in rows:
        if source is None:
            continue
        key = (source, time[:10])
        s = out.get(key)
        if s is None:
            out[key] = [1, idx, time, time]
        else:
            s[0] += 1  # type: ignore[operator]
            if time < s[2]:  # type: ignore[operator]
                s[2] = time
            if time > s[3]:  # type: ignore[operator]
                s[3] = time
    return out


def upsert(conn: Connection, log_id: int, batch: Batch) -> None:
    if not batch:
        return
    m = _mark(conn)
    lo, hi = ("LEAST", "GREATEST") if is_postgres(conn) else ("MIN", "MAX")
    sql = (
        "INSERT INTO source_days (log_id, source, day, entries, first_idx, first_time, "  # noqa: S608
        f"last_time) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}) "
        "ON CONFLICT (log_id, source, day) DO UPDATE SET "
        "entries = source_days.entries + excluded.entries, "
        f"first_idx = {lo}(source_days.first_idx, excluded.first_idx), "
        f"first_time = {lo}(source_days.first_time, excluded.first_time), "
        f"last_time = {hi}(source_days.last_time, excluded.last_time)"
    )
    params = [(log_id, src, day, *vals) for (src, day), vals in sorted(batch.items())]
    cur = _dbapi(conn).cursor()
    cur.executemany(sql, params)
    cur.close()


def read(conn: Connection, log_id: int, upto: int) -> list[SourceDay]:
    """Every (source, day) with an entry below index ``upto``, by source then day. Counts and
    the last time may include entries appended after ``upto`` (a day is listed only when one
    of its entries is below it)."""
    m = _mark(conn)
    cur = _dbapi(conn).cursor()
    cur.execute(
        "SELECT source, day, entries, first_idx, first_time, last_time FROM source_days "  # noqa: S608
        f"WHERE log_id = {m} AND first_idx < {m} ORDER BY source, day",
        (log_id, upto),
    )
    rows = [SourceDay(str(a), str(b), int(c), int(d), str(e), str(f)) for a, b, c, d, e, f in cur]
    cur.close()
    return rows


REBUILD_SQL = (
    "INSERT INTO source_days (log_id, source, day, entries, first_idx, first_time, last_time) "
    "SELECT log_id, source, substr(time, 1, 10), COUNT(*), MIN(idx), MIN(time), MAX(time) "
    "FROM entries WHERE source IS NOT NULL GROUP BY log_id, source, substr(time, 1, 10)"
)


def rebuild(conn: Connection) -> None:
    """Recompute every summary from the entries (the migration's backfill)."""
    conn.exec_driver_sql("DELETE FROM source_days")
    conn.exec_driver_sql(REBUILD_SQL)
