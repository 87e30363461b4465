"""Floors for the append benchmark, measured in the same run: what the parts cost alone.

* DB floor: the same prepared rows inserted with the raw driver (sqlite3 executemany / psycopg
  binary COPY) into a fresh store of the same schema, without dedupe, chain or tiles;
* canonicalization floor: orjson with sorted keys alone on the same events;
* hashing floor: leaf hash + chain hash + one node hash per event.

    python bench/bench_floor.py --db sqlite:////tmp/floor.db --n 300000
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from _common import Timer, events, machine
from sqlalchemy import text

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, node_hash
from edgeaudit.events import prepare
from edgeaudit.store import Store, sql


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, help="an EMPTY database")
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=10_000)
    args = ap.parse_args()
    raw = list(events(0, args.n))
    gc.freeze()  # the input is long-lived: keep the cyclic GC from rescanning it
    with Timer() as canon:
        for e in raw:
            orjson.dumps(e, option=orjson.OPT_SORT_KEYS)
    prepared = [prepare(e) for e in raw]  # timed by bench_append.py, in batches
    with Timer() as hashing:
        prev = GENESIS_CHAIN
        for p in prepared:
            prev = chain_hash(prev, p.leaf_hash)
            node_hash(prev, p.leaf_hash)
    rows = [
        (1, i, p.leaf_hash, p.leaf_hash, p.fp_key, p.time, p.kind, p.tenant, p.source, p.body)
        for i, p in enumerate(prepared)
    ]
    with Store.open(args.db, upgrade=True) as store:
        store.log("bench.example.net/floor", create=True)
        with Timer() as db:
            for s in range(0, args.n, args.batch):
                with store.engine.begin() as conn:
                    sql.insert_entries(conn, rows[s : s + args.batch])
        with store.engine.begin() as conn:
            count = conn.execute(text("SELECT count(*) FROM entries")).scalar_one()
        assert count == args.n
        backend = store.backend
    us = 1e6 / args.n
    print(f"machine: {machine()}, backend {backend}, {args.n} events")
    print(
        f"per event: orjson alone {canon.seconds * us:.2f} us | "
        f"chain + node hash {hashing.seconds * us:.2f} us | "
        f"raw driver insert + commit {db.seconds * us:.2f} us "
        f"(= {args.n / db.seconds:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
