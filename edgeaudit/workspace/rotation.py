"""``edgeaudit key rotate``: hand the log over to a new Ed25519 key.

Order, so that a failure leaves nothing half-done that matters: the new key is written (mode
0600, next to the old one, encrypted with the same passphrase variable); a ``log.key_rotated``
event naming the new verifier key is appended (the tree must grow: a transition is a new
checkpoint); the transition checkpoint of that tree, naming the previous and the next key and
signed by both (:func:`edgeaudit.note.signer.sign_transition`), is stored like any checkpoint
and recorded as the signer's last note; last, ``edgeaudit.toml`` names the new key. The old key
file is left in place for its holder to destroy or lock away: nothing reads it any more.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.errors import ConfigError
from edgeaudit.events import prepare
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer, sign_transition
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import log_signer, passphrase, write_private_key
from edgeaudit.workspace.signing import _read_state, _write_state

ROTATED_KIND = "log.key_rotated"


@dataclass(frozen=True)
class Rotation:
    previous: str  # verifier keys
    following: str
    tree_size: int
    key_file: Path
    retired_file: Path


class _TransitionSigner:
    """What :meth:`EvidenceLog.sign_checkpoint` needs: earlier notes are checked against the
    previous key, and the new checkpoint is the transition signed by both."""

    def __init__(self, previous: Ed25519Signer, following: Ed25519Signer) -> None:
        self._previous, self._following = previous, following

    @property
    def verifier_key(self) -> str:
        return self._previous.verifier_key

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes:
        return sign_transition(self._previous, self._following, checkpoint)


def rotate(config: cfg.WorkspaceConfig, log: EvidenceLog) -> Rotation:
    """Rotate the workspace's log key (see the module text); the :class:`Rotation` done."""
    secret = passphrase(config.passphrase_env)
    with log_signer(config) as previous:
        key = Ed25519PrivateKey.generate()
        following = Ed25519Signer(config.origin, key)
        key_file = config.private_key.with_name(f"log-{following.key_id.hex()}.key")
        if not write_private_key(key_file, key, secret):
            raise ConfigError(f"{key_file} already exists; refusing to overwrite a key")
        event = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "kind": ROTATED_KIND,
            "source": "edgeaudit:key-rotate",
            "previous_key": previous.verifier_key,
            "next_key": following.verifier_key,
        }
        log.append([prepare(event)])
        stored = log.sign_checkpoint(
            _TransitionSigner(previous, following), trusted=_read_state(config.state_file)
        )
        _write_state(config.state_file, stored.note.encode("utf-8"))
        done = Rotation(
            previous.verifier_key,
            following.verifier_key,
            stored.tree_size,
            key_file,
            config.private_key,
        )
    _name_key(config.root, done.following, key_file.relative_to(config.root))
    return done


def _name_key(root: Path, verifier_key: str, key_file: Path) -> None:
    """Point ``edgeaudit.toml`` at the new key (written to a temporary file, then renamed)."""
    path = root / cfg.CONFIG_NAME
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    raw["log"]["verifier_key"] = verifier_key
    raw["log"]["private_key"] = key_file.as_posix()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("# edgeaudit workspace configuration\n")
        fh.write(tomli_w.dumps(raw))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    if cfg.load(root).verifier_key != verifier_key:  # pragma: no cover - read back
        raise ConfigError(f"{path}: the new verifier key did not take")
