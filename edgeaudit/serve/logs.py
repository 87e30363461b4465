"""The logs ``serve`` answers for: the workspace's own, and the pods' logs it mirrors.

A read endpoint's ``log`` parameter names a log by its origin (none: the workspace's own). A
mirrored pod's log (a ``[[mirror]]`` table of ``edgeaudit.toml`` whose origin the store holds,
as ``mirror sync`` leaves it) is served read-only, with the pod's own signed checkpoints and
its ``[[mirror]]`` verifier key. Any other origin, held by the store or not, is one 404 that
names only the origin asked for, so a caller cannot learn which logs exist from the message;
officers and auditors list the served logs (``GET /api/v1/logs``).

The ``[[mirror]]`` tables are re-read when ``edgeaudit.toml`` changes (a ``mirror add`` while
the service runs is served from its first sync on; a table removed stops being served). A file
that does not parse serves no mirror until it is fixed (logged).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from edgeaudit.errors import ConfigError
from edgeaudit.serve.public import PublicLog
from edgeaudit.serve.service_errors import NotFound
from edgeaudit.store import Store
from edgeaudit.workspace.config import CONFIG_NAME, WorkspaceConfig
from edgeaudit.workspace.mirrors import MirrorSource, load_mirrors
from edgeaudit.workspace.state import choose_log, held_logs

log = logging.getLogger("edgeaudit.serve")
MAX_ORIGIN = 255  # characters of a ``log`` parameter


class UnknownLog(NotFound):
    """An origin this service does not serve (HTTP 404, naming only what was asked)."""

    def __init__(self, origin: str) -> None:
        super().__init__(f"no log {origin[:100]!r} is served here")


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


class ServedLogs:
    """Origin -> :class:`PublicLog`, for the own log and each synced ``[[mirror]]``."""

    def __init__(self, config: WorkspaceConfig, store: Store, own: PublicLog) -> None:
        self.config = config
        self.store = store
        self.own = own
        self._lock = threading.Lock()
        self._stamp: _Stamp | None = None
        self._mirrors: tuple[MirrorSource, ...] = ()
        self._served: dict[str, PublicLog] = {}

    def mirrors(self) -> tuple[MirrorSource, ...]:
        """The ``[[mirror]]`` tables, re-read when ``edgeaudit.toml`` changed."""
        path = self.config.root / CONFIG_NAME
        try:
            st = path.stat()
            stamp: _Stamp | None = _Stamp(st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp is not None and stamp == self._stamp:
                return self._mirrors
            try:
                mirrors = load_mirrors(self.config)
            except ConfigError as exc:
                log.error("no mirrored log is served: %s", exc)
                mirrors = ()
            self._stamp, self._mirrors = stamp, mirrors
            return mirrors

    def public(self, origin: str | None) -> PublicLog:
        """The log ``origin`` names (None or the own origin: the workspace's own);
        :class:`UnknownLog` for anything else but a synced ``[[mirror]]``."""
        choice = choose_log(self.config, origin, None if origin is None else self.mirrors())
        if choice.own:
            return self.own
        if choice.mirror is None:
            raise UnknownLog(choice.origin)
        key = choice.mirror.verifier_key
        with self._lock:
            kept = self._served.get(choice.origin)
        if kept is not None and kept.verifier_key == key:
            return kept
        if choice.origin not in self.store.origins():  # a [[mirror]] not synced yet
            raise UnknownLog(choice.origin)
        served = PublicLog(self.config, self.store.log(choice.origin), verifier_key=key)
        with self._lock:
            self._served[choice.origin] = served
        return served

    def listing(self) -> list[dict[str, Any]]:
        """The logs served (for officers and auditors): origin, role, size, latest
        checkpoint, verifier key, and a mirror's pod URL."""
        mirrors = {m.origin: m for m in self.mirrors()}
        out: list[dict[str, Any]] = []
        for held in held_logs(self.config, self.store):
            if held.origin == self.config.origin:
                key = self.config.verifier_key
            elif held.origin in mirrors:
                key = mirrors[held.origin].verifier_key
            else:
                continue  # neither own nor mirrored: not served
            doc = held.to_dict()
            doc["role"] = "own" if held.origin == self.config.origin else "mirror"
            doc["verifier_key"] = key
            out.append(doc)
        return out
