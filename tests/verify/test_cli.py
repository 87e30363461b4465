"""``edgeaudit verify`` and ``edgeaudit proof`` on tampered workspaces: exit codes and output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from edgeaudit.store import EvidenceLog, Store
from tests.verify import tamper as t


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEAUDIT_DB_URL", raising=False)
    monkeypatch.delenv("EDGEAUDIT_WORKSPACE", raising=False)


@pytest.fixture
def ws(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    return t.make_workspace(tmp_path, db_url, capsys)


@pytest.fixture
def opened(ws: Path, db_url: str) -> Iterator[tuple[Store, EvidenceLog]]:
    with Store.open(db_url) as store:
        yield store, store.log(t.CLI_ORIGIN)


def test_cli_verify_intact(ws: Path, capsys) -> None:
    rc, out, err = t.cli(capsys, "--workspace", ws, "verify")
    assert rc == 0, err
    assert out.startswith("OK: 40 entries, chain and tree intact; 2 signed checkpoint(s) verified")

    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify", "--json")
    assert rc == 0
    data = json.loads(out)
    assert (data["ok"], data["tree_size"], data["problems"]) == (True, 40, [])


def _tamper(case: str, store: Store, log: EvidenceLog) -> None:
    body = t.read_entries(store, log.log_id)[17][1]
    with t.attacker(store) as conn:
        if case == "edited":
            t.set_body(conn, log.log_id, 17, body.replace(b'"alice"', b'"mallory"'))
        elif case == "deleted":
            t.run(conn, "DELETE FROM entries WHERE log_id = :l AND idx = 17", {"l": log.log_id})
        else:
            t.run(conn, "DELETE FROM entries WHERE log_id = :l AND idx >= 35", {"l": log.log_id})


EXPECTED = {
    "edited": ("entry.modified", 17),
    "deleted": ("entry.missing", 17),
    "truncated": ("log.size_mismatch", None),
}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_cli_verify_tampered(case: str, ws: Path, opened, capsys) -> None:
    _tamper(case, *opened)
    code, index = EXPECTED[case]

    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify")
    assert rc == 1
    assert out.startswith("FAILED: ")
    assert f"[{code}]" in out
    if index is not None:
        assert f"entry {index}" in out

    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify", "--json")
    assert rc == 1
    data = json.loads(out)
    assert data["ok"] is False
    found = [p for p in data["problems"] if p["code"] == code]
    assert len(found) == 1
    assert found[0].get("index") == index
    assert {"code", "message", "expected", "found"} <= set(found[0])


def test_cli_verify_missing_workspace(tmp_path: Path, capsys) -> None:
    rc, out, err = t.cli(capsys, "--workspace", tmp_path / "nowhere", "verify")
    assert rc == 2
    assert out == ""
    assert "not an edgeaudit workspace" in err


def test_cli_trusted_checkpoint_catches_consistent_truncation(
    ws: Path, opened, tmp_path: Path, capsys
) -> None:
    rc, out, _ = t.cli(capsys, "--workspace", ws, "checkpoint", "show", "40", "--json")
    assert rc == 0
    saved = tmp_path / "seen-40.note"
    saved.write_text(json.loads(out)["note"], encoding="utf-8")
    store, log = opened
    with t.attacker(store) as conn:
        t.run(conn, "DELETE FROM entries WHERE log_id = :l AND idx >= 35", {"l": log.log_id})
        t.run(
            conn, "DELETE FROM checkpoints WHERE log_id = :l AND tree_size > 35", {"l": log.log_id}
        )
        t.rehash(conn, log.log_id)

    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify")
    assert rc == 0, out
    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify", "--trusted-checkpoint", saved)
    assert rc == 1
    assert "[trusted.not_extended] trusted checkpoint of size 40" in out
    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify", "--json", "--trusted-checkpoint", saved)
    data = json.loads(out)
    assert (data["ok"], data["trusted_checkpoint_size"]) == (False, 40)
    assert [p["code"] for p in data["problems"]] == ["trusted.not_extended"]
    # The signer keeps its own record of the last note it signed and refuses the truncated log.
    rc, out, err = t.cli(capsys, "--workspace", ws, "checkpoint")
    assert rc != 0
    assert out == ""
    assert "refusing to sign" in err
    # A trusted checkpoint file that cannot be read is a usage error.
    rc, _, err = t.cli(
        capsys, "--workspace", ws, "verify", "--trusted-checkpoint", tmp_path / "absent"
    )
    assert rc == 2
    assert "cannot read" in err


def test_cli_proof_refuses_corrupted_tile(ws: Path, opened, capsys) -> None:
    rc, out, err = t.cli(capsys, "--workspace", ws, "proof", "inclusion", "20", "--json")
    assert rc == 0, err
    assert json.loads(out)["index"] == 20
    store, log = opened
    where = "WHERE log_id = :l AND level = 0 AND tidx = 1"
    with store.engine.begin() as conn:
        blob = bytearray(
            conn.execute(text(f"SELECT hashes FROM tiles {where}"), {"l": log.log_id}).scalar_one()
        )
        blob[5 * 32] ^= 0xFF  # the leaf hash of entry 21: a sibling on entry 20's proof path
        conn.execute(
            text(f"UPDATE tiles SET hashes = :h {where}"), {"h": bytes(blob), "l": log.log_id}
        )

    rc, out, err = t.cli(capsys, "--workspace", ws, "proof", "inclusion", "20")
    assert rc == 1
    assert out == ""
    assert "edgeaudit: error:" in err
    rc, out, _ = t.cli(capsys, "--workspace", ws, "proof", "inclusion", "20", "--json")
    assert rc == 1  # with --json the error is JSON on stdout too, never a proof
    assert json.loads(out)["error"]["exit_code"] == 1
    # A proof whose path avoids the corrupted hash still verifies and is printed.
    rc, out, _ = t.cli(capsys, "--workspace", ws, "proof", "inclusion", "35", "--json")
    assert rc == 0
    assert json.loads(out)["index"] == 35
    # And verify names the tile.
    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify")
    assert rc == 1
    assert "[tiles.mismatch] stored tree tile 0/1" in out


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        pytest.param(["proof", "inclusion", "35"], 1, id="inclusion"),
        pytest.param(["proof", "consistency", "10", "40"], 1, id="consistency"),
        pytest.param(["checkpoint"], 1, id="checkpoint"),
    ],
)
def test_cli_missing_tile_is_an_error_not_a_crash(
    ws: Path, opened, capsys, argv: list[str], exit_code: int
) -> None:
    """The partial tile 0/2 (entries 32..39), which every proof of the tree of 40 needs, is
    deleted: proofs cannot be served, and the CLI must say so and exit, printing nothing."""
    store, log = opened
    with store.engine.begin() as conn:
        t.run(
            conn,
            "DELETE FROM tiles WHERE log_id = :l AND level = 0 AND tidx = 2",
            {"l": log.log_id},
        )

    rc, out, _ = t.cli(capsys, "--workspace", ws, "verify")
    assert rc == 1
    assert "[tiles.missing] stored tree tile 0/2" in out

    rc, out, err = t.cli(capsys, "--workspace", ws, *argv)
    assert rc == exit_code
    assert out == ""
    assert "edgeaudit: error:" in err
