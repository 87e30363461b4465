"""A damaged, missing or replaced store: one clear error, never a traceback, nothing written,
nothing re-created, and the way back (``edgeaudit restore``, ``verify --trusted-checkpoint``).

SQLite damage is made by hand on the file: truncated, a page overwritten with noise (the
``entries`` table's root page, or a page of its dedupe index that no read touches), deleted,
or replaced by an empty database. PostgreSQL: the database dropped, or replaced by an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli import GOOD, GOOD_MORE, Cli, config, make_workspace
from tests.conftest import _admin_connect

ROOT = Path(__file__).resolve().parents[2]
JOURNALD = ROOT / "tests" / "collect" / "data" / "journald" / "sshd_accepted_certificate.jsonl"
INVENTORY = ROOT / "policies" / "inventory.yaml"


def _db(cli: Cli) -> Path:
    return config(cli).root / "evidence" / "store.db"


def _settle(db: Path) -> None:
    """Fold the WAL into the main file and remove it, so damage to the file is all there is."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # stays in WAL mode, as the store is
    conn.close()
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def _page_of(db: Path, name: str) -> tuple[int, int]:
    conn = sqlite3.connect(db)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)
        ).fetchone()
    finally:
        conn.close()
    return int(size), int(root)


def truncate(db: Path) -> None:
    size = db.stat().st_size
    os.truncate(db, size // 2)


def noise_on_entries(db: Path) -> None:
    _noise(db, "entries")


def noise_on_index(db: Path) -> None:
    """A page of the entries' dedupe-key index: only a page check (or a write) reads it."""
    conn = sqlite3.connect(db)
    try:
        (name,) = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' "
            "ORDER BY rootpage DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    _noise(db, name)


def _noise(db: Path, name: str) -> None:
    page_size, page = _page_of(db, name)
    with db.open("r+b") as fh:
        fh.seek(page_size * (page - 1))
        fh.write(random.Random(page).randbytes(page_size))


def delete(db: Path) -> None:
    db.unlink()


def empty_database(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("VACUUM")  # a valid, empty SQLite file with a header
    conn.close()


def zero_length(db: Path) -> None:
    os.truncate(db, 0)


COMMANDS: dict[str, list[str]] = {
    "verify": ["verify"],
    "status": ["status"],
    "checkpoint": ["checkpoint"],
    "append": ["append", str(GOOD_MORE)],
    "collect": ["collect", "journald", str(JOURNALD), "--inventory", str(INVENTORY)],
}


def _held(cli: Cli) -> tuple[Path, str, bytes]:
    """A workspace that has held 6 entries and signed a checkpoint; the settled store file."""
    cli.ok("append", str(GOOD))
    note = cli.ok("checkpoint").out
    db = _db(cli)
    _settle(db)
    return db, note, db.read_bytes()


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("edgeaudit: error: ")
    return lines[0]


# -- damaged pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", [truncate, noise_on_entries], ids=["truncated", "noise"])
@pytest.mark.parametrize("command", ["status", "checkpoint", "append", "collect"])
def test_damaged_store_is_one_clear_error_and_nothing_is_written(
    lite: Cli, damage: Callable[[Path], None], command: str
) -> None:
    db, _, _ = _held(lite)
    damage(db)
    before = _digest(db)
    r = lite(*COMMANDS[command])
    assert r.code == 2, r.err
    line = _one_error(r.err)
    assert f"store damaged: {db}: the database engine reports: " in line
    assert "malformed" in line or "quick_check" in line
    assert "Nothing was written" in line
    assert "edgeaudit restore BACKUP --force" in line
    assert f"--trusted-checkpoint {config(lite).state_file}" in line
    assert "db upgrade" not in line
    assert r.out == ""  # checkpoint never prints the last stored note of a store it cannot read
    assert _digest(db) == before


@pytest.mark.parametrize("damage", [truncate, noise_on_entries], ids=["truncated", "noise"])
def test_verify_on_a_damaged_store_says_store_damaged(
    lite: Cli, damage: Callable[[Path], None]
) -> None:
    db, _, _ = _held(lite)
    damage(db)
    r = lite("verify")
    assert r.code != 0
    line = _one_error(r.err)
    assert f"store damaged: {db}: the database engine reports: " in line
    assert "malformed" in line
    assert r.out == ""


@pytest.mark.parametrize(
    "damage",
    [truncate, noise_on_entries, noise_on_index],
    ids=["truncated", "noise", "noise-in-index"],
)
def test_verify_exits_1_on_a_damaged_store(lite: Cli, damage: Callable[[Path], None]) -> None:
    """Needs cmd_verify to run the page check and map StoreDamagedError to exit 1."""
    db, _, _ = _held(lite)
    damage(db)
    r = lite("verify")
    assert "store damaged" in r.out + r.err
    assert r.code == 1


def test_writes_refuse_damage_only_a_page_check_finds(lite: Cli) -> None:
    """Noise in an index page no read touches: status still answers from the table, but
    append, collect and checkpoint check the pages before writing and refuse."""
    db, _, _ = _held(lite)
    noise_on_index(db)
    before = _digest(db)
    for command in ("append", "collect", "checkpoint"):
        r = lite(*COMMANDS[command])
        assert r.code == 2, (command, r.err)
        line = _one_error(r.err)
        assert f"store damaged: {db}: the database engine reports: quick_check: " in line
        assert r.out == ""
    assert _digest(db) == before


def test_damaged_store_with_json_is_one_json_error(lite: Cli) -> None:
    db, _, _ = _held(lite)
    truncate(db)
    r = lite("status", "--json")
    assert r.code == 2
    error = json.loads(r.out)["error"]
    assert error["exit_code"] == 2
    assert error["message"].startswith(f"store damaged: {db}")


# -- missing or replaced store ----------------------------------------------------------------


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_store_is_never_recreated_and_the_message_says_how_to_restore(
    lite: Cli, command: str
) -> None:
    db, _, _ = _held(lite)
    delete(db)
    r = lite(*COMMANDS[command])
    assert r.code == 2
    line = _one_error(r.err)
    assert f"store missing: {db}: the file does not exist (nothing was re-created)" in line
    assert "this workspace has held 6 entries (last checkpoint: size 6)" in line
    assert "`edgeaudit restore BACKUP`" in line
    assert f"`edgeaudit verify --trusted-checkpoint {config(lite).state_file}`" in line
    assert "db upgrade" not in line
    assert not db.exists()
    assert not db.with_name("store.db-wal").exists()


def test_read_only_db_current_does_not_recreate_a_missing_store(lite: Cli) -> None:
    db, _, _ = _held(lite)
    delete(db)
    r = lite("db", "current")
    assert r.code == 2
    assert "store missing" in _one_error(r.err)
    assert not db.exists()


@pytest.mark.parametrize("swap", [empty_database, zero_length], ids=["empty-db", "zero-length"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_empty_database_in_the_stores_place(
    lite: Cli, swap: Callable[[Path], None], command: str
) -> None:
    db, _, _ = _held(lite)
    swap(db)
    before = _digest(db)
    r = lite(*COMMANDS[command])
    assert r.code == 2
    line = _one_error(r.err)
    assert f"store empty: {db} holds no edgeaudit tables" in line
    assert "replaced or lost" in line
    assert "this workspace has held 6 entries" in line
    assert "`edgeaudit restore BACKUP`" in line
    assert "--trusted-checkpoint" in line
    assert "db upgrade" not in line
    assert _digest(db) == before  # no schema was created in it


def test_a_workspace_that_never_held_entries(lite: Cli) -> None:
    db = _db(lite)
    delete(db)
    r = lite("status")
    assert r.code == 2
    line = _one_error(r.err)
    assert "store missing" in line
    assert "this workspace has recorded no entries" in line
    assert "edgeaudit restore BACKUP" in line
    assert not db.exists()


def test_the_workspace_remembers_sizes_and_warns_when_the_store_shrinks(lite: Cli) -> None:
    db, _, six = _held(lite)
    seen = json.loads((config(lite).root / "keys" / "last-seen.json").read_text())
    assert (seen["tree_size"], seen["checkpoint_size"]) == (6, 6)
    lite.ok("append", str(GOOD_MORE))  # remembered when the command closes the store
    seen = json.loads((config(lite).root / "keys" / "last-seen.json").read_text())
    assert seen["tree_size"] == 9
    _settle(db)
    db.write_bytes(six)  # an older copy put back behind the workspace's back
    r = lite.ok("status")
    assert "has 6 entries but this workspace has seen 9" in r.err
    assert "--trusted-checkpoint" in r.err


# -- PostgreSQL: the database dropped, or replaced by an empty one ------------------------------


def _pg(db_url: str, *statements: str) -> None:
    name = make_url(db_url).database
    conn = _admin_connect()
    try:
        for s in statements:
            conn.execute(s.format(name=name))  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def pg_cli(
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", pg_url)


@pytest.mark.postgres
@pytest.mark.parametrize("command", list(COMMANDS))
def test_postgres_database_dropped_or_emptied(pg_cli: Cli, pg_url: str, command: str) -> None:
    cli = pg_cli
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    _pg(pg_url, 'DROP DATABASE "{name}" WITH (FORCE)')
    r = cli(*COMMANDS[command])
    assert r.code == 2
    line = _one_error(r.err)
    assert "store missing: postgresql://" in line
    assert "does not exist" in line
    assert "this workspace has held 6 entries" in line
    assert "db upgrade" not in line
    _pg(pg_url, 'CREATE DATABASE "{name}"')
    r = cli(*COMMANDS[command])
    assert r.code == 2
    line = _one_error(r.err)
    assert "store empty: postgresql://" in line
    assert "this workspace has held 6 entries" in line
    assert "db upgrade" not in line
