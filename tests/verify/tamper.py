"""Builders and attacker tools shared by the tamper tests.

The attacker has full database access but not the log's private key: they drop the append-only
triggers, edit rows with plain SQL, recompute whatever hashes they like with the public
algorithms (``edgeaudit.canonical``), and put the triggers back to cover their tracks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, leaf_hash, node_hash
from edgeaudit.cli.main import main
from edgeaudit.events import PreparedEntry, prepare
from edgeaudit.merkle.tiles import extend_tiles
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import EvidenceLog, Store
from edgeaudit.store.triggers import create_append_only_triggers, drop_append_only_triggers
from edgeaudit.verify import Problem, VerifyReport, verify_log

ORIGIN = "audit.example.net/test-log"
SIGN_AT = (10, 25, 40)
"""Each test log is appended in three batches and signed after each: sizes 10, 25 and 40."""

Row = tuple[int, bytes, bytes, bytes]
"""(index, entry bytes, stored leaf hash, stored chain hash)."""


def event_dict(i: int, *, actor: str = "alice") -> dict[str, Any]:
    return {
        "time": f"2026-11-20T08:{i // 60:02d}:{i % 60:02d}Z",
        "kind": "admin.access",
        "tenant": f"tenant-{i % 3}",
        "source": "bastion-1",
        "actor": actor,
        "n": i,
    }


def event(i: int, *, actor: str = "alice") -> PreparedEntry:
    return prepare(event_dict(i, actor=actor), fingerprint=f"{actor}:{i}")


@dataclass
class Built:
    log: EvidenceLog
    notes: dict[int, bytes]
    """Signed checkpoint notes by tree size, as saved by a verifier at signing time."""
    roots: dict[int, bytes]
    rows: list[Row]
    """The entries as stored before any tampering."""


def build_log(
    store: Store,
    signer: Any,
    sizes: Sequence[int] = SIGN_AT,
    *,
    origin: str = ORIGIN,
    actor: str = "alice",
) -> Built:
    """Append entries 0..sizes[-1]-1 in one batch per size, signing a checkpoint after each."""
    log = store.log(origin, create=True)
    notes: dict[int, bytes] = {}
    roots: dict[int, bytes] = {}
    start = 0
    for size in sizes:
        result = log.append(event(i, actor=actor) for i in range(start, size))
        assert result.tree_size == size
        if signer is not None:
            cp = log.sign_checkpoint(signer)
            assert cp.tree_size == size
            notes[size], roots[size] = cp.note.encode(), cp.root_hash
        start = size
    return Built(log, notes, roots, read_entries(store, log.log_id))


def read_entries(store: Store, log_id: int) -> list[Row]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT idx, body, leaf_hash, chain_hash FROM entries "
                "WHERE log_id = :log ORDER BY idx"
            ),
            {"log": log_id},
        ).all()
    return [(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]


def read_table(store: Store, table: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


def verify(
    log: EvidenceLog, signer: Any, trusted: bytes | None = None, **kwargs: Any
) -> VerifyReport:
    return verify_log(log, [Verifier.parse(signer.verifier_key)], trusted=trusted, **kwargs)


# -- the attacker --------------------------------------------------------------------------


@contextmanager
def attacker(store: Store) -> Iterator[Connection]:
    """One transaction with the append-only triggers dropped (and re-created at the end)."""
    with store.engine.begin() as conn:
        drop_append_only_triggers(conn)
        yield conn
        create_append_only_triggers(conn)


def run(conn: Connection, statement: str, params: Any = None) -> None:
    conn.execute(text(statement), params or {})


def set_body(conn: Connection, log_id: int, idx: int, body: bytes) -> None:
    run(
        conn,
        "UPDATE entries SET body = :body WHERE log_id = :log AND idx = :idx",
        {"body": body, "log": log_id, "idx": idx},
    )


def move_entry(conn: Connection, log_id: int, old: int, new: int) -> None:
    run(
        conn,
        "UPDATE entries SET idx = :new WHERE log_id = :log AND idx = :old",
        {"new": new, "old": old, "log": log_id},
    )


def insert_entry(conn: Connection, log_id: int, idx: int, e: PreparedEntry, chain: bytes) -> None:
    run(
        conn,
        "INSERT INTO entries (log_id, idx, leaf_hash, chain_hash, fp_key, time, kind, tenant, "
        "source, body) VALUES (:log, :idx, :leaf, :chain, :fp, :time, :kind, :tenant, :source, "
        ":body)",
        {
            "log": log_id,
            "idx": idx,
            "leaf": e.leaf_hash,
            "chain": chain,
            "fp": e.fp_key,
            "time": e.time,
            "kind": e.kind,
            "tenant": e.tenant,
            "source": e.source,
            "body": e.body,
        },
    )


def replace_tiles(conn: Connection, log_id: int, leaves: Sequence[bytes]) -> None:
    run(conn, "DELETE FROM tiles WHERE log_id = :log", {"log": log_id})
    tiles = extend_tiles(0, {}, list(leaves))
    conn.execute(
        text("INSERT INTO tiles (log_id, level, tidx, hashes) VALUES (:log, :lvl, :tidx, :h)"),
        [{"log": log_id, "lvl": lvl, "tidx": tidx, "h": h} for (lvl, tidx), h in tiles.items()],
    )


def set_head(conn: Connection, log_id: int, size: int, chain: bytes) -> None:
    run(
        conn,
        "UPDATE logs SET tree_size = :size, chain_head = :chain WHERE id = :log",
        {"size": size, "chain": chain, "log": log_id},
    )


def rehash(conn: Connection, log_id: int) -> None:
    """Make every derived value agree with the entry bytes as they now are: each leaf and chain
    hash, every tile and the head row. Only the signed checkpoints are beyond the attacker."""
    rows = conn.execute(
        text("SELECT idx, body FROM entries WHERE log_id = :log ORDER BY idx"), {"log": log_id}
    ).all()
    prev, leaves, updates = GENESIS_CHAIN, [], []
    for expected, (idx, body) in enumerate(rows):
        assert idx == expected, "rehash needs contiguous indexes"
        leaf = leaf_hash(bytes(body))
        prev = chain_hash(prev, leaf)
        leaves.append(leaf)
        updates.append({"leaf": leaf, "chain": prev, "log": log_id, "idx": idx})
    if updates:
        conn.execute(
            text(
                "UPDATE entries SET leaf_hash = :leaf, chain_hash = :chain "
                "WHERE log_id = :log AND idx = :idx"
            ),
            updates,
        )
    replace_tiles(conn, log_id, leaves)
    set_head(conn, log_id, len(rows), prev)


def set_note(conn: Connection, log_id: int, size: int, note: bytes | str) -> None:
    run(
        conn,
        "UPDATE checkpoints SET note = :note WHERE log_id = :log AND tree_size = :size",
        {
            "note": note.decode() if isinstance(note, bytes) else note,
            "log": log_id,
            "size": size,
        },
    )


# -- independent recomputation ----------------------------------------------------------------


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of the leaf hashes, written out independently of edgeaudit."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves_of(rows: Sequence[Row]) -> list[bytes]:
    return [leaf_hash(r[1]) for r in rows]


# -- report helpers --------------------------------------------------------------------------


def codes(report: VerifyReport) -> set[str]:
    return {p.code for p in report.problems}


def located(report: VerifyReport, prefix: str = "entry.") -> set[tuple[str, int | None]]:
    """(code, index) of every problem whose code starts with ``prefix``."""
    return {(p.code, p.index) for p in report.problems if p.code.startswith(prefix)}


def only(report: VerifyReport, code: str, index: int | None = None) -> Problem:
    found = [p for p in report.problems if p.code == code and (index is None or p.index == index)]
    assert len(found) == 1, (code, index, report.problems)
    return found[0]


def root_mismatches(report: VerifyReport) -> dict[str, Problem]:
    """checkpoint.root_mismatch problems keyed by the label in their message."""
    return {
        p.message.split(":")[0]: p for p in report.problems if p.code == "checkpoint.root_mismatch"
    }


# -- copies of the whole database (rollback) ------------------------------------------------


def _sqlite_backup(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


@contextmanager
def database_copy(store: Store, db_url: str) -> Iterator[Callable[[], None]]:
    """Copy the whole database now; yield ``restore()``, which puts the copy back over the
    live database (closing the store's connections first). Any extra database is dropped."""
    url = make_url(db_url)
    store.engine.dispose()
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        original = url.database
        copy = original + ".copy"
        _sqlite_backup(original, copy)

        def restore_sqlite() -> None:
            store.engine.dispose()
            _sqlite_backup(copy, original)

        yield restore_sqlite
        return

    from tests.conftest import _admin_connect

    name = url.database
    snapshot = f"{name}_copy"
    admin: Any = _admin_connect()
    try:
        admin.execute(f'CREATE DATABASE "{snapshot}" TEMPLATE "{name}"')

        def restore_pg() -> None:
            store.engine.dispose()
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{snapshot}"')

        yield restore_pg
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{snapshot}" WITH (FORCE)')
        admin.close()


# -- the command line ----------------------------------------------------------------------

CLI_ORIGIN = "edgeaudit.local/ws"
CLI_SIGN_AT = (10, 40)


def cli(capsys: Any, *argv: str | Path) -> tuple[int, str, str]:
    """Run ``edgeaudit ARGV``; return (exit code, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def make_workspace(tmp_path: Path, db_url: str, capsys: Any) -> Path:
    """A workspace ``ws`` on ``db_url`` with 40 entries appended by the CLI in two files,
    and a checkpoint signed by the CLI after each (sizes 10 and 40)."""
    ws = tmp_path / "ws"
    rc, _, err = cli(capsys, "--workspace", ws, "init", "--db", db_url)
    assert rc == 0, err
    start = 0
    for size in CLI_SIGN_AT:
        path = tmp_path / f"events-{size}.jsonl"
        path.write_text(
            "".join(json.dumps(event_dict(i)) + "\n" for i in range(start, size)),
            encoding="utf-8",
        )
        rc, _, err = cli(capsys, "--workspace", ws, "append", path)
        assert rc == 0, err
        rc, _, err = cli(capsys, "--workspace", ws, "checkpoint")
        assert rc == 0, err
        start = size
    return ws
