"""The service's assessments: the period's site assessment evaluated once and cached (a
failure cached too, with its error id), warmed up in the background, and read by officers and
tenants (a tenant's view only, recorded). Part of :class:`edgeaudit.serve.service.Service`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.pack.period import Period
from edgeaudit.serve import authz
from edgeaudit.serve.caches import Cache, PolicyCache
from edgeaudit.serve.service_errors import EngineFailure, error_id
from edgeaudit.serve.settings import Settings
from edgeaudit.serve.tokens import Principal
from edgeaudit.store import EvidenceLog

log = logging.getLogger("edgeaudit.serve")


class ServiceAssessments:
    """Assessments (a part of the service; the attributes are the service's)."""

    settings: Settings
    policies: PolicyCache
    log: EvidenceLog
    cache: Cache

    def record(
        self,
        who: Principal,
        kind: str,
        what: str,
        client: str,
        tenant: str | None,
        log: str | None = None,
    ) -> None:
        raise NotImplementedError

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
