"""A pack built exactly at the size of a key transition carries the transition as its
checkpoint, whichever note of that tree it was given: an auditor who trusts only the previous
log key, or only the next one, verifies it as at any other size (docs/pack-format.md, "Keys").

Before the fix, ``pack build --checkpoint FILE`` with a note of the transition's tree signed by
one of the two keys alone wrote that note: the pack carried no transition (earlier checkpoints
are carried only below the pack's size), and the other key's auditor could not verify it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import parse_note
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import log_signer
from tests.cli import GOOD, Cli, config, make_workspace


@pytest.fixture
def lite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


def _transition(cli: Cli, size: int) -> str:
    return str(json.loads(cli.ok("--json", "checkpoint", "show", str(size)).out)["note"])


def _plain_note(signer_config: cfg.WorkspaceConfig, transition: str) -> bytes:
    """The transition's tree (origin, size, root, no extension lines) signed by one key."""
    cp = Checkpoint.parse(parse_note(transition.encode()).body)
    with log_signer(signer_config) as key:
        return key.sign_checkpoint(Checkpoint(cp.origin, cp.size, cp.root))


def test_a_pack_at_the_transition_size_carries_the_transition(lite: Cli, tmp_path: Path) -> None:
    cli = lite
    old = cli.ok("key", "show").out.strip()
    before = config(cli)  # names the previous key, whose file rotation leaves in place
    cli.ok("append", str(GOOD))
    mkey = tmp_path / "manifest.pub"
    cli.ok("pack", "key", "--out", str(mkey))
    done = cli.ok("--json", "key", "rotate").json()
    new, size = done["verifier_key"], done["transition_size"]
    transition = _transition(cli, size)
    old_kid = old.split("+")[1]

    notes = {"next key alone": _plain_note(config(cli), transition)}
    notes["previous key alone"] = _plain_note(before, transition)
    for who, note in notes.items():
        assert "prev-key" not in note.decode()
        given = tmp_path / f"{who}.checkpoint"
        given.write_bytes(note)
        pack = tmp_path / who.replace(" ", "-")
        r = cli("--json", "pack", "build", "--quarter", "2026Q4", "--no-pdf",
                "--checkpoint", str(given), "--out", str(pack))  # fmt: skip
        assert r.code == 0, (who, r.err)
        assert r.json()["tree_size"] == size
        # the pack's checkpoint is the hand-over itself, signed by both keys
        assert (pack / "checkpoint").read_text() == transition, who
        for key in (old, new):  # each auditor, trusting one key only
            r = cli("verify", str(pack), "--key", key, "--manifest-key", str(mkey))
            assert r.code == 0, (who, key, r.out)
            assert f"checkpoint of size {size} signed" in r.out
        # still fail-closed: the previous key revoked before the hand-over is not followed
        r = cli("verify", str(pack), "--key", old, "--manifest-key", str(mkey),
                "--revoked", f"{old_kid}@{size - 1}")  # fmt: skip
        assert r.code == 1, (who, r.out)
        assert "checkpoint" in r.out
        # and an outsider who swaps the pack's note back for the one-key note breaks it for
        # the other key's auditor (the manifest lists the transition's bytes)
        (pack / "checkpoint").write_bytes(note)
        other = new if who == "previous key alone" else old
        r = cli("verify", str(pack), "--key", other, "--manifest-key", str(mkey))
        assert r.code == 1, (who, r.out)

    # built where the log key is, at that size: the stored transition, as before
    pack = tmp_path / "signed-here"
    cli.ok("pack", "build", "--quarter", "2026Q4", "--no-pdf", "--out", str(pack))
    assert (pack / "checkpoint").read_text() == transition

    # the manifest key rolled over at that same size: the previous manifest key's pack of
    # size T and the next key's pack of size T both verify from the previous key with the
    # statement (the previous key signs up to T, the next from T on); without it, the next
    # key's pack is refused
    statement = tmp_path / "rollover.jws"
    cli.ok("pack", "rotate-key", "--out", str(statement))
    after = tmp_path / "next-manifest-key"
    cli.ok("pack", "build", "--quarter", "2026Q4", "--no-pdf", "--out", str(after))
    assert json.loads((after / "manifest.json").read_text())["checkpoint"]["tree_size"] == size
    for built in (pack, after):
        for key in (old, new):
            r = cli("verify", str(built), "--key", key, "--manifest-key", str(mkey),
                    "--manifest-rollover", str(statement))  # fmt: skip
            assert r.code == 0, (built.name, key, r.out)
    r = cli("verify", str(after), "--key", old, "--manifest-key", str(mkey))
    assert r.code == 1
    assert "expected the trusted manifest key" in r.out


def test_without_a_transition_the_given_note_is_kept(lite: Cli, tmp_path: Path) -> None:
    cli = lite
    cli.ok("append", str(GOOD))
    given = tmp_path / "signed.checkpoint"
    cli.ok("checkpoint", "sign", "--out", str(given))
    pack = tmp_path / "pack"
    cli.ok("pack", "build", "--quarter", "2026Q4", "--no-pdf", "--checkpoint", str(given),
           "--out", str(pack))  # fmt: skip
    assert (pack / "checkpoint").read_bytes() == given.read_bytes()
    assert "prev-key" not in given.read_text()
