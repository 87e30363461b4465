"""``edgeaudit proof``: inclusion and consistency proofs, each checked here independently."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from edgeaudit.canonical import leaf_hash
from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from tests.cli import GOOD, GOOD_MORE, Cli, mth, read_jsonl, stored_entries


def _signed(cli: Cli, *files: Path) -> None:
    for f in files:
        cli.ok("append", str(f))
        cli.ok("checkpoint")


def test_inclusion_proof_json_verifies_independently(cli: Cli) -> None:
    _signed(cli, GOOD)
    verifier = Verifier.parse(cli.ok("key", "show").out.strip())
    events = read_jsonl(GOOD)
    entries = stored_entries(cli)
    for index in range(6):
        data = cli.ok("proof", "inclusion", str(index), "--json").json()
        assert set(data) == {"index", "tree_size", "entry", "leaf_hash", "proof", "checkpoint"}
        assert (data["index"], data["tree_size"]) == (index, 6)
        entry = base64.b64decode(data["entry"], validate=True)
        assert entry == entries[index]  # the exact stored bytes
        assert json.loads(entry) == events[index]
        assert data["leaf_hash"] == leaf_hash(entry).hex()
        cp = verify_checkpoint(data["checkpoint"].encode(), [verifier], origin=verifier.name)
        assert cp.size == 6
        assert cp.root == mth(entries)
        proof = [bytes.fromhex(h) for h in data["proof"]]
        assert all(len(h) == 32 for h in proof)
        verify_inclusion(leaf_hash(entry), index, cp.size, proof, cp.root)


def test_inclusion_proof_text(lite: Cli) -> None:
    _signed(lite, GOOD)
    r = lite.ok("proof", "inclusion", "5")
    assert "entry 5 is in the tree of size 6" in r.out
    assert f"leaf hash {leaf_hash(stored_entries(lite)[5]).hex()}" in r.out
    assert r.out.endswith(lite.ok("checkpoint", "show").out)


def test_inclusion_proof_uses_the_latest_checkpoint_only(cli: Cli) -> None:
    _signed(cli, GOOD)
    cli.ok("append", str(GOOD_MORE))  # 9 entries, only 6 signed
    r = cli("proof", "inclusion", "7")
    assert r.code == 2
    assert "size 6" in r.err
    assert "edgeaudit checkpoint" in r.err
    assert r.out == ""
    assert cli.ok("proof", "inclusion", "5", "--json").json()["tree_size"] == 6
    cli.ok("checkpoint")
    assert cli.ok("proof", "inclusion", "7", "--json").json()["tree_size"] == 9


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["inclusion", "-1"], "not covered"),
        (["inclusion", "9"], "not covered"),
        (["inclusion", "1", "2"], "usage: edgeaudit proof inclusion INDEX"),
        (["consistency", "6"], "usage: edgeaudit proof consistency"),
        (["consistency", "9", "6"], "old size <= new size"),
        (["consistency", "3", "6"], "no checkpoint was signed at size 3"),
        (["consistency", "6", "10"], "latest signed sizes: 6, 9"),
        (["consistency", "0", "9"], "size 0"),
    ],
)
def test_proof_usage_errors(lite: Cli, args: list[str], says: str) -> None:
    _signed(lite, GOOD, GOOD_MORE)
    r = lite("proof", *args)
    assert r.code == 2
    assert says in r.err
    assert r.out == ""


def test_proof_before_any_checkpoint(lite: Cli) -> None:
    lite.ok("append", str(GOOD))
    r = lite("proof", "inclusion", "0")
    assert r.code == 2
    assert "run `edgeaudit checkpoint`" in r.err


def test_consistency_proof_json_verifies_independently(cli: Cli) -> None:
    _signed(cli, GOOD, GOOD_MORE)
    verifier = Verifier.parse(cli.ok("key", "show").out.strip())
    data = cli.ok("proof", "consistency", "6", "9", "--json").json()
    assert set(data) == {"old_size", "new_size", "proof", "old_checkpoint", "new_checkpoint"}
    assert (data["old_size"], data["new_size"]) == (6, 9)
    old = verify_checkpoint(data["old_checkpoint"].encode(), [verifier], origin=verifier.name)
    new = verify_checkpoint(data["new_checkpoint"].encode(), [verifier], origin=verifier.name)
    entries = stored_entries(cli)
    assert (old.size, old.root) == (6, mth(entries[:6]))
    assert (new.size, new.root) == (9, mth(entries))
    proof = [bytes.fromhex(h) for h in data["proof"]]
    assert proof
    verify_consistency(6, 9, old.root, new.root, proof)
    assert data["old_checkpoint"] == cli.ok("checkpoint", "show", "6").out
    assert data["new_checkpoint"] == cli.ok("checkpoint", "show", "9").out

    text = cli.ok("proof", "consistency", "6", "9").out
    assert "the tree of size 9 extends the tree of size 6" in text
    assert all(h in text for h in data["proof"])


def test_consistency_proof_between_equal_sizes_is_empty(lite: Cli) -> None:
    _signed(lite, GOOD)
    data = lite.ok("proof", "consistency", "6", "6", "--json").json()
    assert data["proof"] == []
