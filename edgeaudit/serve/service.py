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
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from edgeaudit.errors import InputError
from edgeaudit.events import prepare
from edgeaudit.pack.period import Period
from edgeaudit.serve import authz
from edgeaudit.serve.caches import Cache, PolicyCache, TenantCache
from edgeaudit.serve.denied import Denials
from edgeaudit.serve.jobs import DONE, QUEUED, RUNNING, ExportJob
from edgeaudit.serve.logs import ServedLogs
from edgeaudit.serve.public import PublicLog
from edgeaudit.serve.revocation import Ledger, Revocations
from edgeaudit.serve.service_errors import Busy as Busy  # re-exported: the HTTP layer's
from edgeaudit.serve.service_errors import Conflict as Conflict
from edgeaudit.serve.service_errors import EngineFailure as EngineFailure
from edgeaudit.serve.service_errors import NotFound as NotFound
from edgeaudit.serve.service_errors import UnknownExport as UnknownExport
from edgeaudit.serve.service_errors import error_id as error_id
from edgeaudit.serve.state import open_jobs, open_state
from edgeaudit.serve.tokens import Principal, TokenVerifier
from edgeaudit.store import EvidenceLog, Store
from edgeaudit.workspace.config import WorkspaceConfig

EXPORTS_DIR = "exports"

