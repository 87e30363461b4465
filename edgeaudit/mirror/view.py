"""What ``mirror list`` shows of each pod: read from the store and the mirror's files only.

Per ``[[mirror]]``: the key its checkpoints verify with now (the ``[[mirror]]`` key followed
through the transitions the store holds, as ``mirror sync`` and ``verify`` follow them, minus
the table's ``revoked`` keys), the sizes held and stored, the last pass that verified the pod's
checkpoint and the last pass attempted (with its error if it failed; ``state/<slug>.json``,
written by :meth:`~edgeaudit.mirror.state.MirrorFiles.record_pass`), the fork proofs that stop
it, and the witnesses' cosignature lines kept for the held checkpoint (not checked here: the
mirror knows no witness keys; ``verify --log ORIGIN --witness-policy FILE`` checks them).
Nothing is written and the pod is not asked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgeaudit.errors import NoteError
from edgeaudit.mirror.keys import chain_of, followed
from edgeaudit.mirror.state import VERIFIED, MirrorFiles, last_verified
from edgeaudit.note.verifier import parse_note
from edgeaudit.store import LogNotFoundError, Store
from edgeaudit.store.values import StoredCheckpoint
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.workspace.mirrors import MirrorSource


@dataclass(frozen=True)
class KeyStep:
    """A key transition the mirror follows: ``next_key`` signs from ``tree_size`` on."""

    tree_size: int
    previous_key: str
    next_key: str


@dataclass(frozen=True)
class KeyView:
    """``current``: the key the held checkpoint verifies with (the ``[[mirror]]`` key when
    nothing is held); None, with ``problem``, when no key of the chain verifies it now."""

    current: str | None
    mirror_key: str
    transitions: tuple[KeyStep, ...]
    problem: str | None = None


@dataclass(frozen=True)
class Verified:
    at: str
    tree_size: int | None


@dataclass(frozen=True)
class Attempt:
    at: str | None
    status: str
    tree_size: int | None  # the checkpoint size the pod served (None: none was fetched)
    error: str | None  # the pass's message when it did not end holding the pod's checkpoint
    failing_since: str | None


@dataclass(frozen=True)
class Witnessed:
    """The cosignature lines kept for the held checkpoint (the log's own lines not counted)."""

    tree_size: int
    count: int
    names: tuple[str, ...]
    problem: str | None = None


@dataclass(frozen=True)
class PodView:
    origin: str
    url: str
    key: KeyView
    held_size: int
    held_at: str | None  # when the mirror first held that checkpoint
    stored_size: int
    last_verified: Verified | None
    last_attempt: Attempt | None
    fork_proofs: tuple[str, ...]
    witnessed: Witnessed

    @property
    def stopped(self) -> bool:
        return bool(self.fork_proofs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stopped"] = self.stopped
        # the fields mirror list printed before, kept for scripts reading them
        attempt = self.last_attempt
        data["fetched_size"] = attempt.tree_size if attempt else None
        data["fetched_at"] = attempt.at if attempt else None
        data["last_status"] = attempt.status if attempt else None
        data["fork"] = self.stopped
        return data


def pod_view(store: Store, files: MirrorFiles, source: MirrorSource) -> PodView:
    held: StoredCheckpoint | None = None
    stored, notes = 0, []
    try:
        mlog = store.mirror(source.origin)
        held, stored = mlog.held(), mlog.size()
        notes = [n.encode() for n in mlog.transitions()]
    except LogNotFoundError:
        pass  # never synced
    chain = chain_of(source, notes)
    state = files.read_state()
    return PodView(
        source.origin,
        source.url,
        key_view(source, chain, notes, held),
        held.tree_size if held else 0,
        held.signed_at if held else None,
        stored,
        _verified(state),
        _attempt(state),
        tuple(str(p.relative_to(files.root)) for p in files.forks()),
        witnessed(files, chain, held),
    )


def key_view(
    source: MirrorSource, chain: KeyChain, notes: list[bytes], held: StoredCheckpoint | None
) -> KeyView:
    steps = tuple(KeyStep(t.size, t.previous, t.following) for t in followed(chain, notes))
    if held is None:
        return KeyView(source.verifier_key, source.verifier_key, steps)
    try:
        current = chain.signer_of(held.note.encode(), source.origin).verifier_key
    except NoteError as exc:  # e.g. a key revoked in the table since: fail closed
        why = f"the held checkpoint of size {held.tree_size} verifies with no key trusted now"
        return KeyView(None, source.verifier_key, steps, f"{why}: {exc}")
    return KeyView(current, source.verifier_key, steps)


def witnessed(files: MirrorFiles, chain: KeyChain, held: StoredCheckpoint | None) -> Witnessed:
    size = held.tree_size if held else 0
    if held is None:
        return Witnessed(size, 0, ())
    path = files.witnessed_path(size)
    try:
        kept = parse_note(path.read_bytes())
    except FileNotFoundError:
        return Witnessed(size, 0, ())
    except (OSError, NoteError) as exc:
        return Witnessed(size, 0, (), f"{path.relative_to(files.root)}: unreadable ({exc})")
    if kept.body != parse_note(held.note.encode()).body:
        why = "another checkpoint than the one held (not counted)"
        return Witnessed(size, 0, (), f"{path.relative_to(files.root)}: {why}")
    log_keys = {(v.name, v.key_id) for v in chain.verifiers}
    names = tuple(s.name for s in kept.signatures if (s.name, s.key_id) not in log_keys)
    return Witnessed(size, len(names), names)


def _text(state: dict[str, Any], key: str) -> str | None:
    value = state.get(key)
    return value if isinstance(value, str) else None


def _size(state: dict[str, Any], key: str) -> int | None:
    value = state.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _verified(state: dict[str, Any]) -> Verified | None:
    got = last_verified(state)
    return None if got is None else Verified(*got)


def _attempt(state: dict[str, Any]) -> Attempt | None:
    status = _text(state, "status")
    if status is None:
        return None
    at = _text(state, "attempted_at") or _text(state, "fetched_at")
    failed = status not in VERIFIED
    error = (_text(state, "error") or _text(state, "message") or status) if failed else None
    since = _text(state, "failing_since") if failed else None
    return Attempt(at, status, _size(state, "fetched_size"), error, since)
