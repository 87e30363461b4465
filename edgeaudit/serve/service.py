"""The service behind the HTTP layer: framework-free, one instance per ``edgeaudit serve``.

Holds the store (one engine for every request thread), the policies (reloaded when a file
changes, so a tenant removed from the inventory loses access at once), the token verifier
(public key parsed once), the export jobs and the rate limiter. Every call that reads or
exports evidence appends an access record (``access.read`` / ``access.export`` /
``access.download``: who, what, when, from where, and the origin of the log read) to the
workspace's own log before answering. The public log endpoints (checkpoint, proofs) return
hashes only, never entry contents, and are not recorded. Reads name a log by its origin
(:mod:`edgeaudit.serve.logs`: the own log, or a mirrored pod's, read-only); writes, exports
and assessments only ever use the workspace's own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from edgeaudit.events import prepare
from edgeaudit.pack.period import Period
from edgeaudit.serve import authz
from edgeaudit.serve.caches import Cache, PolicyCache, TenantCache
from edgeaudit.serve.denied import Denials
from edgeaudit.serve.logs import ServedLogs
from edgeaudit.serve.public import PublicLog
from edgeaudit.serve.revocation import Ledger, Revocations
from edgeaudit.serve.service_assess import ServiceAssessments
from edgeaudit.serve.service_errors import Busy as Busy  # re-exported: the HTTP layer's
from edgeaudit.serve.service_errors import Conflict as Conflict
from edgeaudit.serve.service_errors import EngineFailure as EngineFailure
from edgeaudit.serve.service_errors import NotFound as NotFound
from edgeaudit.serve.service_errors import UnknownExport as UnknownExport
from edgeaudit.serve.service_errors import error_id as error_id
from edgeaudit.serve.service_exports import ServiceExports
from edgeaudit.serve.settings import Settings as Settings  # re-exported
from edgeaudit.serve.settings import parse_period as parse_period
from edgeaudit.serve.state import open_jobs, open_state
from edgeaudit.serve.tokens import Principal, TokenVerifier
from edgeaudit.store import EvidenceLog, Store
from edgeaudit.workspace.config import WorkspaceConfig

EXPORTS_DIR = "exports"

log = logging.getLogger("edgeaudit.serve")


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Service(ServiceExports, ServiceAssessments):
    """The service: its parts are in ``service_exports`` and ``service_assess``."""

    def __init__(
        self,
        config: WorkspaceConfig,
        settings: Settings,
        *,
        verifier_factory: Callable[[Revocations, Callable[[], frozenset[str]]], TokenVerifier],
    ) -> None:
        self.config = config
        self.settings = settings
        self.policies = PolicyCache(settings.policies or config.root / "policies")
        self.policies.get()  # fail at start-up on a broken policy directory
        self.store = Store.open(config.db_url)
        self.log: EvidenceLog = self.store.log(config.origin)
        self.ledger = Ledger(config.root)
        self.revocations = Revocations(self.ledger, self.log, settings.revocation_poll)
        self.tenants = TenantCache(self.policies.root / "inventory.yaml")
        self.verifier = verifier_factory(self.revocations, self.tenants)
        state = open_state(  # on PostgreSQL in the store's database, shared by every host
            config.root,
            self.store.engine,
            idle=settings.session_idle,
            lifetime=settings.session_max,
            rate=settings.rate,
            burst=settings.burst,
            workers=settings.workers,
        )
        self.sessions, self.limiter = state.sessions, state.limiter
        self.denials = Denials(self.log.append, max_keys=settings.denied_keys)
        self.public = PublicLog(config, self.log)
        self.logs = ServedLogs(config, self.store, self.public)
        self.jobs = open_jobs(
            self.store.engine,
            settings.exports or config.root / EXPORTS_DIR,
            self._build_export,
            settings.export_ttl,
        )
        self.cache = Cache(settings.cache_seconds)
        self._watcher_lock: int | None = None
        self.watcher = self._watcher()

    def _watcher(self) -> Any:
        from edgeaudit.serve.alerts import Notifier, Watcher

        s = self.settings
        notifier = Notifier(s.alert_webhook, s.alert_command)
        if not notifier.configured:
            return None
        if s.workers > 1 and not self._elected():
            return None  # another worker of this server watches
        verify = None
        if s.verify_every > 0:
            from edgeaudit.note.verifier import Verifier
            from edgeaudit.verify import verify_log

            keys = [Verifier.parse(self.config.verifier_key)]

            def verify() -> Any:
                return verify_log(self.log, keys)

        watcher = Watcher(
            self.config.root,
            self.log,
            notifier,
            interval=s.alert_interval,
            verify=verify,
            verify_every=s.verify_every,
        )
        watcher.start()
        return watcher

    def _elected(self) -> bool:
        """One worker of several runs the alert watcher: the one holding its lock file."""
        import fcntl
        import os

        path = self.config.root / "serve" / "watcher.lock"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._watcher_lock = fd  # held (open) until close()
        return True

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self._watcher_lock is not None:  # another worker (or a later server) may watch now
            import os

            os.close(self._watcher_lock)
            self._watcher_lock = None
        self.jobs.close()
        self.denials.close()
        self.store.close()

    # -- access records ---------------------------------------------------------------------

    def record(
        self,
        who: Principal,
        kind: str,
        what: str,
        client: str,
        tenant: str | None,
        log: str | None = None,
    ) -> None:
        """Append the access record to the workspace's own log; ``log``: the origin of the
        log read (default: the workspace's own)."""
        event: dict[str, Any] = {
            "time": _now_text(),
            "kind": kind,
            "actor": who.subject,
            "role": who.role,
            "token": who.jti,
            "what": what[:500],
            "from": client[:100],
        }
        if tenant is not None:
            event["tenant"] = tenant
        event["log"] = (log or self.log.origin)[:300]
        self.log.append([prepare(event, fingerprint=f"serve:{uuid.uuid4().hex}")])

    # -- public log endpoints (serve/public.py) ----------------------------------------------

    # ``log``: the origin of the log to answer for (None: the workspace's own).

    def checkpoint(self, log: str | None = None) -> dict[str, Any]:
        return self.logs.public(log).checkpoint()

    def keys(self, log: str | None = None) -> dict[str, Any]:
        return self.logs.public(log).keys()

    def consistency(self, old: int, new: int | None, log: str | None = None) -> dict[str, Any]:
        return self.logs.public(log).consistency(old, new)

    def inclusion(
        self, index: int, tree_size: int | None, log: str | None = None
    ) -> dict[str, Any]:
        return self.logs.public(log).inclusion(index, tree_size)

    # -- exports ----------------------------------------------------------------------------

    # -- officer / tenant reads -------------------------------------------------------------

    def probe_runs(
        self,
        who: Principal,
        *,
        period: Period | None,
        client: str,
        limit: int = 200,
        log: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``probe.run`` entries of the log ``log`` (None: the workspace's own)."""
        authz.require(who, authz.PROBE_RUNS)
        source = self.logs.public(log).log
        self.record(who, "access.read", "probe runs", client, None, source.origin)
        since = period.start_text if period else None
        until = period.end_text if period else None
        runs: list[dict[str, Any]] = []
        with source.reader() as reader:
            size, _ = reader.head()
            for index, body, leaf in reader.select(["probe.run"], since, until, size):
                entry = orjson.loads(body)
                if period and not period.start_text <= entry.get("time", "") < period.end_text:
                    continue
                runs.append({"index": index, "leaf_hash": bytes(leaf).hex(), "entry": entry})
        return runs[-limit:]
