"""Packs from either store (SQLite and PostgreSQL), and a damaged store is refused, not packed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.cli import init_args
from tests.pack.helpers import run
from tests.verify import tamper as t

SAMPLE = Path(__file__).resolve().parents[2] / "evidence" / "sample-events.jsonl"


@pytest.fixture
def ws(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    root = tmp_path / "ws"
    assert run("--workspace", str(root), "init", *init_args(db_url))[0] == 0
    code, _, err = run("--workspace", str(root), "append", str(SAMPLE))
    assert code == 0, err
    return root


def _build(ws: Path, out: Path) -> tuple[int, str, str]:
    return run(
        "--workspace", str(ws), "pack", "build", "--from", "2026-11-20", "--to", "2026-11-21",
        "--out", str(out), "--no-pdf",
    )  # fmt: skip


def test_pack_from_each_store(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.zip"
    code, _, err = _build(ws, out)
    assert code == 0, err
    config = cfg.load(ws)
    vkey = tmp_path / "vkey"
    vkey.write_text(config.verifier_key)
    code, text, err = run(
        "verify", str(out), "--key", str(vkey), "--manifest-key", str(ws / "keys/manifest.pub"),
        "--json",
    )  # fmt: skip
    assert code == 0, text + err
    report = json.loads(text)
    assert report["entries"] == len(SAMPLE.read_text().splitlines())


def test_a_damaged_store_is_refused(ws: Path, tmp_path: Path) -> None:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        body = t.read_entries(store, log.log_id)[3][1]
        with t.attacker(store) as conn:
            t.set_body(conn, log.log_id, 3, body.replace(b'"kind"', b'"kind" ', 1))
    out = tmp_path / "pack"
    code, _, err = _build(ws, out)
    assert code == 1
    assert "entry 3: its bytes hash to" in err
    assert not out.exists()
