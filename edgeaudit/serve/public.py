"""The public log endpoints' data: the latest signed checkpoint, the verification keys and
consistency / inclusion proofs. Hashes and signed notes only, never an entry's contents.

One instance per log served: the workspace's own (its key) or a mirrored pod's (the pod's
signed checkpoints, trusted with its ``[[mirror]]`` verifier key). The latest checkpoint comes
with the witnesses' cosignatures served with it (:mod:`edgeaudit.serve.cosignatures`: each
line, its key, its timestamp, and whether a ``[[witness]]`` key verified it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.serve.cosignatures import FUTURE, WitnessKeys, cosignatures, witness_keys
from edgeaudit.serve.service_errors import NotFound
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.verify.witnesses import witnessed_note
from edgeaudit.workspace.config import WorkspaceConfig

CHECKPOINT_TTL = 0.5  # seconds the public endpoints reuse the list of signed checkpoints


class PublicLog:
    def __init__(
        self, config: WorkspaceConfig, log: EvidenceLog, *, verifier_key: str | None = None
    ) -> None:
        """``verifier_key``: the key the log's checkpoints verify with (None: the workspace's
        own, for its own log)."""
        self.config = config
        self.log = log
        self.own = verifier_key is None
        self.verifier_key = config.verifier_key if verifier_key is None else verifier_key
        self._cp_lock = threading.Lock()
        self._checkpoints: list[StoredCheckpoint] = []
        self._cp_checked = -1e9
        self._manifest: ManifestKey | None = None
        self._transitions: tuple[list[StoredCheckpoint] | None, list[dict[str, Any]]] = (None, [])
        self._current: tuple[list[StoredCheckpoint] | None, str] = (None, self.verifier_key)
        self._witness_keys: WitnessKeys | None = None
        # the cosigned copy last read: (log note, when read, copy, its lines as documents)
        self._cosigned: tuple[str, float, str, tuple[dict[str, Any], ...]] = ("", -1e9, "", ())

    def _signed(self) -> list[StoredCheckpoint]:
        """The signed checkpoints, re-read at most every CHECKPOINT_TTL seconds (a checkpoint
        signed meanwhile shows up within that time)."""
        with self._cp_lock:
            now = time.monotonic()
            if now - self._cp_checked < CHECKPOINT_TTL:
                return self._checkpoints
            latest = self.log.latest_checkpoint()
            if latest is None:
                self._checkpoints = []
            elif not self._checkpoints or self._checkpoints[-1].tree_size != latest.tree_size:
                self._checkpoints = self.log.checkpoints()
            self._cp_checked = now
            return self._checkpoints

    def _checkpoint(self, size: int | None) -> StoredCheckpoint:
        signed = self._signed()
        if not signed:
            raise NotFound("no checkpoint has been signed yet")
        if size is None:
            return signed[-1]
        for cp in signed:
            if cp.tree_size == size:
                return cp
        raise NotFound(f"no checkpoint was signed at tree size {size}")

    def checkpoint(self) -> dict[str, Any]:
        cp = self._checkpoint(None)
        return {
            "origin": self.log.origin,
            "tree_size": cp.tree_size,
            "root_hash": cp.root_hash.hex(),
            "signed_at": cp.signed_at,
            "note": cp.note,
            "verifier_key": self.current_key(),
            "cosignatures": self.cosignatures(cp),
        }

    def cosignatures(self, cp: StoredCheckpoint) -> list[dict[str, Any]]:
        """The witness lines the workspace keeps for ``cp`` (the cosigned copy ``GET
        /checkpoint`` serves), judged against the ``[[witness]]`` keys. The copy is re-read at
        most every CHECKPOINT_TTL seconds, and judged again when it changed (or a line was
        dated ahead of the clock)."""
        t = time.monotonic()
        with self._cp_lock:
            note, read_at, copy, docs = self._cosigned
        if note == cp.note and t - read_at < CHECKPOINT_TTL:
            return list(docs)
        served = witnessed_note(self.config.root, cp.note, cp.tree_size)
        if note != cp.note or served != copy or any(d["problem"] == FUTURE for d in docs):
            if self._witness_keys is None:
                self._witness_keys = witness_keys(self.config.witnesses)
            found = cosignatures(cp.note, served, self._witness_keys, time.time())
            docs = tuple(c.to_dict() for c in found)
        with self._cp_lock:
            self._cosigned = (cp.note, t, served, docs)
        return list(docs)

    def transitions(self) -> list[dict[str, Any]]:
        """The log's key transition checkpoints (``prev-key`` / ``next-key``), by size."""
        signed = self._signed()
        with self._cp_lock:
            if self._transitions[0] is signed:
                return self._transitions[1]
        found = [
            {"tree_size": cp.tree_size, "note": cp.note}
            for cp in signed
            if "\nprev-key " in cp.note and "\nnext-key " in cp.note
        ]
        with self._cp_lock:
            self._transitions = (signed, found)
        return found

    def current_key(self) -> str:
        """The key that signed the newest checkpoint. For a mirrored pod whose key rotated:
        the key its held transitions lead to from the ``[[mirror]]`` key (as ``mirror sync``
        and ``verify`` follow them), not the ``[[mirror]]`` key the checkpoints no longer
        verify with; that one is the anchor, ``mirror_key`` in :meth:`keys`."""
        if self.own:
            return self.verifier_key
        signed = self._signed()
        with self._cp_lock:
            if self._current[0] is signed:
                return self._current[1]
        key = self.verifier_key
        notes = [t["note"].encode() for t in self.transitions()]
        if signed and notes:
            from edgeaudit.errors import NoteError
            from edgeaudit.note.verifier import Verifier
            from edgeaudit.verify.keychain import KeyChain

            origin = self.log.origin
            chain = KeyChain.from_notes([Verifier.parse(self.verifier_key)], notes, origin)
            # a note held without a chain to it (not stored by sync): the anchor is all we know
            with contextlib.suppress(NoteError):
                key = chain.signer_of(signed[-1].note.encode(), origin).verifier_key
        with self._cp_lock:
            self._current = (signed, key)
        return key

    def keys(self) -> dict[str, Any]:
        """The public keys a pack is verified with (the manifest key created on first use):
        the log's verifier key (a mirrored pod's own) and this service's manifest key."""
        if self._manifest is None:
            from edgeaudit.workspace.manifest_key import public_manifest_key

            self._manifest = public_manifest_key(self.config)
        return {
            "origin": self.log.origin,
            "role": "own" if self.own else "mirror",
            "verifier_key": self.current_key(),
            **({} if self.own else {"mirror_key": self.verifier_key}),
            "manifest_kid": self._manifest.kid,
            "manifest_public_pem": self._manifest.public_pem,
        }

    def consistency(self, old: int, new: int | None) -> dict[str, Any]:
        new_cp = self._checkpoint(new)
        old_cp = self._checkpoint(old)
        if not 0 < old_cp.tree_size <= new_cp.tree_size:
            raise InputError(
                f"need 0 < old <= new for a consistency proof, got {old}, {new_cp.tree_size}"
            )
        with self.log.reader() as reader:
            proof = (
                reader.consistency_proof(old_cp.tree_size, new_cp.tree_size)
                if old_cp.tree_size < new_cp.tree_size
                else []
            )
        return {
            "old_size": old_cp.tree_size,
            "new_size": new_cp.tree_size,
            "proof": [h.hex() for h in proof],
            "old_checkpoint": old_cp.note,
            "new_checkpoint": new_cp.note,
        }

    def inclusion(self, index: int, tree_size: int | None) -> dict[str, Any]:
        cp = self._checkpoint(tree_size)
        if not 0 <= index < cp.tree_size:
            raise NotFound(f"index {index} is not covered by the checkpoint of size {cp.tree_size}")
        with self.log.reader() as reader:
            _, leaf = reader.entry(index)
            proof = reader.inclusion_proof(index, cp.tree_size)
        return {
            "index": index,
            "tree_size": cp.tree_size,
            "leaf_hash": bytes(leaf).hex(),
            "proof": [h.hex() for h in proof],
            "checkpoint": cp.note,
        }
