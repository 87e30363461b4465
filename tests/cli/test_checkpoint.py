"""``edgeaudit checkpoint``: signed notes, list/show, idempotence, the signer's state file and
refusing to sign after the database was rolled back."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.workspace import config as cfg
from tests.cli import (
    GOOD,
    GOOD_MORE,
    Cli,
    config,
    is_postgres,
    mth,
    split_note,
    stored_entries,
)
from tests.conftest import _admin_connect

EXTRA = b'{"time":"2026-11-21T00:00:0%dZ","kind":"auth.logon","user":"intruder-%d"}\n'


def _signed_sizes(cli: Cli) -> list[int]:
    return [c["tree_size"] for c in cli.ok("checkpoint", "list", "--json").json()["checkpoints"]]


def _verifier(cli: Cli) -> Verifier:
    return Verifier.parse(cli.ok("key", "show").out.strip())


def test_checkpoint_prints_a_verifiable_note(cli: Cli) -> None:
    cli.ok("append", str(GOOD))
    note = cli.ok("checkpoint").out
    assert note.endswith("\n")
    body, sigs = split_note(note)
    origin = config(cli).origin
    root_b64 = body.split("\n")[2]
    assert body == f"{origin}\n6\n{root_b64}\n"
    assert len(sigs) == 1
    assert sigs[0].startswith(f"\u2014 {origin} ")
    # The root is the RFC 6962 hash of exactly the stored entries, computed here from the RFC.
    entries = stored_entries(cli)
    assert len(entries) == 6
    assert base64.b64decode(root_b64) == mth(entries)
    cp = verify_checkpoint(note.encode(), [_verifier(cli)], origin=origin)
    assert (cp.origin, cp.size, cp.root) == (origin, 6, mth(entries))

    data = cli.ok("checkpoint", "--json").json()
    assert set(data) == {"tree_size", "root_hash", "signed_at", "note"}
    assert data["note"] == note
    assert data["tree_size"] == 6
    assert data["root_hash"] == mth(entries).hex()
    assert data["signed_at"].endswith("Z")


def test_checkpoint_of_an_empty_log(lite: Cli) -> None:
    note = lite.ok("checkpoint").out
    cp = verify_checkpoint(note.encode(), [_verifier(lite)])
    assert cp.size == 0
    assert cp.root == hashlib.sha256(b"").digest()


def test_signing_twice_without_new_entries_returns_the_same_checkpoint(lite: Cli) -> None:
    lite.ok("append", str(GOOD))
    first = lite.ok("checkpoint", "--json").json()
    second = lite.ok("checkpoint", "sign", "--json").json()
    assert second == first
    lite.ok("append", str(GOOD))  # only duplicates: the tree did not grow
    assert lite.ok("checkpoint", "--json").json() == first
    assert len(lite.ok("checkpoint", "list", "--json").json()["checkpoints"]) == 1


def test_list_and_show(cli: Cli) -> None:
    assert cli.ok("checkpoint", "list").out.strip() == "no checkpoints signed yet"
    r = cli("checkpoint", "show")
    assert r.code == 2
    assert "edgeaudit checkpoint" in r.err

    cli.ok("append", str(GOOD))
    six = cli.ok("checkpoint").out
    cli.ok("append", str(GOOD_MORE))
    nine = cli.ok("checkpoint").out

    listed = cli.ok("checkpoint", "list", "--json").json()["checkpoints"]
    assert [c["tree_size"] for c in listed] == [6, 9]
    assert [c["note"] for c in listed] == [six, nine]
    rows = [line.split("\t") for line in cli.ok("checkpoint", "list").out.splitlines()]
    assert [(int(r[0]), r[1]) for r in rows] == [(c["tree_size"], c["root_hash"]) for c in listed]

    assert cli.ok("checkpoint", "show", "6").out == six
    assert cli.ok("checkpoint", "show").out == nine  # default: the latest
    assert cli.ok("checkpoint", "show", "9", "--json").json()["note"] == nine

    r = cli("checkpoint", "show", "7")
    assert r.code == 2
    assert "size 7" in r.err
    assert "6, 9" in r.err
    assert r.out == ""


def test_sign_does_not_take_a_size(lite: Cli) -> None:
    r = lite("checkpoint", "sign", "5")
    assert r.code == 2
    assert "drop SIZE" in r.err
    assert lite.ok("checkpoint", "list", "--json").json() == {"checkpoints": []}


def test_state_file_records_the_last_signed_note(lite: Cli) -> None:
    state = config(lite).state_file
    assert state == config(lite).root / "keys" / "last-checkpoint"
    assert not state.exists()
    lite.ok("append", str(GOOD))
    note = lite.ok("checkpoint").out
    assert state.read_text(encoding="utf-8") == note
    lite.ok("append", str(GOOD_MORE))
    note = lite.ok("checkpoint").out
    assert state.read_text(encoding="utf-8") == note
    assert not state.with_name("last-checkpoint.tmp").exists()


class Snapshot:
    """Copy the workspace's store and later put the copy back (a rollback behind our back).

    SQLite: the database files. PostgreSQL: ``CREATE DATABASE ... TEMPLATE`` and then point the
    workspace at the copy with ``$EDGEAUDIT_DB_URL``.
    """

    def __init__(self, cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cli, self.db_url, self.monkeypatch = cli, db_url, monkeypatch
        self.files: dict[Path, bytes] = {}
        self.copy: str | None = None

    def _sqlite_files(self) -> list[Path]:
        db = config(self.cli).root / "evidence" / "store.db"
        return [db, db.with_name("store.db-wal"), db.with_name("store.db-shm")]

    def take(self) -> None:
        if is_postgres(self.db_url):
            self.copy = f"edgeaudit_snap_{uuid.uuid4().hex[:12]}"
            source = make_url(self.db_url).database
            conn = _admin_connect()
            try:
                conn.execute(f'CREATE DATABASE "{self.copy}" TEMPLATE "{source}"')  # type: ignore[attr-defined]
            finally:
                conn.close()  # type: ignore[attr-defined]
        else:
            self.files = {p: p.read_bytes() for p in self._sqlite_files() if p.exists()}

    def restore(self) -> None:
        if self.copy:
            url = make_url(self.db_url).set(database=self.copy)
            self.monkeypatch.setenv(cfg.ENV_DB_URL, url.render_as_string(hide_password=False))
        else:
            for p in self._sqlite_files():
                p.unlink(missing_ok=True)
            for p, data in self.files.items():
                p.write_bytes(data)

    def drop(self) -> None:
        if self.copy:
            conn = _admin_connect()
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')  # type: ignore[attr-defined]
            finally:
                conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def snapshot(cli: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Snapshot]:
    snap = Snapshot(cli, db_url, monkeypatch)
    try:
        yield snap
    finally:
        snap.drop()


def test_rolled_back_store_is_refused_thanks_to_the_state_file(
    cli: Cli, snapshot: Snapshot, tmp_path: Path
) -> None:
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    snapshot.take()  # store with 6 entries and the checkpoint of size 6
    cli.ok("append", str(GOOD_MORE))
    nine = cli.ok("checkpoint").out
    state = config(cli).state_file
    assert state.read_text(encoding="utf-8") == nine
    saved = tmp_path / "nine.note"
    saved.write_text(nine, encoding="utf-8")

    snapshot.restore()
    assert cli.ok("status", "--json").json()["entries"] == 6  # the rollback worked
    assert _signed_sizes(cli) == [6]

    # Same size as the store's latest checkpoint: without the state file this would succeed.
    r = cli("checkpoint")
    assert r.code == 2
    assert "rolled back" in r.err
    assert r.out == ""

    # A different history grown past the signed size is a split view: refused as well.
    extra = b"".join(EXTRA % (i, i) for i in range(5))
    cli.ok("append", "-", stdin=extra)
    assert cli.ok("status", "--json").json()["entries"] == 11
    r = cli("checkpoint")
    assert r.code == 2
    assert "does not extend" in r.err
    # The state file still holds the last honest note.
    assert state.read_text(encoding="utf-8") == nine
    assert _signed_sizes(cli) == [6]

    # An auditor with the note saved earlier catches the rollback as well.
    r = cli("verify", "--trusted-checkpoint", str(saved))
    assert r.code == 1
    assert "FAILED" in r.out

    # The state file is what protected the signer: without it the store alone is consistent.
    state.unlink()
    cli.ok("checkpoint")
