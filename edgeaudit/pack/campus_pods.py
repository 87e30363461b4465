"""The pods of a campus pack: every ``[[mirror]]`` whose checkpoint the central store holds,
with the note its part carries (docs/pack-format.md, "Campus packs").

The held note is checked through the key chain the mirror trusts (``edgeaudit.mirror.keys``):
the ``[[mirror]]`` key, the pod's transitions the store holds, the table's ``revoked`` keys. So
a pod that rotated its log key (the mirror followed it; the ``[[mirror]]`` table keeps the
first key) still packs; its part carries the transition as an earlier checkpoint
(``p<k>.consistency.jsonl``), or as its checkpoint when the held note is of the transition's
very size, so an auditor who trusts either key can follow it. The part's note gets the
witnesses' cosignatures ``mirror sync`` kept beside it (``mirror/witnessed/``) when their
signed body is the pod's: the pod's own signature lines are always those of the held note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgeaudit.canonical import signature_line, signed_note
from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import MAX_SIGNATURES, Verifier, parse_note
from edgeaudit.pack.checkpoint import with_transition as _with_transition
from edgeaudit.pack.given import given_checkpoint
from edgeaudit.store import EvidenceLog, Store, StoredCheckpoint
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.mirrors import MirrorSource, load_mirrors


@dataclass(frozen=True)
class Pod:
    mirror: MirrorSource
    log: EvidenceLog
    held: StoredCheckpoint  # the part's checkpoint (cosignatures included)


def note_origin(note: bytes, where: str) -> str:
    try:
        return Checkpoint.parse(parse_note(note).body).origin
    except (NoteError, InputError) as exc:
        raise InputError(f"{where}: not a signed checkpoint note: {exc}") from None


def campus_pods(config: WorkspaceConfig, store: Store) -> tuple[list[Pod], list[str]]:
    """Every ``[[mirror]]`` by origin, with the checkpoint the mirror holds (verified through
    the chain the mirror trusts and the store's tree at its size); and the origins of the pods
    the mirror never synced (no checkpoint held): they have no part, nothing of them can be
    proven (a campus assessment judges them at size 0, the empty tree)."""
    held_origins = set(store.origins())
    pods = []
    unsynced = []
    for mirror in sorted(load_mirrors(config), key=lambda m: m.origin):
        latest = (
            store.log(mirror.origin).latest_checkpoint() if mirror.origin in held_origins else None
        )
        if latest is None:
            unsynced.append(mirror.origin)
            continue
        log = store.log(mirror.origin)
        key = mirror.verifier()
        held = given_checkpoint(
            log,
            latest.note.encode("utf-8"),
            [key],
            f"the held checkpoint of {mirror.origin}",
            mirror.revoked,
        )
        held = _with_transition(config, log, held, key, own=False)
        held = replace(held, note=with_cosignatures(config, held.note, held.tree_size))
        pods.append(Pod(mirror, log, held))
    return pods, unsynced


def with_cosignatures(config: WorkspaceConfig, note: str, size: int) -> str:
    """``note`` (a pod's checkpoint of tree ``size``, as its log signed it) with the other
    signature lines of the copy ``mirror sync`` keeps for it (same signed body), after its own
    lines; ``note`` itself when none is kept. The kept lines are not checked here (the
    builder knows no witness keys): ``verify PACK --witness-policy`` checks them."""
    from edgeaudit.verify.witnesses import witnessed_note

    kept = witnessed_note(config.root, note, size)
    if kept == note:
        return note
    try:
        ours, theirs = parse_note(note.encode("utf-8")), parse_note(kept.encode("utf-8"))
    except NoteError:
        return note
    if ours.body != theirs.body:
        return note
    seen = {(s.name, s.key_id) for s in ours.signatures}
    lines = [signature_line(s.name, s.key_id, s.signature) for s in ours.signatures]
    for s in theirs.signatures:
        if (s.name, s.key_id) not in seen and len(lines) < MAX_SIGNATURES:
            seen.add((s.name, s.key_id))
            lines.append(signature_line(s.name, s.key_id, s.signature))
    return signed_note(ours.body, lines).decode("utf-8")


def signer_of(log: EvidenceLog, note: bytes, mirror: MirrorSource) -> Verifier:
    """The pod's key that signed ``note`` (a kept note given with ``--previous``, already
    checked through the chain), following the transitions the store holds from the
    ``[[mirror]]`` key: a note the pod signed after (or before) a rotation."""
    with log.reader() as reader:
        notes = [c.note.encode("utf-8") for c in reader.checkpoints()]
    chain = KeyChain.from_notes([mirror.verifier()], notes, log.origin, mirror.revoked)
    return chain.signer_of(note, log.origin)
