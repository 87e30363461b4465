"""``edgeaudit key rotate``: a transition checkpoint signed by the previous and the new log key.
An auditor who trusts the previous key follows it to packs and checkpoints the new key signs;
the workspace, which now holds the new key, follows it back; a revocation of the previous key
before the transition breaks the chain (the transition is then not believed)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import GOOD, GOOD_MORE, Cli, config

QUARTER = "2026Q4"


def _pack(cli: Cli, out: Path) -> None:
    r = cli("pack", "build", "--quarter", QUARTER, "--no-pdf", "--out", str(out))
    assert r.code == 0, r.err


def test_rotation_is_followed_from_the_previous_key(cli: Cli, tmp_path: Path) -> None:
    old = cli("key", "show").out.strip()
    old_file = config(cli).private_key
    assert cli("append", str(GOOD)).code == 0
    first = tmp_path / "first"
    _pack(cli, first)
    mkey = tmp_path / "manifest.pub"
    assert cli("pack", "key", "--out", str(mkey)).code == 0

    r = cli("--json", "key", "rotate")
    assert r.code == 0, r.err
    done = r.json()
    new, size = done["verifier_key"], done["transition_size"]
    assert done["previous_key"] == old
    assert new != old
    assert cli("key", "show").out.strip() == new
    assert config(cli).private_key != old_file
    assert old_file.exists()  # left for its holder to destroy
    assert (config(cli).private_key.stat().st_mode & 0o777) == 0o600
    transition = json.loads(cli("--json", "checkpoint", "show", str(size)).out)["note"]
    assert "\nprev-key " + old + "\nnext-key " + new + "\n" in transition
    assert transition.count("\u2014 ") == 2  # signed by both keys

    assert cli("append", str(GOOD_MORE)).code == 0
    second = tmp_path / "second"
    _pack(cli, second)  # proves from the first pack's checkpoint, signed by the old key
    assert json.loads((second / "consistency.json").read_text())["old_size"] > 0
    note = (second / "checkpoint").read_text()
    assert note.count("\u2014 ") == 1
    assert new.split("+")[1] not in old  # the pack's checkpoint is the new key's alone

    r = cli("verify")  # the workspace trusts the new key and follows the transition back
    assert r.code == 0, r.out
    r = cli("verify", "--key", old)  # an auditor who trusts the previous key follows it on
    assert r.code == 0, r.out
    for pack in (first, second):
        r = cli("verify", str(pack), "--key", old, "--manifest-key", str(mkey))
        assert r.code == 0, r.out
    r = cli("verify", str(second), "--manifest-key", str(mkey))  # the new key, back to the old
    assert r.code == 0, r.out
    # a pack older than the rotation carries no transition: the new key alone knows nothing of
    # it (verify it with the key of its time, as its auditor did)
    r = cli("verify", str(first), "--manifest-key", str(mkey))
    assert r.code == 1
    assert "no signature from a trusted key" in r.out

    # the previous key declared revoked before the transition: its hand-over is not believed
    kid = old.split("+")[1]
    r = cli("verify", str(second), "--key", old, "--manifest-key", str(mkey),
            "--revoked", f"{kid}@{size - 1}")  # fmt: skip
    assert r.code == 1
    assert "checkpoint" in r.out
    assert "no signature from a trusted key" in r.out
    r = cli("verify", "--key", old, "--revoked", f"{kid}@{size - 1}")
    assert r.code == 1
    label = "+".join(old.split("+")[:2])
    assert f"checkpoint of size {size}: " in r.out
    assert f"key {label} is revoked as of size {size - 1}" in r.out
    # revoked at the transition itself: the hand-over stands
    r = cli("verify", str(second), "--key", old, "--manifest-key", str(mkey),
            "--revoked", f"{kid}@{size}")  # fmt: skip
    assert r.code == 0, r.out

    # next quarter: the auditor kept the second pack's checkpoint (the new key's) and still
    # trusts only the previous key; the third pack leads from one to the other
    more = tmp_path / "more.jsonl"
    more.write_text('{"time":"2026-11-21T00:00:00Z","kind":"auth.logon","source":"sshd"}\n')
    assert cli("append", str(more)).code == 0
    third = tmp_path / "third"
    _pack(cli, third)
    r = cli("verify", str(third), "--key", old, "--manifest-key", str(mkey),
            "--trusted-checkpoint", str(second / "checkpoint"))  # fmt: skip
    assert r.code == 0, r.out
    assert "extends your kept checkpoint" in r.out


def test_a_checkpoint_of_the_new_key_alone_is_unknown_to_the_previous_key(
    cli: Cli, tmp_path: Path
) -> None:
    """Without the transition (an outsider's store), the previous key knows nothing newer."""
    old = cli("key", "show").out.strip()
    assert cli("append", str(GOOD)).code == 0
    assert cli("key", "rotate").code == 0
    assert cli("append", str(GOOD_MORE)).code == 0
    note = tmp_path / "new.checkpoint"
    assert cli("checkpoint", "sign", "--out", str(note)).code == 0
    r = cli("verify", "--key", old, "--trusted-checkpoint", str(note))
    assert r.code == 0, r.out  # the store holds the transition: followed
    r = cli("verify", "--key", old, "--trusted-checkpoint", str(note), "--revoked", str(tmp_path))
    assert r.code == 2  # a directory is no revocation file
