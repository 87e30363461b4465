"""Note parsing and the trust rules of verify_note / verify_checkpoint, with our own keys."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from edgeaudit import canonical
from edgeaudit.errors import InputError, NoteError
from edgeaudit.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CosignatureVerifier,
    Verifier,
    parse_note,
    verify_checkpoint,
    verify_note,
)
from edgeaudit.note.signer import Ed25519Cosigner, Ed25519Signer

EM = "\u2014"
ORIGIN = "audit.example.net/blr-pod-1"
CHECKPOINT = Checkpoint(ORIGIN, 7, hashlib.sha256(b"root").digest())


def key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


LOG = Ed25519Signer(ORIGIN, key(1))
OTHER = Ed25519Signer("other.example/key", key(2))
WITNESS = Ed25519Cosigner("witness.example/w1", key(3), clock=lambda: 1_700_000_000)


def signed(body: bytes = b"hello\n") -> bytes:
    return LOG.sign_note(body)


# --- parse_note -----------------------------------------------------------------------------


def test_parse_note_splits_at_the_last_blank_line() -> None:
    body = b"first\n\nsecond after a blank line\n"
    parsed = parse_note(LOG.sign_note(body))
    assert parsed.body == body
    assert [(s.name, s.key_id) for s in parsed.signatures] == [(LOG.name, LOG.key_id)]
    assert len(parsed.signatures[0].signature) == 64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"hello\n" + signed().split(b"\n\n")[1], "no blank line"),
        (signed().replace(EM.encode(), b"-"), "em dash"),
        (signed().replace(EM.encode(), "\u2013".encode()), "em dash"),  # en dash
        (signed().replace(f"{EM} ".encode(), EM.encode()), "em dash"),  # no space after dash
        (signed()[:-2] + b"!\n", "standard base64"),
        (signed()[:-6] + b"\n", "standard base64"),  # padding removed
        (signed().replace(LOG.name.encode() + b" ", LOG.name.encode() + b"  "), "base64"),
        (signed().replace(LOG.name.encode(), b"a+b"), "key name"),
        (signed().replace(LOG.name.encode(), "a\u00a0b".encode()), "key name"),  # NBSP
        (
            signed().rsplit(b" ", 1)[0] + b" " + base64.b64encode(b"abcd") + b"\n",
            "4-byte key id and at least 1",
        ),
        (signed()[:-1], "does not end with a newline"),
        (signed() + b"\n", "no signature lines"),
        (b"\xff" + signed(), "not valid UTF-8"),
        (b"a\x00b\n" + signed(), "line 1 contains control character U\\+0000"),
        (signed().replace(b"hello\n", b"hello\r\n"), "CRLF"),
        (signed() + b"trailing junk\n", "line 4"),
    ],
    ids=[
        "no-blank-line",
        "hyphen-not-em-dash",
        "en-dash",
        "no-space-after-dash",
        "bad-base64",
        "missing-padding",
        "two-spaces",
        "plus-in-name",
        "nbsp-in-name",
        "payload-too-short",
        "no-final-newline",
        "nothing-after-blank-line",
        "non-utf8",
        "nul-byte",
        "crlf",
        "junk-line",
    ],
)
def test_parse_note_rejects(text: bytes, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_note(text)


def test_non_canonical_base64_in_signature_line_rejected() -> None:
    note = signed()
    head, b64 = note[:-1].rsplit(b" ", 1)
    assert b64[-2:-1] != b"="  # 68 bytes: one "=" of padding, 2 spare bits before it
    assert b64.endswith(b"=")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spare = alphabet[alphabet.index(b64[-2]) ^ 1]  # flip a bit that decoding ignores
    twin = b64[:-2] + bytes([spare]) + b"="
    assert base64.b64decode(twin) == base64.b64decode(b64)
    with pytest.raises(NoteError, match="standard base64"):
        parse_note(head + b" " + twin + b"\n")


def test_too_many_signature_lines_rejected() -> None:
    note = signed()
    line = note.split(b"\n\n")[1]
    assert len(parse_note(b"hello\n\n" + line * MAX_SIGNATURES).signatures) == MAX_SIGNATURES
    with pytest.raises(NoteError, match=f"{MAX_SIGNATURES + 1} signature lines"):
        parse_note(b"hello\n\n" + line * (MAX_SIGNATURES + 1))


def test_parse_note_rejects_str() -> None:
    with pytest.raises(NoteError, match="must be bytes"):
        parse_note(signed().decode())  # type: ignore[arg-type]


# --- verify_note ----------------------------------------------------------------------------


def test_round_trip_sign_verify() -> None:
    note = verify_note(signed(), [LOG.verifier()])
    assert (note.body, note.verified_by) == (b"hello\n", (ORIGIN,))


def test_twenty_unknown_signatures_plus_ours_verify() -> None:
    note = signed()
    for i in range(20):
        note = Ed25519Signer(f"unknown.example/{i}", key(100 + i)).add_signature(note)
    assert len(parse_note(note).signatures) == 21
    assert verify_note(note, [LOG.verifier()]).verified_by == (ORIGIN,)


def test_same_name_different_key_id_is_ignored() -> None:
    impostor = Ed25519Signer(ORIGIN, key(9))  # the log's name, another key
    with pytest.raises(NoteError) as info:
        verify_note(impostor.sign_note(b"hello\n"), [LOG.verifier()])
    message = str(info.value)
    assert message.startswith("no signature from a trusted key; note signed by: ")
    assert f"{ORIGIN}+{impostor.key_id.hex()}" in message
    assert f"trusted keys: {ORIGIN}+{LOG.key_id.hex()}" in message


def test_same_key_id_different_name_is_ignored() -> None:
    note = signed().replace(f"{EM} {ORIGIN} ".encode(), f"{EM} someone.else ".encode())
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(note, [LOG.verifier()])


def test_altered_signature_byte_fails_naming_the_key() -> None:
    note = signed()
    head, b64 = note.rstrip(b"\n").rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 0x01
    tampered = head + b" " + base64.b64encode(bytes(raw)) + b"\n"
    with pytest.raises(NoteError, match=rf"trusted key {ORIGIN}\+{LOG.key_id.hex()} does not"):
        verify_note(tampered, [LOG.verifier()])


def test_altered_body_fails() -> None:
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(signed().replace(b"hello", b"jello"), [LOG.verifier()])


def test_one_bad_trusted_signature_fails_even_if_another_verifies() -> None:
    note = OTHER.add_signature(signed())
    lines = note.split(b"\n")
    lines[-2] = lines[-2][:-8] + b"AAAAAAA="  # corrupt OTHER's signature, keep it base64
    with pytest.raises(NoteError, match=rf"key {OTHER.name}\+{OTHER.key_id.hex()} does not"):
        verify_note(b"\n".join(lines), [LOG.verifier(), OTHER.verifier()])


def test_wrong_length_signature_from_trusted_key_fails() -> None:
    line = canonical.signature_line(LOG.name, LOG.key_id, b"x" * 10)
    with pytest.raises(NoteError, match="expected 64 signature bytes, found 10"):
        verify_note(canonical.signed_note(b"hello\n", [line]), [LOG.verifier()])


def test_no_trusted_keys_fails_closed() -> None:
    with pytest.raises(NoteError, match=r"trusted keys: \(none\)"):
        verify_note(signed(), [])


def test_conflicting_trusted_keys_rejected_duplicates_allowed() -> None:
    v = LOG.verifier()
    assert verify_note(signed(), [v, Verifier.parse(v.verifier_key)]).verified_by == (ORIGIN,)
    forged = CosignatureVerifier.from_public_key(ORIGIN, LOG.public_key)
    object.__setattr__(forged, "key_id", v.key_id)  # simulate a key id collision
    with pytest.raises(InputError, match="share the name and id"):
        verify_note(signed(), [v, forged])


# --- cosignatures ---------------------------------------------------------------------------


def test_cosignature_round_trip_and_timestamp() -> None:
    note = WITNESS.add_signature(LOG.sign_checkpoint(CHECKPOINT))
    witness = WITNESS.verifier()
    assert isinstance(witness, CosignatureVerifier)
    assert verify_note(note, [LOG.verifier(), witness]).verified_by == (ORIGIN, WITNESS.name)
    sig = parse_note(note).signatures[1]
    assert witness.timestamp(sig.signature) == 1_700_000_000
    # the witness signed exactly the spec's message, independently checked here
    message = canonical.cosignature_message(1_700_000_000, CHECKPOINT.body())
    Ed25519PublicKey.from_public_bytes(witness.public_key).verify(sig.signature[8:], message)


def test_cosignature_with_altered_timestamp_fails() -> None:
    note = WITNESS.sign_note(CHECKPOINT.body())
    sig = parse_note(note).signatures[0]
    moved = (1_700_000_001).to_bytes(8, "big") + sig.signature[8:]
    line = canonical.signature_line(WITNESS.name, WITNESS.key_id, moved)
    with pytest.raises(NoteError, match="does not verify"):
        verify_note(canonical.signed_note(CHECKPOINT.body(), [line]), [WITNESS.verifier()])


def test_cosignature_timestamp_beyond_2_63_rejected() -> None:
    payload = (2**63).to_bytes(8, "big") + bytes(64)
    line = canonical.signature_line(WITNESS.name, WITNESS.key_id, payload)
    with pytest.raises(NoteError, match="exceeds 2\\*\\*63-1"):
        verify_note(canonical.signed_note(b"x\n", [line]), [WITNESS.verifier()])


# --- verify_checkpoint ----------------------------------------------------------------------


def test_verify_checkpoint_returns_the_checkpoint() -> None:
    note = LOG.sign_checkpoint(CHECKPOINT)
    assert verify_checkpoint(note, [LOG.verifier()], origin=ORIGIN) == CHECKPOINT


def test_verify_checkpoint_origin_mismatch() -> None:
    with pytest.raises(NoteError, match=r"expected 'other\.example/log'"):
        verify_checkpoint(LOG.sign_checkpoint(CHECKPOINT), [LOG.verifier()], "other.example/log")


def test_verify_checkpoint_signed_body_that_is_not_a_checkpoint() -> None:
    with pytest.raises(NoteError, match="checkpoint line 2"):
        verify_checkpoint(LOG.sign_note(b"a\nb\nc\n"), [LOG.verifier()])


def test_verify_checkpoint_does_not_parse_unverified_text() -> None:
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_checkpoint(OTHER.sign_note(b"not a checkpoint\n"), [LOG.verifier()])


# --- verifier keys --------------------------------------------------------------------------


def _vkey(name: str, sig_type: int, public: bytes, kid: str | None = None) -> str:
    kid = kid or canonical.key_id(name, sig_type, public).hex()
    return f"{name}+{kid}+{base64.b64encode(bytes([sig_type]) + public).decode()}"


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (LOG.verifier_key.replace(LOG.key_id.hex(), LOG.key_id.hex().upper()), "lowercase hex"),
        (_vkey("n", 1, LOG.public_key, "0000000"), "8 lowercase hex"),
        (_vkey("n", 1, LOG.public_key, "00000000"), "does not match the public key"),
        (_vkey("n", 1, LOG.public_key[:31]), "32-byte Ed25519 public key, found 31"),
        (_vkey("n", 6, bytes(1312)), "ML-DSA-44"),
        (_vkey("n", 7, LOG.public_key), "0x07 .unknown. is not supported"),
        (_vkey("a b", 1, LOG.public_key, "00000000"), "on one line"),
        (LOG.verifier_key[:-1], "standard base64"),
        ("name-only", "expected <name>"),
        ("", "expected <name>"),
    ],
)
def test_verifier_parse_rejects(vkey: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Verifier.parse(vkey)


def test_cosignature_verifier_parse_rejects_plain_key() -> None:
    with pytest.raises(InputError, match="expected signature type 0x04, found 0x01"):
        CosignatureVerifier.parse(LOG.verifier_key)


def test_verifier_construction_checks_key_id() -> None:
    with pytest.raises(InputError, match="does not match"):
        Verifier(LOG.name, b"\x00" * 4, canonical.SIG_ED25519, LOG.public_key)
    with pytest.raises(InputError, match="needs signature type 0x01"):
        Verifier(LOG.name, LOG.key_id, canonical.SIG_COSIGNATURE_V1, LOG.public_key)


# --- layering -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["edgeaudit.note", "edgeaudit.note.verifier"])
def test_verify_side_does_not_import_signer(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in sys.modules if m == 'edgeaudit.note.signer']\n"
        "assert not bad, bad\n"
        "assert 'edgeaudit.note.verifier' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
