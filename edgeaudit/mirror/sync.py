"""One sync pass of one pod log: fetch, prove, then store; never store over a fork.

For the pod's signed checkpoint of size ``N`` and root ``R``, with the mirror holding a checkpoint
of size ``H`` and ``S >= H`` entries (``S > H`` after a cut: entries proven against the pending
note but not yet held):

1. the note must verify with the registered key and name the origin;
2. ``N <= S``: the stored tree's root at ``N`` must be ``R`` (else a fork); the note is held;
3. ``N > S``: the hash tiles the roots of ``N``, ``H`` and ``S`` need are fetched and
   authenticated against ``R`` (:mod:`edgeaudit.mirror.tiles`); the root at ``H`` computed from
   them must be the held root, and at ``S`` the stored tree's root (else a fork: both notes are
   kept, nothing is stored);
4. the note is written as pending, then level-0 tiles from ``S`` on are fetched, each
   authenticated by its parent tile, with their entry bundles; every entry's leaf hash must be
   its tile's hash; the proven entries are stored in batches (each one transaction);
5. once all ``N`` entries are stored, the note is held and the pending note removed.

A cut anywhere leaves at most a stored batch beyond the held checkpoint, proven against the
pending note; the next pass resumes from the store's size.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from edgeaudit.canonical import EMPTY_ROOT
from edgeaudit.errors import ConfigError, NoteError, StoreError
from edgeaudit.merkle.c2sp import C2SP_WIDTH
from edgeaudit.mirror.cosigned import keep_cosigned
from edgeaudit.mirror.fetch import AHEAD, proven
from edgeaudit.mirror.forks import advice, record_fork, record_missing
from edgeaudit.mirror.http import PodClient, PodRefused, PodUnreachable, TokenBucket
from edgeaudit.mirror.keys import (
    Transition,
    chain_of,
    followed,
    log_lines_only,
    record_key_changes,
    unfollowed,
)
from edgeaudit.mirror.state import MirrorFiles, now
from edgeaudit.mirror.tiles import (
    TileMismatch,
    VerifiedTiles,
    needed_tiles,
    tile_ref,
)
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import parse_note
from edgeaudit.store import EvidenceLog, LogNotFoundError, Store
from edgeaudit.store.mirror import MirroredLog, MirrorError
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.workspace.mirrors import MirrorSource

BATCH: Final = 64 * C2SP_WIDTH  # entries per store transaction (64 bundles)
EXIT: Final = {
    "synced": 0,
    "up-to-date": 0,
    "fork": 1,
    "refused": 1,
    "stopped": 1,
    "rollback": 1,
    "unreachable": 3,
    "error": 3,
}

_ROLLBACK: Final = (
    "the pod serves a checkpoint of size {n}, older than the {h} held (consistent with it): the "
    "pod's log was rolled back (restored from an older copy?) or an old checkpoint is replayed "
    "to the mirror; the mirror keeps what it holds"
)
_SIGNED_BAD: Final = (
    "the pod's key signed a log holding it (its leaf hash is proven), so the pod is broken or "
    "hostile; the proven batches before it are stored"
)

Progress = Callable[[str, int, int, int], None]  # origin, stored size, target, pass start


@dataclass(frozen=True)
class SyncResult:
    """How one pass over one pod log ended (``status`` a key of :data:`EXIT`)."""

    origin: str
    url: str
    status: str
    held_size: int
    stored_size: int
    checkpoint_size: int | None = None
    stored: int = 0
    seconds: float = 0.0
    requests: int = 0
    message: str = ""
    fork_proof: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "url": self.url,
            "status": self.status,
            "held_size": self.held_size,
            "stored_size": self.stored_size,
            "checkpoint_size": self.checkpoint_size,
            "stored": self.stored,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "message": self.message,
            "fork_proof": self.fork_proof,
        }


@dataclass
class _Pass:
    source: MirrorSource
    files: MirrorFiles
    store: Store
    mlog: MirroredLog | None  # None until the first entry or note is stored
    own_log: EvidenceLog
    client: PodClient
    progress: Progress | None
    start: float = field(default_factory=time.monotonic)
    checkpoint_size: int | None = None
    asked_at: str | None = None  # when the pod's checkpoint was asked for (before the request)
    stored: int = 0
    requests: int = 0  # of the fetching connections (the pass's own client counts its own)

    def log(self) -> MirroredLog:
        """The mirrored log, created in the store when something is first stored."""
        if self.mlog is None:
            self.mlog = self.store.mirror(self.source.origin, create=True)
        return self.mlog

    def result(self, status: str, message: str = "", proof: str | None = None) -> SyncResult:
        held = self.mlog.held() if self.mlog is not None else None
        return SyncResult(
            self.source.origin,
            self.source.url,
            status,
            held.tree_size if held else 0,
            self.mlog.size() if self.mlog is not None else 0,
            self.checkpoint_size,
            self.stored,
            time.monotonic() - self.start,
            self.client.requests + self.requests,
            message,
            proof,
        )


def sync_one(
    store: Store,
    own_log: EvidenceLog,
    root_dir: os.PathLike[str] | str,
    source: MirrorSource,
    bucket: TokenBucket,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> SyncResult:
    """One pass over ``source``; never raises for what the pod did (the result says)."""
    from pathlib import Path

    files = MirrorFiles(Path(root_dir), source.origin)
    proofs = files.forks()
    token = os.environ.get(source.token_env) if source.token_env else None
    problem = source.token_problem()
    if problem is not None:
        raise ConfigError(problem)
    client = PodClient(
        source.url, token=token, bucket=bucket, allow_plain_http=source.allow_plain_http
    )
    try:
        mlog: MirroredLog | None = store.mirror(source.origin)
    except LogNotFoundError:
        mlog = None  # nothing mirrored yet: created once something proven is stored
    p = _Pass(source, files, store, mlog, own_log, client, progress)
    if proofs:
        record_missing(files, own_log, source, proofs)
        stopped = p.result("stopped", advice(files, proofs), str(proofs[0]))
        files.record_pass(stopped.status, stopped.message, None)
        return stopped
    try:
        result = _sync(p, batch)
    except PodUnreachable as exc:
        result = p.result("unreachable", f"{exc}; the next sync resumes from what is stored")
    except PodRefused as exc:
        result = p.result("error", str(exc))
    except TileMismatch as exc:
        result = p.result(
            "refused",
            f"{exc}; the pod (or something between it and the mirror) serves data its "
            "signed checkpoint does not cover: nothing of it was stored",
        )
    except StoreError as exc:
        result = p.result("error", str(exc))
    except Exception as exc:  # not the pod's doing: recorded as the pass's error, then raised
        with contextlib.suppress(OSError):  # the exception itself says more than this
            files.record_pass("error", f"{type(exc).__name__}: {exc}", p.checkpoint_size)
        raise
    finally:
        client.close()
    files.record_pass(result.status, result.message, p.checkpoint_size, p.asked_at)
    return result


def _sync(p: _Pass, batch: int) -> SyncResult:
    p.asked_at = now()  # what the pod serves was its newest at this time or later
    note = p.client.checkpoint()
    trust = _trust(p, note)
    if isinstance(trust, SyncResult):
        return trust
    cp, chain, transitions = trust
    p.checkpoint_size = n = cp.size
    log_note = log_lines_only(note, chain)  # held as the pod's log signed it
    held = p.mlog.held() if p.mlog is not None else None
    h = held.tree_size if held else 0
    held_root = held.root_hash if held else EMPTY_ROOT
    held_note = held.note.encode() if held else b""
    s = p.mlog.size() if p.mlog is not None else 0
    pending = p.files.pending() if s > h else None
    # the note the entries beyond h were proven against (the held one if none is pending)
    ref_note, ref_size = (pending, _note_size(pending)) if pending else (held_note, h)
    for t in transitions:
        if t.size <= s and p.log().root(t.size) != t.root:
            why = f"its key transition at size {t.size} has another root than the entries stored"
            return _fork(p, ref_note, ref_size, t.note, t.size, why)
    if n <= s:
        # everything up to n is stored: the stored tree must have the signed root there
        if p.log().root(n) != cp.root:
            if n <= h:
                ref_note, ref_size = held_note, h
            return _fork(p, ref_note, ref_size, note, n, f"the root at size {n} differs")
        if n > h:
            _hold_transitions(p, transitions)
            p.log().hold_checkpoint(n, cp.root, log_note.decode())
            if pending is not None and _note_size(pending) <= n:
                p.files.clear_pending()
        if n < h:  # a rollback is exit 1 as everywhere (README, exit codes)
            return p.result("rollback", _ROLLBACK.format(n=n, h=h))
        keep_cosigned(p.files, n, note, chain)
        return p.result("up-to-date")
    leaf_tiles = range(s // C2SP_WIDTH, -(-n // C2SP_WIDTH))
    later = [t for t in transitions if t.size > s]
    checks = [x for x in {h, s, *(t.size for t in later)} if x > 0]
    # the parents of the first level-0 tiles now, of later ones as they are reached: nothing
    # iterates over the signed size (a key may sign 2**63) before the tiles prove it
    first = leaf_tiles[:AHEAD]
    tiles = {t: p.client.tile(tile_ref(n, t).path()) for t in needed_tiles(n, checks, first)}
    verified = VerifiedTiles.check(n, cp.root, tiles)
    if h and verified.root_at(h) != held_root:
        reason = f"its tree does not extend the held checkpoint (root at size {h} differs)"
        return _fork(p, held_note, h, note, n, reason)
    if s > h and verified.root_at(s) != p.log().root(s):
        reason = f"its tree does not extend the {s} entries stored (root at size {s} differs)"
        return _fork(p, ref_note, ref_size, note, n, reason)
    for t in later:
        if verified.root_at(t.size) != t.root:
            reason = f"its tree has another root at size {t.size} than its key transition"
            return _fork(p, t.note, t.size, note, n, reason)
    p.files.set_pending(note)
    mlog = p.log()
    for start, entries in proven(p, verified, leaf_tiles, s, batch):
        try:
            mlog.extend(start, entries)
        except MirrorError as exc:
            if mlog.size() != start:
                raise  # another sync stored entries meanwhile: the next pass resumes
            return p.result("refused", f"{exc}; {_SIGNED_BAD}")
        p.stored += len(entries)
        if p.progress is not None:
            p.progress(p.source.origin, start + len(entries), n, s)
    _hold_transitions(p, transitions)
    mlog.hold_checkpoint(n, cp.root, log_note.decode())
    p.files.clear_pending()
    keep_cosigned(p.files, n, note, chain)
    return p.result("synced")


def _trust(p: _Pass, note: bytes) -> tuple[Checkpoint, KeyChain, list[Transition]] | SyncResult:
    """The pod's checkpoint verified with the keys the mirror trusts (the ``[[mirror]]`` key
    and the transitions held from it), else with the pod's key transitions followed from them
    (fetched only then); the chain, and the transitions newly followed. A checkpoint no key of
    the chain signed is refused, as is a transition that retires the key of the checkpoint
    the mirror holds."""
    held_transitions = [n.encode() for n in p.mlog.transitions()] if p.mlog is not None else []
    chain = chain_of(p.source, held_transitions)
    try:
        return chain.verify_checkpoint(note, p.source.origin), chain, []
    except NoteError as exc:
        first = exc
    try:
        fetched = p.client.transitions()
    except PodRefused as exc:
        fetched, first = [], NoteError(f"{first} (and the pod's key transitions: {exc})")
    chain = chain_of(p.source, [*held_transitions, *fetched])
    try:
        cp = chain.verify_checkpoint(note, p.source.origin)
    except NoteError as exc:
        why = f"{exc if fetched else first}{unfollowed(chain, fetched, p.source.origin)}"
        return p.result(
            "refused",
            "the pod's checkpoint does not verify with the registered key nor with a key a "
            f"valid transition of the pod hands over to: {why}",
        )
    known = {Checkpoint.parse(parse_note(x).body).size for x in held_transitions}
    new = [t for t in followed(chain, fetched) if t.size not in known and t.size <= cp.size]
    latest = p.mlog.held() if p.mlog is not None else None
    try:
        if latest is not None:
            chain.verify_checkpoint(latest.note.encode(), p.source.origin)
    except NoteError as exc:
        return p.result(
            "refused",
            f"the pod's key transitions do not agree with the checkpoint the mirror holds: {exc}",
        )
    return cp, chain, new


def _hold_transitions(p: _Pass, transitions: list[Transition]) -> None:
    """Record (once) and hold the transitions followed (their entries are stored)."""
    if transitions:
        record_key_changes(p.own_log, p.source, transitions)
        for t in transitions:
            p.log().hold_checkpoint(t.size, t.root, t.note.decode())


def _note_size(note: bytes) -> int:
    lines = note.split(b"\n", 2)
    try:
        return int(lines[1])
    except (IndexError, ValueError):
        return -1


def _fork(p: _Pass, held: bytes, held_size: int, new: bytes, new_size: int, why: str) -> SyncResult:
    if not held:  # nothing signed is held: no proof to keep, but nothing is stored over
        return p.result("refused", f"the pod's checkpoint of size {new_size}: {why}")
    path = record_fork(p.files, p.own_log, p.source, held, held_size, new, new_size, why)
    return p.result("fork", f"{why}; {advice(p.files, [path])}", str(path))
