"""The sign side: key handling, note building, adding signatures, cosigning."""

from __future__ import annotations

import base64
import copy
import hashlib
import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edgeaudit import canonical
from edgeaudit.errors import InputError, NoteError
from edgeaudit.note import Checkpoint, Verifier, parse_note, verify_checkpoint, verify_note
from edgeaudit.note.signer import Ed25519Cosigner, Ed25519Signer, generate

ORIGIN = "audit.example.net/blr-pod-1"
SEED = bytes(range(32))
PRIVATE = Ed25519PrivateKey.from_private_bytes(SEED)


def test_properties_match_canonical_builders() -> None:
    signer = Ed25519Signer(ORIGIN, PRIVATE)
    public = PRIVATE.public_key().public_bytes_raw()
    assert signer.name == ORIGIN
    assert signer.public_key == public
    assert signer.key_id == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    assert signer.verifier_key == canonical.verifier_key(ORIGIN, 1, public)
    assert Verifier.parse(signer.verifier_key) == signer.verifier()


def test_sign_note_layout() -> None:
    signer = Ed25519Signer(ORIGIN, PRIVATE)
    note = signer.sign_note(b"text\n")
    sig = base64.b64encode(signer.key_id + PRIVATE.sign(b"text\n")).decode()
    assert note == f"text\n\n\u2014 {ORIGIN} {sig}\n".encode()


def test_sign_checkpoint_round_trip() -> None:
    signer = generate(ORIGIN)
    cp = Checkpoint(ORIGIN, 123456, hashlib.sha256(b"x").digest(), ("ext",))
    assert verify_checkpoint(signer.sign_checkpoint(cp), [signer.verifier()], ORIGIN) == cp


def test_add_signature_keeps_other_lines_byte_for_byte() -> None:
    first, second = generate("a.example/1"), generate("b.example/2")
    note = first.sign_note(b"body\n")
    both = second.add_signature(note)
    assert both.startswith(note)
    assert len(parse_note(both).signatures) == 2
    verified = verify_note(both, [first.verifier(), second.verifier()])
    assert verified.verified_by == ("a.example/1", "b.example/2")


def test_add_signature_replaces_our_own_line() -> None:
    signer = Ed25519Cosigner("w.example/1", PRIVATE, clock=iter([100, 200]).__next__)
    note = signer.add_signature(signer.sign_note(b"a\nb\nc\n"))
    sigs = parse_note(note).signatures
    assert len(sigs) == 1
    assert signer.verifier().timestamp(sigs[0].signature) == 200


def test_add_signature_refuses_to_exceed_the_limit() -> None:
    note = generate("x.example/0").sign_note(b"body\n")
    line = note.split(b"\n\n")[1]
    full = b"body\n\n" + line * 100
    with pytest.raises(InputError, match="exceed the 100"):
        generate("y.example/1").add_signature(full)


def test_add_signature_rejects_malformed_note() -> None:
    with pytest.raises(NoteError, match="no blank line"):
        generate("y.example/1").add_signature(b"no signatures here\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no newline", "ending with a newline"),
        (b"\xff\xfe\n", "not valid UTF-8"),
        (b"tab\there\n", "control character U\\+0009"),
        ("text\n", "bytes"),
    ],
)
def test_refuses_to_sign_text_that_cannot_be_a_note(body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate("k.example/1").sign_note(body)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb"])
def test_invalid_key_name_rejected(name: str) -> None:
    with pytest.raises(InputError):
        Ed25519Signer(name, PRIVATE)


def test_requires_an_ed25519_private_key() -> None:
    with pytest.raises(InputError, match="Ed25519PrivateKey"):
        Ed25519Signer(ORIGIN, X25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Ed25519PrivateKey"):
        Ed25519Signer(ORIGIN, SEED)  # type: ignore[arg-type]


def test_no_private_key_material_leaks() -> None:
    signer = Ed25519Signer(ORIGIN, PRIVATE)
    text = repr(signer) + str(signer)
    for secret in (SEED.hex(), base64.b64encode(SEED).decode(), repr(SEED)):
        assert secret not in text
    assert signer.key_id.hex() in repr(signer)
    assert not hasattr(signer, "__dict__")
    raw = PRIVATE.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert all(getattr(signer, slot) != raw for slot in Ed25519Signer.__slots__)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.copy(signer)


def test_cosigner_uses_type_4_and_its_clock() -> None:
    cosigner = Ed25519Cosigner("w.example/1", PRIVATE, clock=lambda: 1_234)
    plain = Ed25519Signer("w.example/1", PRIVATE)
    assert cosigner.key_id != plain.key_id  # the type byte is part of the key id
    assert base64.b64decode(cosigner.verifier_key.split("+", 2)[2])[0] == 0x04
    payload = cosigner.sign(b"body\n")
    assert payload[:8] == (1_234).to_bytes(8, "big")
    assert len(payload) == 72
    cp = Checkpoint(ORIGIN, 1, bytes(32))
    verify_note(cosigner.sign_checkpoint(cp), [cosigner.verifier()])


def test_cosigner_rejects_timestamp_out_of_range() -> None:
    with pytest.raises(InputError, match="2\\*\\*63-1"):
        Ed25519Cosigner("w.example/1", PRIVATE, clock=lambda: 2**63).sign(b"x\n")
    with pytest.raises(InputError, match="2\\*\\*63-1"):
        Ed25519Cosigner("w.example/1", PRIVATE, clock=lambda: -1).sign(b"x\n")
