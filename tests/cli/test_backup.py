"""``edgeaudit backup DEST`` and ``edgeaudit restore SRC``: a consistent, owner-only copy of the
store and the workspace, put back and proven against the checkpoint the workspace kept."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.workspace.backup import MANIFEST
from tests.cli import GOOD, GOOD_MORE, Cli, config, make_workspace, stored_entries
from tests.conftest import _admin_connect

PASS_ENV = "EDGEAUDIT_TEST_BACKUP_PASSPHRASE"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _owner_only(root: Path) -> None:
    assert _mode(root) == 0o700
    for path in root.rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path


def _signed(cli: Cli) -> str:
    cli.ok("append", str(GOOD))
    return cli.ok("checkpoint").out


def _tokens(cli: Cli) -> Path:
    """A token ledger as `edgeaudit token` writes it (issued and revoked)."""
    tokens = config(cli).root / "tokens"
    tokens.mkdir(mode=0o700)
    (tokens / "issued.jsonl").write_text('{"jti": "t1"}\n{"jti": "t2"}\n')
    (tokens / "revoked.jsonl").write_text('{"jti": "t1", "reason": "left"}\n')
    return tokens


def _db(cli: Cli) -> Path:
    return config(cli).root / "evidence" / "store.db"


# -- SQLite ------------------------------------------------------------------------------------


def test_backup_writes_an_owner_only_consistent_copy(lite: Cli, tmp_path: Path) -> None:
    note = _signed(lite)
    _tokens(lite)
    dest = tmp_path / "bk"
    r = lite.ok("backup", str(dest))
    assert "6 entries, checkpoint of size 6" in r.out
    assert "SQLite online backup API" in r.out
    assert "private keys not included" in r.out
    _owner_only(dest)
    manifest = json.loads((dest / MANIFEST).read_text())
    assert manifest["origin"] == config(lite).origin
    assert manifest["verifier_key"] == config(lite).verifier_key
    assert manifest["store"]["tree_size"] == 6
    assert manifest["store"]["checkpoint_size"] == 6
    assert manifest["keys"]["included"] is False
    assert (dest / "checkpoint").read_text() == note
    assert set(manifest["files"]) == {
        "store.db",
        "checkpoint",
        "workspace/edgeaudit.toml",
        "workspace/keys/last-checkpoint",
        "workspace/tokens/issued.jsonl",
        "workspace/tokens/revoked.jsonl",
    }
    assert not list(dest.rglob("*.key"))
    assert not (dest / "store.db-wal").exists()  # one self-contained file
    conn = sqlite3.connect(f"file:{dest / 'store.db'}?mode=ro", uri=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 6
    conn.close()
    r = lite.ok("backup", str(tmp_path / "bk2"), "--json")
    assert r.json()["store"]["tree_size"] == 6


def test_backup_refuses_what_it_cannot_do_well(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    r = lite("backup", str(busy))
    assert r.code == 2
    assert "not an empty directory" in r.err
    r = lite("backup", str(tmp_path / "k"), "--include-keys")
    assert r.code == 2
    assert "--passphrase-env" in r.err
    r = lite("backup", str(tmp_path / "k"), "--include-keys", "--passphrase-env", PASS_ENV)
    assert r.code == 2
    assert f"${PASS_ENV}" in r.err
    assert not (tmp_path / "k").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_store_is_not_backed_up(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    db = _db(lite)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page,) = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_entries_2'"
    ).fetchone()
    conn.close()
    with db.open("r+b") as fh:
        fh.seek(4096 * (page - 1))
        fh.write(os.urandom(4096))
    r = lite("backup", str(tmp_path / "bk"))
    assert r.code == 2
    assert f"store damaged: {db}" in r.err
    assert "a backup of it would be damaged too" in r.err
    assert not (tmp_path / "bk").exists()


def test_restore_puts_a_damaged_store_back_and_proves_it(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    entries = stored_entries(lite)
    db = _db(lite)
    db.write_bytes(b"not a database at all" * 300)
    r = lite("status")
    assert r.code == 2
    assert "store damaged" in r.err
    r = lite("restore", str(bk))  # refused: the store is not empty (it cannot be read)
    assert r.code == 2
    assert "--force" in r.err
    assert db.read_bytes().startswith(b"not a database")
    r = lite.ok("restore", str(bk), "--force")
    assert f"verified against the checkpoint in {config(lite).state_file}: OK: 6 entries" in r.out
    assert "extends the trusted checkpoint of size 6" in r.out
    aside = [p for p in db.parent.iterdir() if p.name.startswith("store.db.replaced-")]
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"not a database")  # kept, never deleted
    assert stored_entries(lite) == entries
    lite.ok("verify", "--trusted-checkpoint", str(config(lite).state_file))
    lite.ok("append", str(GOOD_MORE))
    lite.ok("checkpoint")


def test_restore_a_deleted_store(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    db = _db(lite)
    db.unlink()
    r = lite("status")
    assert "store missing" in r.err
    r = lite.ok("restore", str(bk), "--json")
    data = r.json()
    assert data["verify"]["ok"] is True
    assert data["verify"]["trusted_checkpoint_size"] == 6
    assert data["trusted_checkpoint"] == str(config(lite).state_file)
    assert data["replaced_store_moved_to"] is None
    assert lite.ok("status", "--json").json()["entries"] == 6


def test_restore_of_an_older_backup_is_not_proven(lite: Cli, tmp_path: Path) -> None:
    """The workspace signed 9 entries after the backup of 6: the restored store does not
    extend its last checkpoint, and restore says so (exit 1) instead of pretending."""
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    lite.ok("append", str(GOOD_MORE))
    lite.ok("checkpoint")
    r = lite("restore", str(bk), "--force")
    assert r.code == 1
    assert "FAILED: the restored store does not prove itself" in r.out
    assert "[trusted.not_extended]" in r.out
    assert "entries appended after the backup are not in it" in r.out
    aside = [p for p in _db(lite).parent.iterdir() if p.name.startswith("store.db.replaced-")]
    assert len(aside) == 1  # the newer store is still there to be put back


def test_restore_refuses_a_store_with_entries_without_force(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    before = _db(lite).read_bytes()
    r = lite("restore", str(bk))
    assert r.code == 2
    assert "refusing to overwrite the store" in r.err
    assert "pass --force" in r.err
    assert _db(lite).read_bytes() == before


def test_a_damaged_backup_is_refused(lite: Cli, tmp_path: Path) -> None:
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    copy = bk / "store.db"
    data = bytearray(copy.read_bytes())
    data[5000] ^= 0x01
    copy.write_bytes(bytes(data))
    _db(lite).unlink()
    r = lite("restore", str(bk))
    assert r.code == 1
    assert f"backup damaged: {copy}: SHA-256 expected" in r.err
    assert not _db(lite).exists()


def test_restore_into_a_new_workspace_with_keys(
    lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed(lite)
    _tokens(lite)
    bk = tmp_path / "bk"
    monkeypatch.setenv(PASS_ENV, "correct horse battery staple")
    monkeypatch.setenv("WRONG_" + PASS_ENV, "wrong")
    kid = lite.ok("pack", "key").out.splitlines()[0]  # creates keys/manifest.key too
    r = lite.ok("backup", str(bk), "--include-keys", "--passphrase-env", PASS_ENV)
    assert "2 private key(s), encrypted" in r.out
    for name in ("log.key", "manifest.key"):
        pem = (bk / "workspace" / "keys" / name).read_text()
        assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (bk / "workspace" / "keys" / "manifest.pub").is_file()
    _owner_only(bk)
    new = tmp_path / "elsewhere"
    r = lite("restore", str(bk), "--workspace", str(new))
    assert r.code == 2
    assert "keys/log.key" in r.err
    assert "--passphrase-env" in r.err
    assert not new.exists()  # nothing written before every check passed
    r = lite("restore", str(bk), "-w", str(new), "--passphrase-env", "WRONG_" + PASS_ENV)
    assert r.code == 2
    assert "wrong passphrase" in r.err
    assert not new.exists()
    r = lite.ok("restore", str(bk), "-w", str(new), "--passphrase-env", PASS_ENV)
    assert f"created the workspace {new}" in r.out
    assert "the backup's own: the workspace kept none" in r.out
    assert _mode(new / "keys" / "log.key") == 0o600
    assert _mode(new / "keys" / "manifest.key") == 0o600
    assert (new / "tokens" / "revoked.jsonl").read_text() == '{"jti": "t1", "reason": "left"}\n'
    other = Cli(lite.capsys, new)
    assert other.ok("status", "--json").json()["entries"] == 6
    other.ok("append", str(GOOD_MORE))
    other.ok("checkpoint")  # the restored key signs, and extends what the old one signed
    other.ok("verify")
    assert other.ok("pack", "key").out.splitlines()[0] == kid  # the same manifest key


def test_restore_merges_token_ledgers(lite: Cli, tmp_path: Path) -> None:
    """A revocation made after the backup survives the restore of that backup."""
    _signed(lite)
    tokens = _tokens(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    with (tokens / "revoked.jsonl").open("a") as fh:
        fh.write('{"jti": "t2", "reason": "leaked"}\n')
    (tokens / "issued.jsonl").unlink()
    _db(lite).unlink()
    lite.ok("restore", str(bk))
    assert (tokens / "revoked.jsonl").read_text().splitlines() == [
        '{"jti": "t1", "reason": "left"}',
        '{"jti": "t2", "reason": "leaked"}',
    ]
    assert (tokens / "issued.jsonl").read_text() == '{"jti": "t1"}\n{"jti": "t2"}\n'


def test_restore_refuses_another_workspaces_backup(
    lite: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed(lite)
    bk = tmp_path / "bk"
    lite.ok("backup", str(bk))
    other = make_workspace(capsys, monkeypatch, tmp_path / "other", "sqlite")
    r = other("restore", str(bk))
    assert r.code == 2
    assert "restore it into its own workspace" in r.err


def test_restore_of_something_else(lite: Cli, tmp_path: Path) -> None:
    r = lite("restore", str(tmp_path))
    assert r.code == 2
    assert "is not an edgeaudit backup" in r.err


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_cli(
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", pg_url)


@pytest.mark.postgres
def test_postgres_backup_without_pg_dump_is_exit_2_naming_the_procedure(
    pg_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed(pg_cli)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = pg_cli("backup", str(tmp_path / "bk"))
    assert r.code == 2
    assert "`pg_dump` is not on PATH" in r.err
    assert "docs/adr/0011-backup-and-damaged-store.md" in r.err
    assert not (tmp_path / "bk").exists()


def _recreate(db_url: str) -> None:
    name = make_url(db_url).database
    conn = _admin_connect()
    try:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.skipif(
    shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
    reason="pg_dump / pg_restore not installed (postgresql-client)",
)
def test_postgres_backup_and_restore_with_pg_dump(pg_cli: Cli, pg_url: str, tmp_path: Path) -> None:
    _signed(pg_cli)
    entries = stored_entries(pg_cli)
    bk = tmp_path / "bk"
    r = pg_cli.ok("backup", str(bk))
    assert "pg_dump" in r.out
    assert "custom format" in r.out
    assert (bk / "store.pgdump").read_bytes().startswith(b"PGDMP")
    _owner_only(bk)
    r = pg_cli("restore", str(bk))
    assert r.code == 2
    assert "refusing to overwrite" in r.err
    _recreate(pg_url)  # the database lost: an empty one in its place
    assert "store empty" in pg_cli("status").err
    r = pg_cli.ok("restore", str(bk))
    assert "OK: 6 entries" in r.out
    assert "extends the trusted checkpoint of size 6" in r.out
    assert stored_entries(pg_cli) == entries
    pg_cli.ok("append", str(GOOD_MORE))
    pg_cli.ok("checkpoint")
    r = pg_cli("restore", str(bk), "--force")  # an older backup, forced: not proven
    assert r.code == 1
    assert "[trusted.not_extended]" in r.out


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="pg_restore not installed")
def test_postgres_restore_into_a_missing_database_says_create_it(
    pg_cli: Cli, pg_url: str, tmp_path: Path
) -> None:
    _signed(pg_cli)
    bk = tmp_path / "bk"
    pg_cli.ok("backup", str(bk))
    name = make_url(pg_url).database
    conn = _admin_connect()
    conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    r = pg_cli("restore", str(bk))
    assert r.code == 2
    assert "does not exist: create it" in r.err


def test_backup_while_appending_is_a_consistent_snapshot(lite: Cli, tmp_path: Path) -> None:
    """Appends from another connection go on during the backups; every copy is one snapshot:
    its head row, chain, tiles and checkpoint agree (verify passes on the copy alone)."""
    import threading

    from edgeaudit.note.verifier import Verifier
    from edgeaudit.store import Store
    from edgeaudit.verify import verify_log
    from tests.store.helpers import evs

    _signed(lite)
    conf = config(lite)
    stop = threading.Event()

    def append() -> None:
        with Store.open(conf.db_url) as store:
            log = store.log(conf.origin)
            i = 1000
            while not stop.is_set():
                log.append(evs(i, 200))
                i += 200

    writer = threading.Thread(target=append)
    writer.start()
    try:
        copies = []
        for n in range(3):
            dest = tmp_path / f"bk{n}"
            lite.ok("backup", str(dest))
            copies.append(dest)
    finally:
        stop.set()
        writer.join()
    sizes = set()
    for dest in copies:
        with Store.open(f"sqlite:///{dest / 'store.db'}") as store:
            log = store.log(conf.origin)
            report = verify_log(log, [Verifier.parse(conf.verifier_key)])
        assert report.ok, report.problems
        manifest = json.loads((dest / MANIFEST).read_text())
        assert manifest["store"]["tree_size"] == report.tree_size
        sizes.add(report.tree_size)
    assert max(sizes) > 6  # the appends did run during the backups
