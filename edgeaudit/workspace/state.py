"""What the workspace remembers of its store, and opening the store with that memory.

Two small files next to the log key, outside the database:

* ``keys/last-checkpoint``: the last checkpoint note the workspace signed
  (:mod:`edgeaudit.workspace.signing` keeps it);
* ``keys/last-seen.json``: the largest tree size and checkpoint size any command saw in the
  store, and when.

So when the store is missing, damaged, or replaced by an empty database, the message can say
what was there, how to restore it (``edgeaudit restore``) and how to prove the restored copy
(``verify --trusted-checkpoint``), instead of advising ``db upgrade``, which would only create an
empty store in its place.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edgeaudit.store import (
    EvidenceLog,
    LogNotFoundError,
    Store,
    StoreDamagedError,
    StoreEmptyError,
    StoreMissingError,
    health,
)
from edgeaudit.workspace.config import WorkspaceConfig

SEEN_NAME = "last-seen.json"
log = logging.getLogger("edgeaudit")


@dataclass(frozen=True, slots=True)
class Seen:
    """The largest tree and checkpoint sizes a command saw in the store."""

    tree_size: int = 0
    checkpoint_size: int | None = None
    seen_at: str | None = None


def seen_file(config: WorkspaceConfig) -> Path:
    return config.private_key.with_name(SEEN_NAME)


def kept_checkpoint(config: WorkspaceConfig) -> bytes | None:
    """The last checkpoint note the workspace signed (``keys/last-checkpoint``), if any."""
    try:
        return config.state_file.read_bytes()
    except FileNotFoundError:
        return None


def note_size(note: bytes | str) -> int | None:
    """The tree size a checkpoint note states (second line), unverified; None if unreadable."""
    text = note.decode("utf-8", "replace") if isinstance(note, bytes) else note
    lines = text.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None


def read_seen(config: WorkspaceConfig) -> Seen:
    try:
        raw = json.loads(seen_file(config).read_text(encoding="utf-8"))
        size, cp = raw.get("tree_size", 0), raw.get("checkpoint_size")
        return Seen(
            size if isinstance(size, int) else 0,
            cp if isinstance(cp, int) else None,
            raw.get("seen_at") if isinstance(raw.get("seen_at"), str) else None,
        )
    except (OSError, ValueError, AttributeError):
        return Seen()


def record_seen(config: WorkspaceConfig, tree_size: int, checkpoint_size: int | None) -> Seen:
    """Remember the sizes if they are larger than the remembered ones (best effort: a
    workspace the user cannot write to is not an error)."""
    old = read_seen(config)
    cp = _largest(checkpoint_size, old.checkpoint_size)
    if tree_size <= old.tree_size and cp == old.checkpoint_size:
        return old
    new = Seen(
        max(tree_size, old.tree_size),
        cp,
        datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    path = seen_file(config)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent commands: own file
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "tree_size": new.tree_size,
                    "checkpoint_size": new.checkpoint_size,
                    "seen_at": new.seen_at,
                },
                fh,
                sort_keys=True,
            )
            fh.write("\n")
        tmp.replace(path)
    except OSError as exc:
        log.debug("cannot record the store's size in %s: %s", path, exc)
    return new


def _largest(*sizes: int | None) -> int | None:
    known = [s for s in sizes if s is not None]
    return max(known) if known else None


@dataclass(frozen=True, slots=True)
class Memory:
    """What the workspace knows its store held."""

    entries: int  # largest size seen or signed
    checkpoint_size: int | None
    checkpoint_file: Path | None  # keys/last-checkpoint, when it exists

    @property
    def held_entries(self) -> bool:
        return self.entries > 0


def memory(config: WorkspaceConfig) -> Memory:
    seen = read_seen(config)
    note = kept_checkpoint(config)
    signed = note_size(note) if note is not None else None
    return Memory(
        entries=max(seen.tree_size, signed or 0),
        checkpoint_size=_largest(signed, seen.checkpoint_size),
        checkpoint_file=config.state_file if note is not None else None,
    )


def restore_advice(
    config: WorkspaceConfig, mem: Memory | None = None, *, force: bool = False
) -> str:
    """How to get the store back, with what the workspace remembers of it. Never `db upgrade`:
    that would only put an empty store, without this workspace's log, in its place."""
    mem = mem or memory(config)
    if mem.checkpoint_file is not None:
        prove = f"`edgeaudit verify --trusted-checkpoint {mem.checkpoint_file}`"
    else:
        prove = "`edgeaudit verify --trusted-checkpoint NOTE` with a checkpoint note saved earlier"
    aside = " and keeps a damaged SQLite file aside" if force else ""
    restore = (
        f"restore the store from a backup with `edgeaudit restore BACKUP"
        f"{' --force' if force else ''}`, which verifies the copy against the workspace's "
        f"last checkpoint{aside}; a copy put back by hand is proven by {prove}"
    )
    if not mem.held_entries:
        return (
            f"this workspace has recorded no entries; if the store held evidence, {restore}; "
            "otherwise start a new workspace with `edgeaudit init` in another directory"
        )
    held = f"this workspace has held {mem.entries} entries"
    if mem.checkpoint_size is not None:
        held += f" (last checkpoint: size {mem.checkpoint_size})"
    return f"{held}; {restore}"


