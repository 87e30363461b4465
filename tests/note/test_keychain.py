"""The log key chain: transition checkpoints (signed by the previous and the next key) hand
trust over; a forged transition (the next key alone, or a key other than the one it names as
previous) is not followed; retired and revoked keys sign nothing believed beyond their size."""

from __future__ import annotations

import pytest

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer, generate, sign_transition
from edgeaudit.note.transition import transition_keys, transition_lines
from edgeaudit.verify.keychain import KeyChain, Revocation, load_revocations

ORIGIN = "example.org/log"


def tree(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, bytes([size % 256]) * 32)


@pytest.fixture
def keys() -> tuple[Ed25519Signer, Ed25519Signer, Ed25519Signer]:
    return generate(ORIGIN), generate(ORIGIN), generate(ORIGIN)


def test_a_transition_hands_trust_to_the_next_key(keys: tuple[Ed25519Signer, ...]) -> None:
    old, new, _ = keys
    transition = sign_transition(old, new, tree(10))
    chain = KeyChain.from_notes([old.verifier()], [transition], ORIGIN)
    assert chain.verify_checkpoint(transition, ORIGIN).size == 10
    assert chain.verify_checkpoint(new.sign_checkpoint(tree(20)), ORIGIN).size == 20
    assert chain.verify_checkpoint(old.sign_checkpoint(tree(5)), ORIGIN).size == 5
    with pytest.raises(NoteError, match="retired by the transition at size 10"):
        chain.verify_checkpoint(old.sign_checkpoint(tree(11)), ORIGIN)
    with pytest.raises(NoteError, match="trusted only from the transition at size 10"):
        chain.verify_checkpoint(new.sign_checkpoint(tree(9)), ORIGIN)
    # without the transition, the new key is unknown
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        KeyChain.from_notes([old.verifier()], [], ORIGIN).verify_checkpoint(
            new.sign_checkpoint(tree(20)), ORIGIN
        )


def test_a_chain_of_two_rotations_and_the_way_back(keys: tuple[Ed25519Signer, ...]) -> None:
    k0, k1, k2 = keys
    notes = [sign_transition(k1, k2, tree(20)), sign_transition(k0, k1, tree(10))]
    forward = KeyChain.from_notes([k0.verifier()], notes, ORIGIN)
    assert [k.verifier.label for k in forward.keys] == [k.verifier().label for k in (k0, k1, k2)]
    assert forward.verify_checkpoint(k2.sign_checkpoint(tree(30)), ORIGIN).size == 30
    # the operator holds the newest key: the transitions lead back to the earlier ones
    back = KeyChain.from_notes([k2.verifier()], notes, ORIGIN)
    assert back.verify_checkpoint(k0.sign_checkpoint(tree(3)), ORIGIN).size == 3
    with pytest.raises(NoteError, match="retired"):
        back.verify_checkpoint(k0.sign_checkpoint(tree(15)), ORIGIN)


def test_a_transition_signed_by_the_new_key_only_is_not_followed(
    keys: tuple[Ed25519Signer, ...],
) -> None:
    old, _, attacker = keys
    body = Checkpoint(
        ORIGIN, 10, tree(10).root, transition_lines(old.verifier_key, attacker.verifier_key)
    ).body()
    forged = attacker.sign_note(body)
    chain = KeyChain.from_notes([old.verifier()], [forged], ORIGIN)
    assert len(chain.keys) == 1
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        chain.verify_checkpoint(forged, ORIGIN)
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        chain.verify_checkpoint(attacker.sign_checkpoint(tree(20)), ORIGIN)


def test_a_transition_must_be_signed_by_the_key_it_names_and_the_next(
    keys: tuple[Ed25519Signer, ...],
) -> None:
    old, new, other = keys
    # signed by the trusted key but not by the next key: not followed
    body = Checkpoint(
        ORIGIN, 10, tree(10).root, transition_lines(old.verifier_key, new.verifier_key)
    ).body()
    assert len(KeyChain.from_notes([old.verifier()], [old.sign_note(body)], ORIGIN).keys) == 1
    # names another previous key than the trusted one that signed it: not followed
    wrong = sign_transition(other, new, tree(10))
    wrong = old.add_signature(wrong)
    assert len(KeyChain.from_notes([old.verifier()], [wrong], ORIGIN).keys) == 1


def test_a_revoked_key_cannot_rotate_beyond_its_revocation(
    keys: tuple[Ed25519Signer, ...],
) -> None:
    old, attacker, _ = keys
    transition = sign_transition(old, attacker, tree(50))
    revoked = (Revocation(old.key_id.hex(), 40),)
    chain = KeyChain.from_notes([old.verifier()], [transition], ORIGIN, revoked)
    assert len(chain.keys) == 1
    with pytest.raises(NoteError, match="revoked as of size 40"):
        chain.verify_checkpoint(old.sign_checkpoint(tree(41)), ORIGIN)
    assert chain.verify_checkpoint(old.sign_checkpoint(tree(40)), ORIGIN).size == 40


def test_transition_lines_are_checked() -> None:
    a, b = generate(ORIGIN), generate(ORIGIN)
    prev, nxt = transition_lines(a.verifier_key, b.verifier_key)
    assert transition_keys(Checkpoint(ORIGIN, 1, bytes(32), (prev, nxt))) == (
        a.verifier(),
        b.verifier(),
    )
    assert transition_keys(tree(1)) is None
    for extensions in [(nxt,), (prev, nxt, nxt), (prev, "next-key not-a-key")]:
        with pytest.raises(NoteError):
            transition_keys(Checkpoint(ORIGIN, 1, bytes(32), extensions))
    with pytest.raises(InputError, match="same"):
        sign_transition(a, a, tree(1))


def test_revocation_syntax(tmp_path: object) -> None:
    assert Revocation.parse("1a2b3c4d@7") == Revocation("1a2b3c4d", 7)
    for bad in ["1a2b3c4d", "@7", "k@-1", "k@07", "k@ 7"]:
        with pytest.raises(InputError, match="KEYID@SIZE"):
            Revocation.parse(bad)
    with pytest.raises(InputError, match="neither"):
        load_revocations(["/nonexistent/revocations"])
