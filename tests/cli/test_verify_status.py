"""``edgeaudit verify`` (exit 0 / 1, trusted checkpoints, other keys) and ``edgeaudit status``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgeaudit.note.signer import generate
from edgeaudit.store.triggers import trigger_names
from tests.cli import GOOD, GOOD_MORE, Cli, config, is_postgres, mth, stored_entries

STATUS_KEYS = {
    "workspace",
    "origin",
    "role",  # own / mirror / other: the log shown (--log)
    "logs",  # every log of the store
    "backend",
    "entries",
    "quarantined",
    "latest_checkpoint",
    "unsigned_entries",
    "kinds",
    "tenants",
}


def test_verify_ok(cli: Cli, tmp_path: Path) -> None:
    r = cli.ok("verify")
    assert r.out.startswith("OK: 0 entries")
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    cli.ok("append", str(GOOD_MORE))
    cli.ok("checkpoint")
    r = cli.ok("verify")
    assert r.out.startswith("OK: 9 entries, chain and tree intact; 2 signed checkpoint(s)")
    assert f"root {mth(stored_entries(cli)).hex()}" in r.out
    assert r.err == ""
    report = cli.ok("verify", "--json").json()
    assert report["ok"] is True
    assert report["problems"] == []
    assert (report["tree_size"], report["entries_checked"]) == (9, 9)
    assert report["checkpoints_checked"] == 2
    assert report["trusted_checkpoint_size"] is None
    assert report["root_hash"] == mth(stored_entries(cli)).hex()


def test_verify_with_a_trusted_checkpoint(cli: Cli, tmp_path: Path) -> None:
    cli.ok("append", str(GOOD))
    six = tmp_path / "six.note"
    six.write_text(cli.ok("checkpoint").out, encoding="utf-8")
    r = cli.ok("verify", "--trusted-checkpoint", str(six))
    assert "extends trusted checkpoint of size 6" in r.out
    cli.ok("append", str(GOOD_MORE))  # the store grew, unsigned: it still extends the note
    r = cli.ok("verify", "--trusted-checkpoint", str(six), "--json")
    assert r.json()["trusted_checkpoint_size"] == 6


def test_verify_trusted_checkpoint_errors(lite: Cli, tmp_path: Path) -> None:
    lite.ok("append", str(GOOD))
    note = lite.ok("checkpoint").out
    r = lite("verify", "--trusted-checkpoint", str(tmp_path / "missing.note"))
    assert r.code == 2
    assert "cannot read" in r.err
    # A note signed by someone else is not trusted: verification fails (exit 1).
    forged = tmp_path / "forged.note"
    body = note.rpartition("\n\n")[0] + "\n"
    other = generate(config(lite).origin)
    forged.write_bytes(other.sign_note(body.encode()))
    r = lite("verify", "--trusted-checkpoint", str(forged))
    assert r.code == 1
    assert "trusted" in r.err


def test_verify_with_another_key_fails(cli: Cli, tmp_path: Path) -> None:
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    origin = config(cli).origin
    wrong = generate(origin).verifier_key
    r = cli("verify", "--key", wrong)
    assert r.code == 1
    assert r.out.startswith("FAILED")
    assert "no signature from a trusted key" in r.out
    report = cli("verify", "--key", wrong, "--json")
    assert report.code == 1
    assert report.json()["ok"] is False
    # --key also reads a file; the right key verifies.
    right = tmp_path / "log.vkey"
    right.write_text(config(cli).verifier_key + "\n")
    cli.ok("verify", "--key", str(right))
    cli.ok("verify", "--key", wrong, "--key", str(right))  # one trusted key suffices
    r = cli("verify", "--key", "not a verifier key")
    assert r.code == 2


def test_tampered_entry_fails_verification(lite: Cli) -> None:
    lite.ok("append", str(GOOD))
    lite.ok("checkpoint")
    db = config(lite).root / "evidence" / "store.db"
    conn = sqlite3.connect(db)
    try:
        for name in trigger_names("entries"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        body = b'{"kind":"key.use","tenant":"media-b","time":"2026-11-20T08:10:00Z"}'
        conn.execute("UPDATE entries SET body = ? WHERE idx = 3", (body,))
        conn.commit()
    finally:
        conn.close()
    r = lite("verify")
    assert r.code == 1
    assert r.out.startswith("FAILED")
    report = lite("verify", "--json")
    assert report.code == 1
    problems = report.json()["problems"]
    assert problems
    assert 3 in [p.get("index") for p in problems]


def test_status_json_shape_and_counts(cli: Cli, db_url: str) -> None:
    data = cli.ok("status", "--json").json()
    assert set(data) == STATUS_KEYS
    assert data["quarantined"] == 0
    assert data["backend"] == ("postgresql" if is_postgres(db_url) else "sqlite")
    assert data["workspace"] == str(config(cli).root)
    assert data["origin"] == "edgeaudit.local/blr-pod-1"
    assert (data["entries"], data["latest_checkpoint"], data["unsigned_entries"]) == (0, None, 0)
    assert (data["kinds"], data["tenants"]) == ({}, {})

    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    cli.ok("append", str(GOOD_MORE))
    data = cli.ok("status", "--json").json()
    assert set(data) == STATUS_KEYS
    assert (data["entries"], data["latest_checkpoint"], data["unsigned_entries"]) == (9, 6, 3)
    assert data["kinds"] == {
        "auth.logoff": 1,
        "auth.logon": 1,
        "grant.approve": 1,
        "grant.request": 1,
        "key.use": 3,
        "physical.access": 1,
        "probe.result": 1,
    }
    assert data["tenants"] == {"(site-wide)": 1, "ai-c": 3, "fintech-a": 3, "media-b": 2}
    assert list(data["kinds"]) == sorted(data["kinds"])


def test_status_text(lite: Cli) -> None:
    assert "checkpoint none" in lite.ok("status").out
    lite.ok("append", str(GOOD))
    lite.ok("checkpoint")
    lite.ok("append", str(GOOD_MORE))
    out = lite.ok("status").out
    assert "entries    9" in out
    assert "checkpoint 6 (3 entries not yet covered)" in out
    assert "(sqlite)" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["key.use", "3"] in lines
    assert ["(site-wide)", "1"] in lines
