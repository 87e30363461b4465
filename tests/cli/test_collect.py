"""`edgeaudit collect` and `quarantine list` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.cli import Cli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "collect" / "data" / "journald"
INVENTORY = ROOT / "policies" / "inventory.yaml"


def _collect(cli: Cli, *files: str) -> dict[str, int]:
    paths = [str(DATA / f) for f in files]
    out: dict[str, int] = cli.ok(
        "collect", "journald", *paths, "--inventory", str(INVENTORY), "--json"
    ).json()
    return out


def test_collect_quarantine_and_recollect(cli: Cli) -> None:
    first = _collect(cli, "sshd_accepted_certificate.jsonl", "forged_sshd_identifier.jsonl")
    assert first == {
        "files": 2,
        "read": 2,
        "events": 1,
        "appended": 1,
        "duplicates": 0,
        "quarantined": 1,
        "skipped": 0,
        "redacted": 0,
        "skip_reasons": {},
    }
    again = _collect(cli, "sshd_accepted_certificate.jsonl", "forged_sshd_identifier.jsonl")
    assert (again["read"], again["appended"], again["quarantined"]) == (0, 0, 0)

    q = cli.ok("quarantine", "list", "--json").json()
    assert q["total"] == 1
    (rec,) = q["records"]
    assert rec["location"] == "forged_sshd_identifier.jsonl:1"
    assert rec["reason"].startswith("forged identifier")
    assert '"SYSLOG_IDENTIFIER"' in rec["raw"]

    status = cli.ok("status", "--json").json()
    assert (status["entries"], status["quarantined"]) == (1, 1)

    # The stored event is the normalized record, resolved through the inventory.
    cli.ok("checkpoint")
    proof = cli.ok("proof", "inclusion", "0", "--json").json()
    event = json.loads(base64.b64decode(proof["entry"]))
    assert event["kind"] == "auth.logon"
    assert event["actor"]["resolved"] is True
    assert event["provenance"]["source_kind"] == "journald"
    cli.ok("verify")


def test_collect_errors_name_the_problem(cli: Cli, tmp_path: Path) -> None:
    r = cli("collect", "nope", str(DATA / "malformed.jsonl"))
    assert r.code == 2
    assert "unknown source kind 'nope'" in r.err
    r = cli("collect", "journald", str(tmp_path / "missing.jsonl"))
    assert (r.code, "no such file" in r.err) == (2, True)
    binary = tmp_path / "core.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x00\x00")
    r = cli("collect", "journald", str(binary))
    assert r.code == 2
    assert "core.bin: looks binary (NUL byte at offset 6)" in r.err
    assert cli.ok("status", "--json").json()["entries"] == 0


def test_the_summary_counts_the_badge_rows_a_card_number_was_removed_from(
    lite: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Card numbers outside the card column (a holder "Visitor 40099999", a reason naming a
    card) and every card or PIN of a quarantined line are replaced before storing: the summary
    says how many rows that was, as JSON and as text."""
    monkeypatch.setenv("EDGEAUDIT_CARD_HASH_KEY", "test-card-key")
    csv = ROOT / "tests" / "collect" / "data" / "badge_csv" / "card_numbers_elsewhere.csv"
    args = ("collect", "badge-csv", str(csv), "--inventory", str(INVENTORY), "--timezone", "UTC")
    summary = lite.ok(*args, "--json").json()
    # the denied event (holder and reason) and both quarantined lines; the granted row's card
    # column is key-hashed as every card column is, which is not counted
    assert (summary["events"], summary["quarantined"], summary["redacted"]) == (3, 2, 3)
    assert summary["read"] == 5  # the header and four rows
    q = lite.ok("quarantine", "list", "--json").json()
    assert all("40067890" not in r["raw"] and "4321" not in r["raw"] for r in q["records"])
    again = lite.ok(*args)  # already stored: nothing new, and the line says so in words
    assert "redacted 0" in again.out.splitlines()[0]
    assert "quarantined 0" in again.out


def test_the_summary_names_the_reasons_of_skipped_records(lite: Cli, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "2026-11-20T10:00:00Z host-a sshd[10]: Accepted password for ravi from 10.0.0.9 port 22"
        " ssh2\n"
        "2026-11-20T10:00:01Z host-a CRON[11]: (root) CMD (run-parts /etc/cron.hourly)\n"
        "2026-11-20T10:00:02Z host-a CRON[12]: (root) CMD (run-parts /etc/cron.hourly)\n"
        "2026-11-20T10:00:03Z host-a sshd[10]: Received disconnect from 10.0.0.9 port 22:11:"
        " disconnected by user\n",
        encoding="utf-8",
    )
    args = ("collect", "syslog", str(log), "--inventory", str(INVENTORY))
    summary = lite.ok(*args, "--json").json()
    assert (summary["read"], summary["events"], summary["skipped"]) == (4, 1, 3)
    assert summary["skip_reasons"] == {
        "program not audited (only sshd, sudo, su and login lines are)": 2,
        "sshd message that carries no event": 1,
    }
    log.write_text(log.read_text(encoding="utf-8") * 2, encoding="utf-8")  # grown: the rest
    text = lite.ok(*args).out.splitlines()
    assert text[0] == (
        "files 1  read 4  events 1  appended 1  duplicates 0  quarantined 0  skipped 3  redacted 0"
    )
    assert text[1:] == [
        "  skipped       2  program not audited (only sshd, sudo, su and login lines are)",
        "  skipped       1  sshd message that carries no event",
    ]
