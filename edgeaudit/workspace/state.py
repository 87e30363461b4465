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

from edgeaudit.errors import InputError
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
from edgeaudit.workspace.mirrors import MirrorSource, load_mirrors

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


def _open_checked(config: WorkspaceConfig, mem: Memory) -> Store:
    """Open the workspace's store; a missing, damaged or empty one is one error saying what
    the workspace remembers of it and how to restore it."""
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
    return store


def open_store(config: WorkspaceConfig) -> tuple[Store, EvidenceLog]:
    """Open the workspace's store and log. A missing, damaged or empty store, or one without
    this workspace's log, is one error that says what the workspace remembers of it and how
    to restore it; the sizes seen are remembered for next time."""
    mem = memory(config)
    store = _open_checked(config, mem)
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


# -- several logs in one store (``--log ORIGIN``) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class LogChoice:
    """The log of the store a command works on: the workspace's own (its key signs it), a
    pod's log it mirrors (a ``[[mirror]]`` of ``edgeaudit.toml``: written only by ``mirror
    sync``, trusted with the pod's key), or another log the store holds (read with ``--key``)."""

    origin: str
    own: bool
    mirror: MirrorSource | None = None

    @property
    def verifier_key(self) -> str | None:
        """The verifier key trusted for this log by default (None: give ``--key``)."""
        return self.mirror.verifier_key if self.mirror is not None else None

    def role(self) -> str:
        if self.own:
            return "own"
        return "mirror" if self.mirror is not None else "other"

    def describe(self) -> str:
        if self.own:
            return "this workspace's own log"
        if self.mirror is not None:
            return f"a mirror of the pod {self.origin} at {self.mirror.url}"
        return "neither this workspace's log nor a [[mirror]] of edgeaudit.toml"


def choose_log(
    config: WorkspaceConfig,
    origin: str | None,
    mirrors: tuple[MirrorSource, ...] | None = None,
) -> LogChoice:
    """``--log ORIGIN`` (None: the workspace's own log), resolved against ``edgeaudit.toml``
    (``mirrors``: its ``[[mirror]]`` tables, read once by a caller resolving many); whether
    the store holds it is checked when it is opened (:func:`open_log`)."""
    if origin is None or origin == config.origin:
        return LogChoice(config.origin, True)
    known = load_mirrors(config) if mirrors is None else mirrors
    mirror = next((m for m in known if m.origin == origin), None)
    return LogChoice(origin, False, mirror)


def refuse_write(choice: LogChoice, what: str) -> None:
    """Commands that write into a log (``what``: e.g. "append") refuse any log but the
    workspace's own, before anything is opened or written: exit 2."""
    if choice.own:
        return
    if choice.mirror is not None:
        raise InputError(
            f"log {choice.origin} is {choice.describe()}; it is written only by `edgeaudit "
            f"mirror sync`, so `{what}` refuses it (nothing was written)"
        )
    raise InputError(
        f"log {choice.origin} is {choice.describe()}; `{what}` writes only into this "
        "workspace's own log (nothing was written)"
    )


def open_log(
    config: WorkspaceConfig, origin: str | None, *, writes: str | None = None
) -> tuple[Store, EvidenceLog, LogChoice]:
    """The store and the log ``origin`` (``--log``; None: the workspace's own, opened by
    :func:`open_store`). ``writes``: the command writes into the log (its name, for the
    message), so anything but the workspace's own log is refused (exit 2, nothing written).
    An origin the store does not hold is exit 2 naming the origins it holds."""
    choice = choose_log(config, origin)
    if choice.own:
        store, log_ = open_store(config)
        return store, log_, choice
    if writes is not None and choice.mirror is not None:
        refuse_write(choice, writes)
    store = _open_checked(config, memory(config))
    try:
        held = store.origins()
        if choice.origin not in held:
            raise InputError(_unknown_origin(config, store, choice, held))
        if writes is not None:
            refuse_write(choice, writes)
        return store, store.log(choice.origin), choice
    except BaseException:
        store.close()
        raise


def _unknown_origin(
    config: WorkspaceConfig, store: Store, choice: LogChoice, held: list[str]
) -> str:
    mirrors = load_mirrors(config)
    roles = {o: choose_log(config, o, mirrors).role() for o in held}
    listed = ", ".join(f"{o} ({roles[o]})" for o in held) or "none"
    text = f"the store {store.location} holds no log {choice.origin!r}; it holds: {listed}"
    if choice.mirror is not None:
        text += (
            f". {choice.origin} is a [[mirror]] of edgeaudit.toml not synced yet: run "
            "`edgeaudit mirror sync`"
        )
    return text


@dataclass(frozen=True, slots=True)
class HeldLog:
    """One log of the store, for ``status``."""

    origin: str
    role: str  # own, mirror, other
    entries: int
    checkpoint_size: int | None
    url: str | None  # a mirror's pod URL

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "role": self.role,
            "entries": self.entries,
            "latest_checkpoint": self.checkpoint_size,
            "url": self.url,
        }


def held_logs(config: WorkspaceConfig, store: Store) -> list[HeldLog]:
    """Every log the store holds, with its size, latest checkpoint and role."""
    out = []
    mirrors = load_mirrors(config)
    for origin in store.origins():
        choice = choose_log(config, origin, mirrors)
        log_ = store.log(origin)
        latest = log_.latest_checkpoint()
        out.append(
            HeldLog(
                origin,
                choice.role(),
                log_.head()[0],
                latest.tree_size if latest else None,
                choice.mirror.url if choice.mirror else None,
            )
        )
    return out
