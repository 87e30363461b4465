"""The service's export jobs: asked for (quota, pending limit, recorded), listed, downloaded
(recorded), and built as ``edgeaudit pack build`` builds a pack. Part of
:class:`edgeaudit.serve.service.Service`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.pack.period import Period
from edgeaudit.serve import authz
from edgeaudit.serve.caches import PolicyCache
from edgeaudit.serve.jobs import DONE, QUEUED, RUNNING, ExportJob, Jobs
from edgeaudit.serve.jobs_pg import PgJobs
from edgeaudit.serve.service_errors import Busy, Conflict, UnknownExport
from edgeaudit.serve.settings import Settings
from edgeaudit.serve.tokens import Principal
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace.config import WorkspaceConfig


class ServiceExports:
    """Export requests and jobs (a part of the service; the attributes are the service's)."""

    config: WorkspaceConfig
    settings: Settings
    policies: PolicyCache
    log: EvidenceLog
    jobs: Jobs | PgJobs

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
