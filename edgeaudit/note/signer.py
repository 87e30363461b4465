"""Sign C2SP signed notes and checkpoints with Ed25519 (sign side only).

Verification code must never import this module; ``edgeaudit.note`` does not re-export it.
A signer wraps a ``cryptography`` private key object and never keeps the raw key bytes; it does
not print, compare or pickle its key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit import canonical
from edgeaudit.errors import InputError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import (
    MAX_SIGNATURES,
    CosignatureVerifier,
    Verifier,
    parse_note,
)


class Ed25519Signer:
    """Signs note text with an Ed25519 key as signed-note signature type 0x01."""

    SIGNATURE_TYPE: ClassVar[int] = canonical.SIG_ED25519
    __slots__ = ("_key_id", "_name", "_private_key", "_public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise InputError(
                f"signer {name!r} needs an Ed25519PrivateKey, got {type(private_key).__name__}"
            )
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes_raw()
        self._key_id = canonical.key_id(name, self.SIGNATURE_TYPE, self._public_key)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public_key

    @property
    def verifier_key(self) -> str:
        """``<name>+<key id>+<base64(type || public key)>``, to hand to verifiers."""
        return canonical.verifier_key(self._name, self.SIGNATURE_TYPE, self._public_key)

    def verifier(self) -> Verifier:
        """The verifier of this key."""
        return Verifier.parse(self.verifier_key)

    def sign(self, message: bytes) -> bytes:
        """The signature bytes (without key id) over the note text ``message``."""
        return self._private_key.sign(message)

    def signature_line(self, body: bytes) -> str:
        """This key's signature line for the note text ``body``."""
        _check_note_text(body)
        return canonical.signature_line(self._name, self._key_id, self.sign(body))

    def sign_note(self, body: bytes) -> bytes:
        """A new signed note: ``body``, a blank line and this key's signature line."""
        return canonical.signed_note(body, [self.signature_line(body)])

    def add_signature(self, note: bytes) -> bytes:
        """Append this key's signature to a signed note, keeping its other signature lines.

        An existing line by this same key (name and id) is replaced. The existing signatures
        are not verified here: verify the note first if that matters to what you sign.
        """
        parsed = parse_note(note)
        lines = [
            canonical.signature_line(s.name, s.key_id, s.signature)
            for s in parsed.signatures
            if (s.name, s.key_id) != (self._name, self._key_id)
        ]
        lines.append(self.signature_line(parsed.body))
        if len(lines) > MAX_SIGNATURES:
            raise InputError(
                f"note already has {len(lines) - 1} signature lines; adding one would exceed "
                f"the {MAX_SIGNATURES} that verifiers accept"
            )
        return canonical.signed_note(parsed.body, lines)

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes:
        """A signed checkpoint note."""
        return self.sign_note(checkpoint.body())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_id={self._key_id.hex()!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds a private key and cannot be pickled")


class Ed25519Cosigner(Ed25519Signer):
    """A witness: timestamped Ed25519 cosignatures, type 0x04 (c2sp.org/tlog-cosignature).

    ``clock`` returns the POSIX time to put in each cosignature (default: now).
    """

    SIGNATURE_TYPE: ClassVar[int] = canonical.SIG_COSIGNATURE_V1
    __slots__ = ("_clock",)

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        clock: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(name, private_key)
        self._clock = clock if clock is not None else _now

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier.parse(self.verifier_key)

    def sign(self, message: bytes) -> bytes:
        """8-byte big-endian timestamp || signature over the cosignature/v1 message."""
        timestamp = self._clock()
        signed = canonical.cosignature_message(timestamp, message)
        return timestamp.to_bytes(8, "big") + self._private_key.sign(signed)


def generate(name: str) -> Ed25519Signer:
    """A signer with a fresh random Ed25519 key."""
    return Ed25519Signer(name, Ed25519PrivateKey.generate())


def _now() -> int:
    return int(time.time())


def _check_note_text(body: bytes) -> None:
    """Refuse to sign text that cannot form a valid signed note."""
    if not isinstance(body, bytes) or not body.endswith(b"\n"):
        raise InputError("note text must be bytes ending with a newline")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"note text is not valid UTF-8 at byte offset {exc.start}") from None
    bad = next((c for c in text if c < " " and c != "\n"), None)
    if bad is not None:
        raise InputError(
            f"note text contains control character U+{ord(bad):04X}; only newline is allowed"
        )


def sign_transition(current: Ed25519Signer, following: Ed25519Signer, tree: Checkpoint) -> bytes:
    """A transition checkpoint of ``tree`` (see :mod:`edgeaudit.note.transition`): the tree with
    ``prev-key`` and ``next-key`` lines naming ``current`` and ``following``, signed by
    ``current`` and then by ``following``."""
    from edgeaudit.note.transition import transition_lines

    if (current.name, current.key_id) == (following.name, following.key_id):
        raise InputError("a key transition needs a new key; both keys are the same")
    lines = transition_lines(current.verifier_key, following.verifier_key)
    extensions = (*tree.extensions, *lines)
    body = Checkpoint(tree.origin, tree.size, tree.root, extensions).body()
    return following.add_signature(current.sign_note(body))
