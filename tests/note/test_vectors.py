"""Known-answer tests from reference implementations, specifications and a live log.

Sources:
* golang/mod sumdb/note/note.go (package example) and sumdb/note/note_test.go: the
  PeterNeumann and EnochRoot keys, their signatures, and the malformed inputs of TestOpen.
* transparency-dev/formats note/note_cosigv1_test.go: verifier keys of types 0x01 and 0x04.
* C2SP/C2SP tlog-checkpoint.md and tlog-cosignature.md: the example checkpoint, its
  cosignature line and the cosigned message.
* The signed-note example key ``example.com/foo`` (C2SP signed-note, "Verifier keys" example).
* A real checkpoint of the log arche2025h1.staging.ct.transparency.dev with Ed25519 witness
  cosignatures (remora.n621.de, witness1.smartit.nu, little-garden), verified independently.
"""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit import canonical
from edgeaudit.errors import InputError, NoteError
from edgeaudit.note import (
    Checkpoint,
    CosignatureVerifier,
    Verifier,
    parse_note,
    verify_checkpoint,
    verify_note,
)
from edgeaudit.note.signer import Ed25519Signer

EM = "\u2014"

# golang/mod sumdb/note
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
    "ngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n"
)

# C2SP signed-note example
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

# C2SP tlog-checkpoint / tlog-cosignature examples
SOFA_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_NOTE = (
    SOFA_BODY
    + (
        "\n"
        f"{EM} example.com/behind-the-sofa "
        "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        f"{EM} witness.example.com/w1 "
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIU"
        "BkBIfZ+qnA==\n"
    ).encode()
)

# A real checkpoint with witness cosignatures (type 0x04). The log signs twice under its name:
# an RFC 6962 tree head signature (type 0x05, key id cd333cb1) and an Ed25519 one (ba2f06c0).
ARCHE_ORIGIN = "arche2025h1.staging.ct.transparency.dev"
ARCHE_BODY = f"{ARCHE_ORIGIN}\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n".encode()
ARCHE_SIGNATURES = (
    (
        ARCHE_ORIGIN,
        "zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI"
        "4kJXFbon5Ch9MNL5zRNZ55lvGt0=",
    ),
    (
        ARCHE_ORIGIN,
        "ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZF"
        "WwQ=",
    ),
    (
        "transparency.dev/DEV:witness-little-garden",
        "2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q4"
        "4vdgJY096st5BQ==",
    ),
    (
        "witness1.smartit.nu/witness1",
        "pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0t"
        "gh0XwzdZsDsUAQ==",
    ),
    (
        "remora.n621.de",
        "2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0"
        "WBxtqB0DrAWfBw==",
    ),
    (
        "witness.stagemole.eu",
        "Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUi"
        "OvKFYe/TmN9DAg==",
    ),
)
ARCHE_NOTE = ARCHE_BODY + b"\n" + "".join(f"{EM} {n} {b}\n" for n, b in ARCHE_SIGNATURES).encode()
ARCHE_LOG_VKEY = f"{ARCHE_ORIGIN}+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
TEST_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"  # formats
WITNESS_VKEYS = (
    "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
    "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
)


def peter() -> Verifier:
    return Verifier.parse(PETER_VKEY)


def enoch() -> Verifier:
    return Verifier.parse(ENOCH_VKEY)


@pytest.mark.parametrize(
    ("vkey", "name", "key_id", "cls"),
    [
        (PETER_VKEY, "PeterNeumann", "c74f20a3", Verifier),
        (ENOCH_VKEY, "EnochRoot", "af0cfe78", Verifier),
        (FOO_VKEY, "example.com/foo", "530d903a", Verifier),
        (ARCHE_LOG_VKEY, ARCHE_ORIGIN, "ba2f06c0", Verifier),
        # '+' inside the base64 part must not be taken as a separator
        (TEST_VKEY, "TEST", "7997405c", Verifier),
        (WITNESS_VKEYS[2], "remora.n621.de", "da77ade7", CosignatureVerifier),
    ],
)
def test_verifier_key_vectors(vkey: str, name: str, key_id: str, cls: type[Verifier]) -> None:
    v = Verifier.parse(vkey)
    assert type(v) is cls
    assert (v.name, v.key_id.hex()) == (name, key_id)
    assert v.key_id == canonical.key_id(name, v.signature_type, v.public_key)
    assert v.verifier_key == vkey


def test_every_one_byte_change_and_every_truncation_of_a_vkey_is_rejected() -> None:
    # golang/mod note_test.go TestNewVerifier: all manglings must fail.
    b = PETER_VKEY.encode()
    for i in range(len(b)):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(InputError):
                    Verifier.parse(b[i:j].decode())
    for i in range(len(b)):
        mangled = bytearray(b)
        mangled[i] += 1
        with pytest.raises(InputError):
            Verifier.parse(mangled.decode())


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        "bananas.sigstore.dev+12344556",  # wrong number of parts
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",  # reserved type 0x03
    ],
)
def test_reference_bad_vkeys_rejected(vkey: str) -> None:
    with pytest.raises(InputError):
        Verifier.parse(vkey)


def test_go_signed_note_verifies() -> None:
    note = verify_note((GO_TEXT + "\n" + PETER_SIG).encode(), [peter()])
    assert note.body == GO_TEXT.encode()
    assert note.verified_by == ("PeterNeumann",)


