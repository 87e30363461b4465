"""The rows of appended entries: what one append stores at the end of a log, inside the
transaction that holds the log's head row locked (:meth:`edgeaudit.store.log.EvidenceLog.append`,
and a mirror's copy of a pod's entries in :mod:`edgeaudit.store.mirror`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import Connection

from edgeaudit.canonical import chain_hash
from edgeaudit.events import PreparedEntry
from edgeaudit.merkle.tiles import extend_tiles, right_edge
from edgeaudit.store import sql, summaries


def store_entries(
    conn: Connection,
    log_id: int,
    size: int,
    head: bytes,
    batch: Iterable[PreparedEntry],
    fp_key: Callable[[int, PreparedEntry], bytes] | None = None,
) -> int:
    """Store ``batch`` at indices ``size``, ``size + 1``, ... of a log whose head row the
    caller's transaction holds locked (:func:`sql.lock_log` returned ``size`` and the chain
    ``head``): entry rows, chain hashes, tiles, source-day summaries and the head row. Returns
    the new size.

    The dedupe key of entry ``i`` is its own unless ``fp_key(i, entry)`` says otherwise.
    ``batch`` may be lazy: on PostgreSQL the server stores the rows sent (COPY) while the next
    entries are produced, and an exception from ``batch`` leaves the transaction to roll back.
    """
    rows: list[sql.EntryRow] = []
    add = rows.append

    def produce() -> Iterator[sql.EntryRow]:
        nonlocal head
        idx = size
        for e in batch:
            head = chain_hash(head, e.leaf_hash)
            key = e.fp_key if fp_key is None else fp_key(idx, e)
            row = (log_id, idx, e.leaf_hash, head, key, e.time, e.kind, e.tenant, e.source, e.body)
            add(row)
            yield row
            idx += 1

    edge = sql.fetch_tiles(conn, log_id, right_edge(size))
    sql.insert_entries(conn, produce())
    if not rows:
        return size
    tiles = extend_tiles(size, edge, [r[2] for r in rows])
    summaries.upsert(conn, log_id, summaries.summarize((r[1], r[5], r[8]) for r in rows))
    sql.upsert_tiles(conn, log_id, tiles, stored=edge.keys())
    sql.update_head(conn, log_id, size + len(rows), head)
    return size + len(rows)