log = logging.getLogger("edgeaudit.serve")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    policies: Path | None = None  # default: the workspace's policies/
    max_body: int = 64 * 1024
    rate: float = 10.0  # requests per second per token
    burst: int = 40
    secure_cookies: bool = False  # set on anything that is not plain http://127.0.0.1
    pdf: bool = True  # tenant packs with report.pdf
    with_scheduler: bool = False
    exports: Path | None = None  # default: the workspace's exports/
    max_pending: int = 3  # queued or running exports per scope (tenant or site)
    cache_seconds: float = 60.0  # an assessment is reused for this long (0: evaluate each time)
    alert_webhook: str | None = None
    alert_command: str | None = None
    alert_interval: float = 30.0
    verify_every: float = 0.0  # seconds between store verifications by the alert watcher
    public_url: str | None = None  # the service's address (default http://HOST:PORT)
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-For is honoured only from these
    session_idle: float = 30 * 60.0  # a page session ends after this long unused
    session_max: float = 12 * 3600.0  # ... and this long after sign-in, whatever the token
    denied_keys: int = 100  # distinct keys of access.denied entries per minute
    access_log: bool = True  # one JSON line per request on stderr
    export_ttl: float = 7 * 86400.0  # finished exports are deleted after this long
    export_quota: int = 20  # exports a scope (a tenant, or the site) may ask for per day
    workers: int = 1  # processes serving (more than one: rate limits shared through state.db)
    revocation_poll: float = 2.0  # seconds between reads of the store's token.revoked entries

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_period(
    period: str | None, date_from: str | None = None, date_to: str | None = None
) -> Period:
    from edgeaudit.serve import params

    return params.period(period, date_from, date_to)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Service:
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

    def request_export(
        self,
        who: Principal,
        *,
        period: Period,
        framework: str | None,
        tenant: str | None,
        client: str,
    ) -> ExportJob:
        scope = authz.scope_for(who, authz.EXPORT_REQUEST, tenant)
        policies = self.policies.get()
        if scope is not None and scope not in policies.inventory.tenant_ids:
            raise InputError(f"tenant {scope!r} is not in the inventory")
        if framework is not None and framework not in policies.catalogue.framework_ids:
            known = ", ".join(policies.catalogue.framework_ids)
            raise InputError(f"framework {framework!r} is not known (known: {known})")
        pending = sum(
            1 for j in self.jobs.all() if j.tenant == scope and j.status in (QUEUED, RUNNING)
        )
        if pending >= self.settings.max_pending:
            raise Busy(f"{pending} exports of this scope are still waiting; try again later")
        day = time.time() - 86400
        today = sum(1 for j in self.jobs.all() if j.tenant == scope and j.requested_at > day)
        if today >= self.settings.export_quota:
            raise Busy(f"this scope asked for {today} exports in the last 24 hours (the quota)")
        job = ExportJob(
            id=self.jobs.new_id(),
            tenant=scope,
            period_from=period.start_text,
            period_to=period.end_text,
            period_label=period.label,
            framework=framework,
            requested_by=who.label,
            requested_at=int(time.time()),
        )
        self.record(
            who,
            "access.export",
            f"export {job.id} {period.label} {framework or 'all frameworks'}",
            client,
            scope,
        )
        return self.jobs.submit(job)

    def job(self, who: Principal, job_id: str) -> ExportJob:
        authz.require(who, authz.EXPORT_READ)
        job = self.jobs.get(job_id)
        if job is None or not authz.may_see_job(who, job.tenant):
            raise UnknownExport(f"no export {job_id[:64]}")
        return job

    def exports(self, who: Principal) -> list[ExportJob]:
        authz.require(who, authz.EXPORT_READ)
        return [j for j in self.jobs.all() if authz.may_see_job(who, j.tenant)]

    def download(self, who: Principal, job_id: str, client: str) -> tuple[ExportJob, Path]:
        job = self.job(who, job_id)
        if job.status != DONE:
            raise Conflict(f"export {job_id} is {job.status}, not done")
        self.record(who, "access.download", f"download export {job.id}", client, job.tenant)
        return job, self.jobs.pack_path(job)

    def _build_export(
        self, job: ExportJob, out: Path, progress: Callable[[str, float], None]
    ) -> dict[str, Any]:
        """The export's pack, built as ``edgeaudit pack build`` builds it (one code path,
        ``pack.build.build_assessed_pack``): the period's site assessment, recorded (reused
        while current, else evaluated with the store-integrity check under the workspace's
        verifier key, ``config.verifier_key``), then restricted to the tenant by the one tenant
        view. The same tenant, period and snapshot give the same pack either way."""
        from edgeaudit.pack.build import PackRequest, build_assessed_pack

        policies = self.policies.get()
        period = Period.between(job.period_from, job.period_to)
        result = build_assessed_pack(
            self.config,
            self.log,
            policies,
            PackRequest(
                period=Period(period.start, period.end, job.period_label),
                out=out,
                tenant=job.tenant,
                frameworks=(job.framework,) if job.framework else (),
                pdf=self.settings.pdf,
            ),
            progress,
        )
        return {
            "tree_size": result.tree_size,
            "entries": result.entries,
            "findings": result.findings,
        }

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()`` through the service's :class:`Cache` (assessments, the probe map)."""
        return self.cache.get(key, compute)

    def warm_up(
        self, period: Period, also: Callable[[], object] | None = None
    ) -> threading.Thread | None:
        """Compute the site assessment of ``period`` (and ``also``: e.g. the dashboard's
        heat-map) in the background, so the first dashboard of that period is served from the
        cache."""
        if self.settings.cache_seconds <= 0:
            return None

        def work() -> None:
            try:
                self._site_assessment(period, None)
                if also is not None:
                    also()
            except EngineFailure:
                pass  # logged with its error id; pages of that period answer with it

        thread = threading.Thread(
            target=work,
            name="edgeaudit-warm-up",
            daemon=True,
        )
        thread.start()
        return thread

    def _site_assessment(self, period: Period, framework: str | None) -> dict[str, Any]:
        return self._assessment(None, period, framework)

    def _assessment(
        self, scope: str | None, period: Period, framework: str | None
    ) -> dict[str, Any]:
        from edgeaudit.policy.engine import evaluate

        policies = self.policies.get()
        key = ("assessment", scope, period.start, period.end, framework)
        failed = self.cache.failure(key)
        if failed is not None:
            raise failed
        try:
            doc: dict[str, Any] = self.cached(
                key,
                lambda: evaluate(
                    policies,
                    self.log,
                    start=period.start_text,
                    end=period.end_text,
                    tenant=scope,
                    frameworks=[framework] if framework else None,
                ).to_dict(),
            )
        except Exception as exc:  # the engine on this period's evidence: not the caller's input
            failure = EngineFailure(error_id(), f"{type(exc).__name__}: {exc}"[:2000])
            log.error(
                "assessment of %s (%s) failed, error id %s",
                period.label,
                scope or "site",
                failure.error_id,
                exc_info=exc,
            )
            self.cache.failed(key, failure)
            raise failure from None
        return doc

    # -- officer / tenant reads -------------------------------------------------------------

    def assess(
        self,
        who: Principal,
        action: str,
        *,
        period: Period,
        tenant: str | None,
        framework: str | None,
        client: str,
    ) -> dict[str, Any]:
        """The assessment document of the period; in a tenant's scope it is the tenant view
        a tenant pack carries (its results only, other tenants' identifiers by neutral labels)."""
        from edgeaudit.pack.findings import for_view
        from edgeaudit.pack.scope import TenantView

        scope = authz.scope_for(who, action, tenant)
        policies = self.policies.get()
        if scope is not None and scope not in policies.inventory.tenant_ids:
            raise InputError(f"tenant {scope!r} is not in the inventory")
        self.record(who, "access.read", f"{action} {period.label}", client, scope)
        doc = self._assessment(scope, period, framework)
        if scope is None:
            return doc
        supports = frozenset(c.ref for c in policies.catalogue.controls if c.supports_only)
        return for_view(doc, TenantView.for_tenant(policies.inventory, scope), supports)

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
