"""Checkpoint signing: C2SP notes stored in the database, never contradicting earlier ones."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from edgeaudit.errors import InconsistentCheckpointError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.store import Store
from edgeaudit.store.triggers import drop_append_only_triggers
from tests.store.helpers import ORIGIN, evs


def test_signed_note_verifies_and_is_stored(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 21))
    cp = log.sign_checkpoint(signer)
    parsed = verify_checkpoint(cp.note.encode(), [Verifier.parse(signer.verifier_key)], ORIGIN)
    assert parsed == Checkpoint(ORIGIN, 21, cp.root_hash)
    with log.reader() as reader:
        assert reader.root(21) == cp.root_hash
    body, _, sig = cp.note.partition("\n\n")
    assert body.split("\n") == [ORIGIN, "21", parsed.body().decode().split("\n")[2]]
    assert sig.startswith(f"\u2014 {ORIGIN} ")
    assert log.checkpoints() == [cp]
    assert log.latest_checkpoint() == cp


def test_empty_log_checkpoint(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    cp = log.sign_checkpoint(signer)
    assert cp.tree_size == 0
    log.append(evs(0, 3))
    assert log.sign_checkpoint(signer).tree_size == 3


def test_signing_twice_without_new_entries_returns_the_same(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 5))
    first = log.sign_checkpoint(signer)
    assert log.sign_checkpoint(signer) == first
    assert len(log.checkpoints()) == 1


def test_refuses_a_tree_that_does_not_extend_the_latest_checkpoint(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 40))
    log.sign_checkpoint(signer)
    # rewrite history: a different log of the same size behind the checkpoint's back
    with store.engine.begin() as conn:
        drop_append_only_triggers(conn)
        conn.execute(text("DELETE FROM entries"))
        conn.execute(text("DELETE FROM tiles"))
        conn.execute(text("UPDATE logs SET tree_size = 0, chain_head = :g"), {"g": bytes(32)})
    log.append(evs(100, 45))
    with pytest.raises(InconsistentCheckpointError, match="does not extend"):
        log.sign_checkpoint(signer)
    assert [c.tree_size for c in log.checkpoints()] == [40]


def test_refuses_when_a_trusted_note_is_newer_than_the_log(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 10))
    newer = signer.sign_checkpoint(Checkpoint(ORIGIN, 12, b"\x01" * 32))
    with pytest.raises(InconsistentCheckpointError, match="rolled back"):
        log.sign_checkpoint(signer, trusted=[newer])
    assert log.checkpoints() == []


def test_refuses_when_the_stored_checkpoint_is_not_ours(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 10))
    other = generate(ORIGIN)
    log.sign_checkpoint(other)
    log.append(evs(10, 1))
    with pytest.raises(InconsistentCheckpointError, match="does not verify"):
        log.sign_checkpoint(signer)


def test_extends_the_trusted_note_when_consistent(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(evs(0, 17))
    first = log.sign_checkpoint(signer)
    log.append(evs(17, 100))
    second = log.sign_checkpoint(signer, trusted=[first.note.encode()])
    assert second.tree_size == 117
