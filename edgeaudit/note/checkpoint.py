"""C2SP tlog-checkpoint bodies: a frozen value type and a strict parser.

A checkpoint body (https://c2sp.org/tlog-checkpoint) is text lines, each ending in ``\\n``::

    <origin>
    <tree size in decimal, no leading zeros>
    <base64 root hash, standard alphabet with padding>
    [<extension line>...]

The bytes are built only by :func:`edgeaudit.canonical.checkpoint_body`. :meth:`Checkpoint.parse`
accepts exactly the bytes that builder produces, so ``Checkpoint.parse(b).body() == b`` always.

Deliberately stricter than the specification in one place: the origin must not contain spaces
or ``+`` (the specification only recommends this), because edgeaudit logs never use such names
and :mod:`edgeaudit.canonical` cannot produce them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from edgeaudit import canonical
from edgeaudit.errors import InputError, NoteError

MAX_TREE_SIZE: Final = 2**64 - 1
_SIZE_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")


def is_valid_name(name: str) -> bool:
    """A key name or origin: non-empty, printable, without Unicode spaces or ``+``."""
    return bool(name) and name.isprintable() and not any(c.isspace() or c == "+" for c in name)


def b64decode_strict(text: str) -> bytes | None:
    """Decode standard base64 with padding; ``None`` unless ``text`` is its canonical encoding.

    Rejects missing padding, other alphabets, whitespace and non-zero trailing bits, so that
    one byte string has exactly one accepted text form.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement of its tree: origin, size and RFC 6962 root hash.

    Valid by construction: an invalid field raises :class:`InputError` naming it.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not is_valid_name(self.origin):
            raise InputError(
                f"checkpoint origin must be non-empty printable text without spaces or '+', "
                f"got {self.origin!r}"
            )
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise InputError(
                f"checkpoint tree size must be an integer in 0..2**64-1, got {self.size!r}"
            )
        if type(self.root) is not bytes or len(self.root) != canonical.HASH_SIZE:
            found = len(self.root) if isinstance(self.root, bytes | bytearray) else self.root
            raise InputError(
                f"checkpoint root hash must be {canonical.HASH_SIZE} bytes, got {found!r}"
            )
        if not isinstance(self.extensions, tuple):
            raise InputError(
                f"checkpoint extensions must be a tuple of lines, got {type(self.extensions)}"
            )
        for ext in self.extensions:
            if not isinstance(ext, str) or not ext or not ext.isprintable():
                raise InputError(
                    f"checkpoint extension line must be non-empty printable text, got {ext!r}"
                )

    def body(self) -> bytes:
        """The exact note text that is signed."""
        return canonical.checkpoint_body(self.origin, self.size, self.root, self.extensions)

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """Parse a checkpoint body strictly; raise :class:`NoteError` naming the line at fault."""
        if not isinstance(body, bytes):
            raise NoteError(f"checkpoint body must be bytes, got {type(body).__name__}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(
                f"checkpoint body is not valid UTF-8: byte 0x{body[exc.start]:02x} "
                f"at offset {exc.start}"
            ) from None
        if not text.endswith("\n"):
            raise NoteError(
                "checkpoint body must end with a newline; its last line "
                f"{text.rsplit(chr(10), 1)[-1][:40]!r} has none"
            )
        lines = text[:-1].split("\n")
        for number, line in enumerate(lines, start=1):
            if not line:
                raise NoteError(f"checkpoint line {number} is empty; empty lines are not allowed")
        if len(lines) < 3:
            raise NoteError(
                "checkpoint body needs at least 3 lines (origin, tree size, root hash), "
                f"found {len(lines)}"
            )
        origin, size_text, root_text, *extensions = lines
        if not is_valid_name(origin):
            raise NoteError(
                "checkpoint line 1 (origin): expected printable text without spaces or '+', "
                f"found {origin!r}"
            )
        if not _SIZE_RE.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
            raise NoteError(
                "checkpoint line 2 (tree size): expected a decimal number in 0..2**64-1 "
                f"without sign, spaces or leading zeros, found {size_text[:40]!r}"
            )
        root = b64decode_strict(root_text)
        if root is None:
            raise NoteError(
                "checkpoint line 3 (root hash): expected standard base64 with padding, "
                f"found {root_text[:60]!r}"
            )
        if len(root) != canonical.HASH_SIZE:
            raise NoteError(
                f"checkpoint line 3 (root hash): expected {canonical.HASH_SIZE} bytes, "
                f"found {len(root)}"
            )
        for number, ext in enumerate(extensions, start=4):
            if not ext.isprintable():
                raise NoteError(
                    f"checkpoint line {number} (extension): expected printable text, found {ext!r}"
                )
        return cls(origin, int(size_text), root, tuple(extensions))
