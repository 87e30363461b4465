"""A checkpoint signed elsewhere, for a pack built without the log's private key.

Key separation (docs/adr/0014-key-separation.md): the machine that builds packs holds the
manifest key; the log key may live on another host, where ``edgeaudit checkpoint sign --out
FILE`` signs the tree. ``pack build --checkpoint FILE`` then takes that note: it is verified
with the log's *public* key (and the workspace's key chain, if the key was rotated) and the
store's own tree at that size must have that root. Nothing here reads a private key.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.verify.keychain import KeyChain, Revocation


def given_checkpoint(
    log: EvidenceLog,
    note: bytes,
    verifiers: Sequence[Verifier],
    where: str = "--checkpoint",
    revoked: Sequence[Revocation] = (),
) -> StoredCheckpoint:
    """The note ``note`` as the pack's checkpoint, after checking that the log key signed it
    (following rotations recorded in the store; ``revoked`` keys sign nothing beyond their
    size) and that this store's tree at its size has its root; :class:`InputError` (exit 2)
    otherwise."""
    with log.reader() as reader:
        chain = KeyChain.from_notes(
            verifiers, [c.note.encode("utf-8") for c in reader.checkpoints()], log.origin, revoked
        )
        try:
            cp = chain.verify_checkpoint(note, log.origin)
        except NoteError as exc:
            raise InputError(
                f"{where}: the checkpoint does not verify with the log's public key: {exc}"
            ) from None
        head = reader.head()[0]
        if cp.size > head:
            raise InputError(
                f"{where}: the checkpoint has tree size {cp.size} but this store holds only "
                f"{head} entries: it was signed on a store this one has not caught up with"
            )
        if cp.size == 0:
            raise InputError(f"{where}: the checkpoint is of the empty tree; nothing to prove")
        root = reader.root(cp.size)
    if root != cp.root:
        raise InputError(
            f"{where}: this store's tree at size {cp.size} has root {root.hex()}, the "
            f"checkpoint says {cp.root.hex()}: signed over other entries (another store, or a "
            "split view); refusing to build on it"
        )
    return StoredCheckpoint(cp.size, cp.root, note.decode("utf-8"), "")
