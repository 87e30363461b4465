"""The exceptions register's remediation state: a failing result of the period that a later
period's recorded assessment shows passing reads "remediated after the period", citing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from edgeaudit.store import Store
from tests.cli import Cli, config, make_workspace
from tests.policy.helpers import Evidence, copy_policies, key_state


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


def test_a_finding_fixed_in_a_later_period_reads_remediated(ws: Cli, tmp_path: Path) -> None:
    pol = copy_policies(tmp_path / "policies")
    (pol / "waivers.yaml").write_text("version: 1\nwaivers: []\n", encoding="utf-8")
    conf = config(ws)
    with Store.open(conf.db_url) as store:
        Evidence(store.log(conf.origin)).add(
            # 2026Q3: media-b's key last rotated 500 days before the quarter's end -> fails
            key_state("2026-09-20T00:00:00Z", "media-b-data", "2025-05-19T00:00:00Z"),
            # 2026Q4: rotated on 2026-11-10, seen by a snapshot of 2026-11-15 -> passes
            key_state("2026-11-15T00:00:00Z", "media-b-data", "2026-11-10T00:00:00Z"),
            # fintech-a's key: too old in both quarters -> stays open
            key_state("2026-09-20T00:00:00Z", "fintech-a-data", "2024-01-01T00:00:00Z"),
        )
    q3 = ws("evaluate", "--quarter", "2026Q3", "--policies", str(pol), "--json", "--no-record")
    (failing,) = [
        r
        for r in q3.json()["results"]
        if r["rule"] == "key-rotation-age" and r["scope"].get("key") == "media-b-data"
    ]
    assert failing["status"] == "fail"
    q4 = ws("evaluate", "--quarter", "2026Q4", "--policies", str(pol), "--json")
    (later,) = [r for r in q4.json()["results"] if r["id"] == failing["id"]]
    assert later["status"] == "pass"
    out = tmp_path / "pack"
    ws.ok("pack", "build", "--quarter", "2026Q3", "--policies", str(pol), "--out", str(out))
    doc = json.loads((out / "findings.json").read_text())
    assert [r["status"] for r in doc["results"] if r["id"] == failing["id"]] == ["fail"]
    text = " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(out / "report.pdf").pages
    )
    at = text.index(failing["id"], text.index("Exceptions register"))
    row = text[at : at + 900]
    assert "remediated after the period: passed in the assessment of 2026-10-01T00:00:00Z" in row
    # a failing result nothing later shows fixed stays open
    (still,) = [
        r
        for r in doc["results"]
        if r["rule"] == "key-rotation-age" and r["scope"].get("key") == "fintech-a-data"
    ]
    at = text.index(still["id"], text.index("Exceptions register"))
    assert " open" in text[at : at + 700]
    assert "remediated" not in text[at : at + 700]
