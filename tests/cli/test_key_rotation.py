"""``edgeaudit key rotate``: a transition checkpoint signed by the previous and the new log key.
An auditor who trusts the previous key follows it to packs and checkpoints the new key signs;
the workspace, which now holds the new key, follows it back; a revocation of the previous key
before the transition breaks the chain (the transition is then not believed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import NoteError
from edgeaudit.note.verifier import Verifier, parse_note
from edgeaudit.verify.keychain import KeyChain, Revocation
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


def _resign_manifest(cli: Cli, pack: Path) -> None:
    """The insider: recompute the file hashes and re-sign the manifest with the real key."""
    from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
    from edgeaudit.workspace.manifest_key import manifest_signing_key

    manifest = json.loads((pack / "manifest.json").read_text())
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    names = [f["path"] for f in manifest["files"]]
    with manifest_signing_key(config(cli)) as (private, public):
        payload = manifest_bytes(header, list_files(pack, names), public)
        (pack / "manifest.json").write_bytes(payload)
        (pack / "manifest.jws").write_bytes(sign_manifest(payload, private, public))


def test_a_kept_checkpoint_of_the_previous_key_is_proven_after_rotation(
    cli: Cli, tmp_path: Path
) -> None:
    """The auditor kept a checkpoint the previous key signed (not a pack's); the pack built
    after the rotation still proves the log grew from it, and ``proof`` crosses the rotation."""
    from edgeaudit.note.signer import generate

    old = cli("key", "show").out.strip()
    assert cli("append", str(GOOD)).code == 0
    kept = tmp_path / "kept.checkpoint"
    assert cli("checkpoint", "sign", "--out", str(kept)).code == 0
    kept_size = int(kept.read_text().splitlines()[1])
    assert cli("append", str(GOOD_MORE)).code == 0
    _pack(cli, tmp_path / "first")  # the previous pack: a later checkpoint than the kept one
    mkey = tmp_path / "manifest.pub"
    assert cli("pack", "key", "--out", str(mkey)).code == 0
    assert cli("key", "rotate").code == 0
    more = tmp_path / "more.jsonl"
    more.write_text('{"time":"2026-11-21T00:00:00Z","kind":"auth.logon","source":"sshd"}\n')
    assert cli("append", str(more)).code == 0
    pack = tmp_path / "second"
    _pack(cli, pack)
    rows = [json.loads(r) for r in (pack / "consistency.jsonl").read_text().splitlines()]
    line = next(r for r in rows if r["old_size"] == kept_size)
    assert line["old_checkpoint"] == kept.read_text()  # signed by the previous key alone

    r = cli("verify", str(pack), "--key", old, "--manifest-key", str(mkey),
            "--trusted-checkpoint", str(kept))  # fmt: skip
    assert r.code == 0, r.out
    assert f"extends your kept checkpoint of size {kept_size}" in r.out
    # the chain the verifier builds from the pack's notes refuses the line's note once the
    # previous key is revoked before its size (the pack then fails on its checkpoint too)
    notes = [(pack / "checkpoint").read_bytes()] + [r["old_checkpoint"].encode() for r in rows]
    kid = old.split("+")[1]
    revoked = KeyChain.from_notes(
        [Verifier.parse(old)], notes, None, [Revocation(kid, kept_size - 1)]
    )
    with pytest.raises(NoteError, match=f"revoked as of size {kept_size - 1}"):
        revoked.verify_checkpoint(line["old_checkpoint"].encode())
    assert cli("verify", str(pack), "--key", old, "--manifest-key", str(mkey),
               "--revoked", f"{kid}@{kept_size - 1}").code == 1  # fmt: skip

    # the same statement signed by a key outside the chain (same name, another key): refused
    forged = generate(old.split("+")[0]).sign_note(parse_note(kept.read_bytes()).body)
    line["old_checkpoint"] = forged.decode("utf-8")
    (pack / "consistency.jsonl").write_bytes(b"".join(canonical_json(row) + b"\n" for row in rows))
    _resign_manifest(cli, pack)
    r = cli("verify", str(pack), "--key", old, "--manifest-key", str(mkey),
            "--trusted-checkpoint", str(kept))  # fmt: skip
    assert r.code == 1
    assert "consistency.jsonl" in r.out
    assert "old_checkpoint" in r.out
    assert "no consistency proof from the kept checkpoint" in r.out

    # a proof across the rotation: the workspace's (new) key follows the transition back
    head = json.loads((pack / "manifest.json").read_text())["checkpoint"]["tree_size"]
    r = cli("--json", "proof", "consistency", str(kept_size), str(head))
    assert r.code == 0, r.err
    assert r.json()["old_checkpoint"] == kept.read_text()
    assert cli("proof", "inclusion", "0").code == 0
