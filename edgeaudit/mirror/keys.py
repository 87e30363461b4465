"""Which keys the mirror trusts for a pod's checkpoints: the ``[[mirror]]`` key, and the pod's
key transitions followed from it exactly as ``verify`` follows them.

A pod rotates its log key with a transition checkpoint (ADR 0014: ``prev-key`` and
``next-key`` lines, signed by both keys) and publishes its transitions at
``<url>/key-transitions`` (:mod:`edgeaudit.serve.tiles`). The mirror trusts its ``[[mirror]]``
key (the anchor) and the transitions it holds; when the pod's checkpoint is signed by no key of
that chain, it fetches the pod's transitions and builds the chain again with
:class:`edgeaudit.verify.keychain.KeyChain` (the same code as ``verify``: a transition signed
by the next key alone, or by a retired or revoked key, is not followed; the ``[[mirror]]``
table's ``revoked`` keys sign nothing beyond their size). A transition followed is held in the
store like any of the pod's checkpoints (so ``verify --log ORIGIN`` with the ``[[mirror]]`` key
follows it too) once the entries up to it are stored and its root is theirs, and recorded as a
``mirror.key_change`` entry of the central workspace's own log, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from edgeaudit.errors import NoteError
from edgeaudit.events import prepare
from edgeaudit.mirror.state import now
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.transition import transition_keys
from edgeaudit.note.verifier import parse_note
from edgeaudit.store import EvidenceLog
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.workspace.mirrors import MirrorSource

KEY_CHANGE_KIND = "mirror.key_change"


@dataclass(frozen=True)
class Transition:
    """A transition checkpoint of the pod the chain followed."""

    size: int
    root: bytes
    note: bytes
    previous: str  # verifier keys
    following: str


def chain_of(source: MirrorSource, notes: Sequence[bytes]) -> KeyChain:
    """The keys trusted for ``source`` given the pod's signed ``notes`` (any order)."""
    return KeyChain.from_notes([source.verifier()], notes, source.origin, source.revoked)


def followed(chain: KeyChain, notes: Sequence[bytes]) -> list[Transition]:
    """The transitions among ``notes`` that ``chain`` followed (a key of the chain starts at
    its size, named by it as the next key), by size."""
    out: dict[int, Transition] = {}
    starts = {(k.verifier.label, k.first) for k in chain.keys if k.first > 0}
    for note in notes:
        try:
            cp = Checkpoint.parse(parse_note(note).body)
            named = transition_keys(cp)
        except NoteError:
            continue
        if named is None or (named[1].label, cp.size) not in starts:
            continue
        out[cp.size] = Transition(
            cp.size, cp.root, note, named[0].verifier_key, named[1].verifier_key
        )
    return [out[size] for size in sorted(out)]


def unfollowed(chain: KeyChain, notes: Sequence[bytes], origin: str) -> str:
    """Why the transitions among ``notes`` that ``chain`` did not follow were not (text to
    append to a refusal; empty if there are none)."""
    starts = {k.first for k in chain.keys if k.first > 0}
    reasons = []
    for note in notes:
        try:
            cp = Checkpoint.parse(parse_note(note).body)
            if cp.size in starts or transition_keys(cp) is None:
                continue
            chain.verify_checkpoint(note, origin)
            why = "its next key did not sign it"
        except NoteError as exc:
            why = str(exc)
        reasons.append(f"the pod's transition at size {cp.size} is not followed: {why}")
    return "".join(f"; {r}" for r in reasons)


def log_lines_only(note: bytes, chain: KeyChain) -> bytes:
    """``note`` with only the signature lines of the chain's keys (the note as the pod's log
    signed it); the other lines (witnesses' cosignatures) are kept apart."""
    from edgeaudit.canonical import signature_line, signed_note

    parsed = parse_note(note)
    keys = {(v.name, v.key_id) for v in chain.verifiers}
    lines = [
        signature_line(s.name, s.key_id, s.signature)
        for s in parsed.signatures
        if (s.name, s.key_id) in keys
    ]
    return signed_note(parsed.body, lines) if lines else note


def record_key_changes(
    own_log: EvidenceLog, source: MirrorSource, transitions: Sequence[Transition]
) -> int:
    """Append a ``mirror.key_change`` entry for each transition not recorded yet (for this
    origin and size); how many were appended."""
    if not transitions:
        return 0
    recorded: set[int] = set()
    with own_log.reader() as reader:
        size, _ = reader.head()
        for _idx, body, _leaf in reader.select([KEY_CHANGE_KIND], None, None, size):
            rec = orjson.loads(body)
            if rec.get("origin") == source.origin and isinstance(rec.get("tree_size"), int):
                recorded.add(rec["tree_size"])
    new = [t for t in transitions if t.size not in recorded]
    events = [
        prepare(
            {
                "time": now(),
                "kind": KEY_CHANGE_KIND,
                "source": "mirror",
                "origin": source.origin,
                "url": source.url,
                "tree_size": t.size,
                "previous_key": t.previous,
                "next_key": t.following,
                "transition_note": t.note.decode("utf-8"),
                "mirror_key": source.verifier_key,
            }
        )
        for t in new
    ]
    if events:
        own_log.append(events)
    return len(events)