def test_our_signature_lines_have_go_s_shape() -> None:
    # No private key is committed (keys are generated at test time): sign Go's text with a
    # fresh key under Go's key name and check the line layout Go's verifier expects.
    signer = Ed25519Signer("PeterNeumann", Ed25519PrivateKey.generate())
    note = signer.sign_note(GO_TEXT.encode()).decode()
    body, _, line = note.rpartition("\n\n")
    assert body + "\n" == GO_TEXT
    dash, name, payload = line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "PeterNeumann")
    raw = base64.b64decode(payload, validate=True)
    assert raw[:4] == signer.key_id
    assert len(raw) == 4 + 64
    assert verify_note(note.encode(), [signer.verifier()]).verified_by == ("PeterNeumann",)


def test_go_doubly_signed_note() -> None:
    text = (GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    assert verify_note(text, [peter(), enoch()]).verified_by == ("PeterNeumann", "EnochRoot")
    assert verify_note(text, [peter()]).verified_by == ("PeterNeumann",)  # Enoch ignored
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(text, [])


def test_go_modified_text_fails_naming_the_key() -> None:
    text = (GO_TEXT.replace("answer", "Answer") + "\n" + PETER_SIG).encode()
    with pytest.raises(NoteError, match=r"PeterNeumann\+c74f20a3 does not verify"):
        verify_note(text, [peter()])


def test_go_modified_signature_fails_naming_the_key() -> None:
    text = (GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]).encode()
    with pytest.raises(NoteError, match=r"PeterNeumann\+c74f20a3"):
        verify_note(text, [peter()])


def test_go_duplicated_and_mangled_unknown_signatures_are_ignored() -> None:
    mangled_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    text = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + mangled_enoch
    assert verify_note(text.encode(), [peter()]).verified_by == ("PeterNeumann",)


@pytest.mark.parametrize(
    "text",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name").rstrip("\n"),
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
    ids=["no-sigs", "blank-only", "no-final-newline", "control", "bad-name", "junk", "101-sigs"],
)
def test_go_malformed_notes_rejected(text: str) -> None:
    with pytest.raises(NoteError):
        verify_note(text.encode(), [peter()])


def test_go_non_utf8_note_rejected() -> None:
    with pytest.raises(NoteError, match="not valid UTF-8"):
        verify_note(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(), [peter()])


def test_signed_note_spec_example_verifies() -> None:
    note = verify_note(FOO_NOTE, [Verifier.parse(FOO_VKEY)])
    assert note.body == b"This is an example message.\n"


def test_checkpoint_spec_example_parses_and_round_trips() -> None:
    parsed = parse_note(SOFA_NOTE)
    assert parsed.body == SOFA_BODY
    cp = Checkpoint.parse(parsed.body)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert cp.body() == SOFA_BODY
    witness = parsed.signatures[1]
    assert (witness.name, witness.key_id.hex()) == ("witness.example.com/w1", "8d66cf3f")
    # the cosignature's timestamp is the one in the spec's signed-message example
    assert int.from_bytes(witness.signature[:8], "big") == 1679315147
    assert len(witness.signature) == 8 + 64


def test_cosignature_message_matches_spec_example() -> None:
    assert canonical.cosignature_message(1679315147, SOFA_BODY) == (
        b"cosignature/v1\n"
        b"time 1679315147\n"
        b"example.com/behind-the-sofa\n"
        b"20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_real_checkpoint_verifies_with_log_key() -> None:
    cp = verify_checkpoint(ARCHE_NOTE, [Verifier.parse(ARCHE_LOG_VKEY)], origin=ARCHE_ORIGIN)
    assert cp.size == 1432088532
    assert cp.root == base64.b64decode("U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=")


def test_real_checkpoint_witness_cosignatures_verify() -> None:
    witnesses = [CosignatureVerifier.parse(k) for k in WITNESS_VKEYS]
    note = verify_note(ARCHE_NOTE, witnesses)
    assert note.verified_by == (
        "transparency.dev/DEV:witness-little-garden",
        "witness1.smartit.nu/witness1",
        "remora.n621.de",
    )
    remora = witnesses[2]
    sig = next(s for s in parse_note(ARCHE_NOTE).signatures if s.name == remora.name)
    assert remora.timestamp(sig.signature) == 1779573024


@pytest.mark.parametrize("vkey", [ARCHE_LOG_VKEY, *WITNESS_VKEYS])
def test_real_checkpoint_with_other_size_fails_for_every_key(vkey: str) -> None:
    forged = ARCHE_NOTE.replace(b"\n1432088532\n", b"\n1432088533\n")
    verifier = Verifier.parse(vkey)
    with pytest.raises(NoteError, match=re.escape(f"trusted key {verifier.label} does not verify")):
        verify_note(forged, [verifier])


def test_cosignature_key_does_not_verify_as_plain_ed25519() -> None:
    # Same name and public key but type 0x01: a different key id, so the lines are unknown.
    remora = Verifier.parse(WITNESS_VKEYS[2])
    plain = Verifier.from_public_key(remora.name, remora.public_key)
    assert plain.key_id != remora.key_id
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        verify_note(ARCHE_NOTE, [plain])
