"""Verify C2SP signed notes (https://c2sp.org/signed-note) and checkpoints.

Verify side only: this module never imports signing code or private keys.

Trust rules (signed-note "Signatures"): a signature line whose key name *and* key id match a
trusted key is verified; a signature line matching no trusted key is ignored, even if it shares
the name or the id (but not both) with one. A trusted signature that fails is fatal (fail
closed), and so is a note that no trusted key signed. Failures raise :class:`NoteError`, and
never return False. Malformed verifier keys raise :class:`InputError` (a configuration problem,
not evidence that failed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edgeaudit import canonical
from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint, b64decode_strict, is_valid_name

MAX_SIGNATURES: Final = 100  # signature lines accepted per note (the spec requires >= 16)
ED25519_KEY_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
MAX_COSIGNATURE_TIMESTAMP: Final = 2**63 - 1
_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{8}")
_SIG_PREFIX: Final = canonical.EM_DASH + " "
_TYPE_NAMES: Final = {0x02: "ECDSA", 0x05: "RFC 6962 tree head", 0x06: "ML-DSA-44 cosignature"}


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 signed-note key (signature type 0x01); signatures are over the text."""

    SIGNATURE_TYPE: ClassVar[int] = canonical.SIG_ED25519

    name: str
    key_id: bytes
    signature_type: int
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not is_valid_name(self.name):
            raise InputError(
                f"key name must be non-empty printable text without spaces or '+', "
                f"got {self.name!r}"
            )
        if self.signature_type != self.SIGNATURE_TYPE:
            raise InputError(
                f"{type(self).__name__} needs signature type 0x{self.SIGNATURE_TYPE:02x}, "
                f"got {self.signature_type!r}"
            )
        if type(self.public_key) is not bytes or len(self.public_key) != ED25519_KEY_SIZE:
            raise InputError(
                f"key {self.name}: expected a {ED25519_KEY_SIZE}-byte Ed25519 public key, "
                f"found {len(self.public_key) if isinstance(self.public_key, bytes) else 'none'}"
            )
        expected = canonical.key_id(self.name, self.signature_type, self.public_key)
        if type(self.key_id) is not bytes or self.key_id != expected:
            raise InputError(
                f"key {self.name}: key id {self.key_id!r} does not match the public key; "
                f"expected {expected.hex()}"
            )
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Self:
        """Build the verifier of ``name``'s raw 32-byte Ed25519 public key."""
        kid = canonical.key_id(name, cls.SIGNATURE_TYPE, public_key)
        return cls(name, kid, cls.SIGNATURE_TYPE, public_key)

    @classmethod
    def parse(cls, vkey: str) -> Self:
        """Parse a verifier key ``<name>+<8 lowercase hex key id>+<base64(type || key)>``.

        Type 0x01 gives a :class:`Verifier`, type 0x04 a :class:`CosignatureVerifier`; called
        on a subclass, only that subclass's type is accepted.
        """
        verifier = _parse_verifier_key(vkey)
        if not isinstance(verifier, cls):
            raise InputError(
                f"verifier key {verifier.name}: expected signature type "
                f"0x{cls.SIGNATURE_TYPE:02x}, found 0x{verifier.signature_type:02x}"
            )
        return verifier

    @property
    def label(self) -> str:
        """``name+keyid``, how messages name this key."""
        return f"{self.name}+{self.key_id.hex()}"

    @property
    def verifier_key(self) -> str:
        """The verifier key string, as :meth:`parse` reads it."""
        return canonical.verifier_key(self.name, self.signature_type, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check ``signature`` (without the key id) over the note text ``message``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            raise NoteError(
                f"signature by trusted key {self.label}: expected {ED25519_SIGNATURE_SIZE} "
                f"signature bytes, found {len(signature)}"
            )
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise NoteError(
                f"signature by trusted key {self.label} does not verify: the note text or the "
                "signature was altered"
            ) from None


@dataclass(frozen=True)
class CosignatureVerifier(Verifier):
    """A witness key: timestamped Ed25519 cosignatures, type 0x04 (c2sp.org/tlog-cosignature).

    The signature payload is an 8-byte big-endian timestamp then 64 signature bytes, over
    ``cosignature/v1\\ntime <timestamp>\\n`` followed by the note text.
    """

    SIGNATURE_TYPE: ClassVar[int] = canonical.SIG_COSIGNATURE_V1

    def timestamp(self, signature: bytes) -> int:
        """The POSIX time a cosignature claims; raise :class:`NoteError` if malformed."""
        expected = 8 + ED25519_SIGNATURE_SIZE
        if len(signature) != expected:
            raise NoteError(
                f"cosignature by trusted key {self.label}: expected {expected} bytes "
                f"(timestamp and signature), found {len(signature)}"
            )
        value = int.from_bytes(signature[:8], "big")
        if value > MAX_COSIGNATURE_TIMESTAMP:
            raise NoteError(
                f"cosignature by trusted key {self.label}: timestamp {value} exceeds 2**63-1"
            )
        return value

    def verify(self, message: bytes, signature: bytes) -> None:
        timestamp = self.timestamp(signature)
        super().verify(canonical.cosignature_message(timestamp, message), signature[8:])


def _parse_verifier_key(vkey: str) -> Verifier:
    # Never echo the input before knowing it is a verifier key: a private key passed by
    # mistake (e.g. `verify --key keys/log.key`) must not end up on a terminal or in a log.
    if not isinstance(vkey, str) or "-----BEGIN" in vkey or "PRIVATE" in vkey:
        raise InputError(
            "this is not a verifier key (it looks like a PEM or private key file); pass the "
            "public verifier key that `edgeaudit key show` prints"
        )
    parts = vkey.split("+", 2)
    if len(parts) != 3 or any(c.isspace() for c in vkey):
        raise InputError(
            f"not a verifier key ({len(vkey)} characters): expected "
            "<name>+<8 hex digits>+<base64 key> on one line"
        )
    name, kid_hex, key_b64 = parts
    if not _KEY_ID_RE.fullmatch(kid_hex):
        raise InputError(
            f"verifier key {name}: expected a key id of 8 lowercase hex digits, found {kid_hex!r}"
        )
    raw = b64decode_strict(key_b64)
    if not raw:
        raise InputError(
            f"verifier key {name}: expected standard base64 (with padding) of the signature "
            f"type and public key, found {key_b64[:60]!r}"
        )
    classes = {
        Verifier.SIGNATURE_TYPE: Verifier,
        CosignatureVerifier.SIGNATURE_TYPE: CosignatureVerifier,
    }
    if raw[0] not in classes:
        raise InputError(
            f"verifier key {name}: signature type 0x{raw[0]:02x} "
            f"({_TYPE_NAMES.get(raw[0], 'unknown')}) is not supported; "
            "expected 0x01 (Ed25519) or 0x04 (Ed25519 cosignature)"
        )
    return classes[raw[0]](name, bytes.fromhex(kid_hex), raw[0], raw[1:])


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, and the signature bytes after the id."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class ParsedNote:
    """A syntactically valid note whose signatures have NOT been checked."""

    body: bytes
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True)
class VerifiedNote:
    """A note with at least one valid signature from a trusted key.

    ``verified_by`` holds the key names of the trusted keys that signed, one entry per key,
    in the order of their signature lines; ``labels`` the same keys as ``name+keyid`` (two keys
    of one name, e.g. a log key and its successor, differ there).
    """

    body: bytes
    verified_by: tuple[str, ...]
    labels: tuple[str, ...] = ()


