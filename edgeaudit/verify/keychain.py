"""Which log keys to trust for a checkpoint of a given size: rotation and revocation.

Verify side only (imports no signing code). An auditor trusts one log key (the anchor). The
log may rotate it: a transition checkpoint of size T (:mod:`edgeaudit.note.transition`),
signed by the previous key it names (a key of the chain valid at T) and by the next key it
names, hands trust over: the old key signs nothing beyond T, the next key nothing before T. A
transition signed by the next key alone (or by a retired or revoked key) is not followed.
Backwards, a trusted key that a transition names as next (the operator's current key) vouches,
by its signature there, for the previous key up to T. A key declared revoked as of
size N (:class:`Revocation`) signs nothing beyond N that is believed. Failures raise
:class:`NoteError` naming the key and the size; docs/pack-format.md, "Keys".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.transition import transition_keys
from edgeaudit.note.verifier import Verifier, parse_note, verify_note

_REVOKED_RE: Final = re.compile(r"(?P<key>[^\s@]+)@(?P<size>0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class Revocation:
    """Key ``key`` is compromised: nothing it signed for a tree larger than ``size`` counts.

    ``key`` is a log key's 8-hex key id or its ``name+keyid`` label, or a manifest key's
    RFC 7638 ``kid``. Revocations only ever take trust away, so an auditor may accept them
    from anyone (a revocation from an attacker can only make verification fail).
    """

    key: str
    size: int

    @classmethod
    def parse(cls, text: str, where: str = "--revoked") -> Revocation:
        match = _REVOKED_RE.fullmatch(text.strip())
        if match is None:
            raise InputError(
                f"{where}: expected KEYID@SIZE (a log key id such as 1a2b3c4d, or a manifest "
                f"key id, then the last trusted tree size), found {text.strip()[:60]!r}"
            )
        return cls(match["key"], int(match["size"]))

    def names_log_key(self, verifier: Verifier) -> bool:
        return self.key in (verifier.key_id.hex(), verifier.label)


def load_revocations(values: Iterable[str]) -> tuple[Revocation, ...]:
    """``--revoked`` values: each ``KEYID@SIZE`` or a file of such lines (``#`` comments)."""
    out: list[Revocation] = []
    for value in values:
        path = Path(value)
        if "@" in value and not path.is_file():
            out.append(Revocation.parse(value))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"--revoked {value}: neither KEYID@SIZE nor a readable revocation file ({exc})"
            ) from None
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(Revocation.parse(line, f"{path}:{number}"))
    return tuple(out)


def revoked_at(key: str, kid_aliases: Sequence[str], revoked: Sequence[Revocation]) -> int | None:
    """The smallest size any revocation of ``key`` (or one of its aliases) names, or None."""
    sizes = [r.size for r in revoked if r.key == key or r.key in kid_aliases]
    return min(sizes) if sizes else None


@dataclass(frozen=True)
class ChainKey:
    """A log key and the tree sizes it may sign: ``first`` to ``last`` (None: no end)."""

    verifier: Verifier
    first: int = 0
    last: int | None = None

    def why_not(self, size: int, revoked: Sequence[Revocation]) -> str | None:
        """None when this key may sign a checkpoint of ``size``, else the reason."""
        label = self.verifier.label
        if size < self.first:
            return f"key {label} is trusted only from the transition at size {self.first}"
        if self.last is not None and size > self.last:
            return f"key {label} was retired by the transition at size {self.last}"
        limit = revoked_at(self.verifier.key_id.hex(), [label], revoked)
        if limit is not None and size > limit:
            return f"key {label} is revoked as of size {limit}"
        return None


@dataclass(frozen=True)
class KeyChain:
    """The log keys trusted from an anchor, with their ranges and the revocations."""

    keys: tuple[ChainKey, ...]
    revoked: tuple[Revocation, ...] = ()

    @classmethod
    def from_notes(
        cls,
        anchors: Sequence[Verifier],
        notes: Iterable[bytes],
        origin: str | None,
        revoked: Sequence[Revocation] = (),
    ) -> KeyChain:
        """The chain from the trusted ``anchors``, following every valid transition among
        ``notes`` (signed checkpoint notes of the log, any order) by tree size."""
        chain = cls(tuple(ChainKey(v) for v in anchors), tuple(revoked))
        transitions: list[tuple[int, bytes, Verifier, Verifier]] = []
        for note in notes:
            try:
                cp = Checkpoint.parse(parse_note(note).body)
                named = transition_keys(cp)
            except NoteError:
                continue  # a malformed note is reported where it is verified
            if named is not None:
                transitions.append((cp.size, note, *named))
        transitions.sort(key=lambda t: t[0])
        for size, note, previous, following in reversed(transitions):
            chain = chain._back(size, note, previous, following, origin)
        for size, note, previous, following in transitions:
            chain = chain._follow(size, note, previous, following, origin)
        return chain

    def _follow(
        self, size: int, note: bytes, previous: Verifier, following: Verifier, origin: str | None
    ) -> KeyChain:
        if following.label in {k.verifier.label for k in self.keys}:
            return self
        try:
            signers = [k for k in self._signers(note, origin) if k.verifier == previous]
            verify_note(note, [following])
        except NoteError:
            return self  # not a transition of this chain: its note is refused where checked
        if not signers:
            return self
        keys = [replace(k, last=size) if k in signers else k for k in self.keys]
        return replace(self, keys=(*keys, ChainKey(following, first=size)))

    def _back(
        self, size: int, note: bytes, previous: Verifier, following: Verifier, origin: str | None
    ) -> KeyChain:
        if previous.label in {k.verifier.label for k in self.keys}:
            return self
        held = [k for k in self.keys if k.verifier == following and k.first == 0]
        try:
            signers = [k for k in self._signers(note, origin) if k in held]
            verify_note(note, [previous])
        except NoteError:
            return self
        if not signers:
            return self
        keys = [replace(k, first=size) if k in signers else k for k in self.keys]
        return replace(self, keys=(ChainKey(previous, last=size), *keys))

    @property
    def verifiers(self) -> tuple[Verifier, ...]:
        return tuple(k.verifier for k in self.keys)

    def _signers(self, note: bytes, origin: str | None) -> list[ChainKey]:
        verified = verify_note(note, self.verifiers)
        cp = Checkpoint.parse(verified.body)
        if origin is not None and cp.origin != origin:
            raise NoteError(
                f"checkpoint origin is {cp.origin!r}, expected {origin!r}; "
                "it was signed for a different log"
            )
        signed = [k for k in self.keys if k.verifier.label in verified.labels]
        valid = [k for k in signed if k.why_not(cp.size, self.revoked) is None]
        if not valid:
            reasons = "; ".join(str(k.why_not(cp.size, self.revoked)) for k in signed)
            raise NoteError(
                f"checkpoint of size {cp.size} is signed by no key trusted at that size: {reasons}"
            )
        return valid

    def verify_checkpoint(self, note: bytes, origin: str | None = None) -> Checkpoint:
        """Verify a signed checkpoint note as :func:`edgeaudit.note.verify_checkpoint` does,
        and that a key of the chain valid at its size (not retired, not revoked) signed it."""
        self._signers(note, origin)
        return Checkpoint.parse(parse_note(note).body)

    def signer_of(self, note: bytes, origin: str | None = None) -> Verifier:
        """A key of the chain, valid at its size, that signed the checkpoint ``note``."""
        return self._signers(note, origin)[0].verifier
