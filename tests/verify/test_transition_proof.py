"""``edgeaudit proof --revoked KEYID@SIZE``, as ``verify`` takes it: a proof against a
checkpoint that only a key revoked below its size signed fails (exit 1, naming the key and the
size); what the key signed up to SIZE still proves, across a rotation too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import GOOD, GOOD_MORE, Cli, make_workspace


@pytest.fixture
def lite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


def _label(vkey: str) -> str:
    return "+".join(vkey.split("+")[:2])


def test_proof_refuses_what_a_revoked_key_signed_beyond_its_size(lite: Cli, tmp_path: Path) -> None:
    cli = lite
    old = cli.ok("key", "show").out.strip()
    kid = old.split("+")[1]
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint", "sign")  # 6
    cli.ok("append", str(GOOD_MORE))
    cli.ok("checkpoint", "sign")  # 9

    assert cli("proof", "inclusion", "0").code == 0
    r = cli("proof", "inclusion", "0", "--revoked", f"{kid}@8")
    assert r.code == 1, r.out
    assert f"key {_label(old)} is revoked as of size 8" in r.out + r.err
    assert cli("proof", "inclusion", "0", "--revoked", f"{kid}@9").code == 0
    # the key's full label names it too; a file of revocations, with a comment
    assert cli("proof", "inclusion", "0", "--revoked", f"{_label(old)}@8").code == 1
    listed = tmp_path / "revoked.txt"
    listed.write_text(f"# compromised on the 3rd\n{kid}@6  # last good: the kept checkpoint\n")
    r = cli("proof", "consistency", "6", "9", "--revoked", str(listed))
    assert r.code == 1, r.out
    assert "checkpoint of size 9" in r.out + r.err
    assert cli("proof", "consistency", "6", "9", "--revoked", f"{kid}@9").code == 0
    r = cli("proof", "consistency", "6", "9", "--revoked", f"{kid}@5")
    assert r.code == 1  # the old checkpoint itself is beyond the revocation
    assert "checkpoint of size 6" in r.out + r.err
    # another key's revocation takes nothing away from this one
    assert cli("proof", "consistency", "6", "9", "--revoked", "0badc0de@0").code == 0
    r = cli("proof", "inclusion", "0", "--revoked", "not-a-revocation")
    assert r.code == 2
    assert "KEYID@SIZE" in r.out + r.err

    # after a rotation: the previous key revoked as of the transition still proves what it
    # signed, and the next key signs on; revoked before it, its checkpoints fail
    size = cli.ok("--json", "key", "rotate").json()["transition_size"]
    more = tmp_path / "more.jsonl"
    more.write_text('{"time":"2026-11-21T00:00:00Z","kind":"auth.logon","source":"sshd"}\n')
    cli.ok("append", str(more))
    head = int(cli.ok("--json", "checkpoint", "sign").json()["tree_size"])
    assert cli("proof", "consistency", "6", str(head), "--revoked", f"{kid}@{size}").code == 0
    r = cli("proof", "consistency", "6", str(head), "--revoked", f"{kid}@5")
    assert r.code == 1
    assert f"key {_label(old)} is revoked as of size 5" in r.out + r.err
    new = cli.ok("key", "show").out.strip()
    r = cli("proof", "inclusion", "0", "--revoked", f"{new.split('+')[1]}@{size}")
    assert r.code == 1  # the latest checkpoint is the next key's alone, beyond its revocation
    assert f"key {_label(new)} is revoked as of size {size}" in r.out + r.err