def parse_note(text: bytes) -> ParsedNote:
    """Split a signed note into its text and signature lines; check syntax only."""
    if not isinstance(text, bytes):
        raise NoteError(f"a signed note must be bytes, got {type(text).__name__}")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoteError(
            f"note is not valid UTF-8: byte 0x{text[exc.start]:02x} at offset {exc.start}"
        ) from None
    bad = next((c for c in decoded if c < " " and c != "\n"), None)
    if bad is not None:
        line = decoded[: decoded.index(bad)].count("\n") + 1
        raise NoteError(
            f"note line {line} contains control character U+{ord(bad):04X}"
            f"{' (CRLF line endings?)' if bad == chr(13) else ''}; only newline is allowed"
        )
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line separating the text from the signature lines")
    body, block = decoded[: split + 1], decoded[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines after its last blank line")
    if not block.endswith("\n"):
        raise NoteError("note's last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(
            f"note has {len(lines)} signature lines; at most {MAX_SIGNATURES} are accepted"
        )
    first = body.count("\n") + 2
    sigs = tuple(_parse_signature_line(line, first + i) for i, line in enumerate(lines))
    return ParsedNote(body.encode("utf-8"), sigs)


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(
            f"note line {number}: expected a signature line starting with '{_SIG_PREFIX}' "
            f"(U+2014 em dash, space), found {line[:40]!r}"
        )
    name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not space or not is_valid_name(name):
        raise NoteError(
            f"note line {number}: expected '— <key name> <base64>' with a key name that is "
            f"non-empty printable text without spaces or '+', found {line[:60]!r}"
        )
    raw = b64decode_strict(b64)
    if raw is None or len(raw) < 5:
        raise NoteError(
            f"note line {number} (key {name}): expected standard base64 of a 4-byte key id "
            f"and at least 1 signature byte, found {b64[:60]!r}"
        )
    return NoteSignature(name, raw[:4], raw[4:])


def verify_note(text: bytes, verifiers: Sequence[Verifier]) -> VerifiedNote:
    """Parse ``text`` and check it against the trusted ``verifiers``; raise unless trusted."""
    trusted: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if not isinstance(v, Verifier):
            raise InputError(f"trusted keys must be Verifier objects, got {type(v).__name__}")
        other = trusted.setdefault((v.name, v.key_id), v)
        if other != v:
            raise InputError(f"two different trusted keys share the name and id {v.label}")
    note = parse_note(text)
    verified: dict[tuple[str, bytes], str] = {}
    for sig in note.signatures:
        verifier = trusted.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # unknown key: ignored, as the specification requires
        verifier.verify(note.body, sig.signature)
        verified.setdefault((sig.name, sig.key_id), sig.name)
    if not verified:
        signed_by = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        known = ", ".join(v.label for v in trusted.values()) or "(none)"
        raise NoteError(
            f"no signature from a trusted key; note signed by: {signed_by}; trusted keys: {known}"
        )
    labels = tuple(f"{name}+{kid.hex()}" for name, kid in verified)
    return VerifiedNote(note.body, tuple(verified.values()), labels)


def verify_checkpoint(
    text: bytes, verifiers: Sequence[Verifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note, then parse its body and check its origin."""
    note = verify_note(text, verifiers)
    checkpoint = Checkpoint.parse(note.body)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(
            f"checkpoint origin is {checkpoint.origin!r}, expected {origin!r}; "
            "it was signed for a different log"
        )
    return checkpoint