def open_store(config: WorkspaceConfig) -> tuple[Store, EvidenceLog]:
    """Open the workspace's store and log. A missing, damaged or empty store, or one without
    this workspace's log, is one error that says what the workspace remembers of it and how
    to restore it; the sizes seen are remembered for next time."""
    mem = memory(config)
    try:
        store = Store.open(config.db_url)
    except StoreMissingError as exc:
        raise StoreMissingError(exc.location, exc.detail, restore_advice(config, mem)) from None
    except StoreDamagedError as exc:
        raise StoreDamagedError(exc.location, exc.detail, _damaged_advice(config, mem)) from None
    except StoreEmptyError as exc:
        raise StoreEmptyError(
            exc.location, exc.head, "it was replaced or lost; " + restore_advice(config, mem)
        ) from None
    health.set_advice(store.engine, _damaged_advice(config, mem))
    try:
        log_ = store.log(config.origin)
        size, _ = log_.head()
        latest = log_.latest_checkpoint()
    except LogNotFoundError as exc:
        store.close()
        advice = (
            "it is not this workspace's store (check the [store] url in edgeaudit.toml and "
            "$EDGEAUDIT_DB_URL), or it was replaced; " + restore_advice(config, mem)
        )
        raise LogNotFoundError(exc.location, exc.origin, advice) from None
    except StoreDamagedError as exc:
        store.close()
        raise StoreDamagedError(exc.location, exc.detail, _damaged_advice(config, mem)) from None
    except BaseException:
        store.close()
        raise
    if size < mem.entries:
        log.warning(
            "the store %s has %d entries but this workspace has seen %d: rolled back or "
            "replaced? %s",
            store.location,
            size,
            mem.entries,
            _prove_hint(mem),
        )
    record_seen(config, size, latest.tree_size if latest else None)
    store.before_close(lambda: _record_now(config, log_))
    return store, log_


def _record_now(config: WorkspaceConfig, log_: EvidenceLog) -> None:
    """After the command: remember what it appended or signed."""
    latest = log_.latest_checkpoint()
    record_seen(config, log_.size, latest.tree_size if latest else None)


def _prove_hint(mem: Memory) -> str:
    if mem.checkpoint_file is not None:
        return f"run `edgeaudit verify --trusted-checkpoint {mem.checkpoint_file}`"
    return "run `edgeaudit verify --trusted-checkpoint NOTE` with a note saved earlier"


def _damaged_advice(config: WorkspaceConfig, mem: Memory) -> str:
    return restore_advice(config, mem, force=True)
