"""`edgeaudit collect` and `quarantine list` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path

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
