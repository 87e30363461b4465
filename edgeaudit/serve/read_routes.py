"""The authenticated reads: who a token is, the logs served, findings, assessments and probe
runs. Two groups, added before and after the export routes (the OpenAPI document's order)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from edgeaudit.policy.statuses import findings as findings_of
from edgeaudit.serve import authz
from edgeaudit.serve.api_errors import _AUTH, ANY_ROLE, _doc
from edgeaudit.serve.deps import (
    API,
    FrameworkQ,
    FromQ,
    LogQ,
    OwnLog,
    PeriodQ,
    TenantQ,
    ToQ,
    Who,
    _client,
)
from edgeaudit.serve.service import Service, parse_period


def add_identity_routes(app: FastAPI, service: Service) -> None:
    @app.get(f"{API}/whoami", tags=["tokens"], **_doc(_AUTH, ANY_ROLE))
    def whoami(who: Who) -> dict[str, Any]:
        return {"subject": who.subject, "role": who.role, "tenant": who.tenant, "id": who.jti}

    @app.get(f"{API}/logs", tags=["logs"], **_doc((*_AUTH, 403), authz.LOGS))
    def logs(who: Who) -> dict[str, Any]:
        """The logs served: the workspace's own and each synced mirrored pod's (origin, role,
        entries, latest checkpoint, verifier key, tiles prefix, a mirror's pod URL)."""
        from edgeaudit.serve.log_tiles import prefix

        authz.require(who, authz.LOGS)
        listed = service.logs.listing()
        return {"logs": [{**x, "tiles": prefix(x["origin"])} for x in listed]}


def add_assessment_routes(app: FastAPI, service: Service) -> None:
    @app.get(
        f"{API}/findings",
        tags=["findings"],
        dependencies=[OwnLog],
        **_doc((400, *_AUTH, 403, 422, 503), authz.FINDINGS),
    )
    def findings(
        who: Who,
        request: Request,
        period: PeriodQ = None,
        from_: FromQ = None,
        to: ToQ = None,
        tenant: TenantQ = None,
        framework: FrameworkQ = None,
    ) -> dict[str, Any]:
        """Findings of the period: failing, then waived results (tenants: their own scope
        only)."""
        doc = service.assess(
            who,
            authz.FINDINGS,
            period=parse_period(period, from_, to),
            tenant=tenant,
            framework=framework,
            client=_client(request),
        )
        return {"assessment": doc["assessment"], "findings": findings_of(doc["results"])}

    @app.get(
        f"{API}/assessments",
        tags=["findings"],
        dependencies=[OwnLog],
        **_doc((400, *_AUTH, 403, 422, 503), authz.ASSESSMENTS),
    )
    def assessments(
        who: Who,
        request: Request,
        period: PeriodQ = None,
        from_: FromQ = None,
        to: ToQ = None,
        tenant: TenantQ = None,
        framework: FrameworkQ = None,
    ) -> dict[str, Any]:
        """The whole assessment: every result and every control's status per framework."""
        return service.assess(
            who,
            authz.ASSESSMENTS,
            period=parse_period(period, from_, to),
            tenant=tenant,
            framework=framework,
            client=_client(request),
        )

    @app.get(
        f"{API}/probe-runs",
        tags=["probes"],
        **_doc((400, *_AUTH, 403, 404, 422), authz.PROBE_RUNS),
    )
    def probe_runs(
        who: Who,
        request: Request,
        period: PeriodQ = None,
        from_: FromQ = None,
        to: ToQ = None,
        origin: LogQ = None,
    ) -> dict[str, Any]:
        """Recorded probe runs (``probe.run`` entries) of the log, newest last."""
        p = parse_period(period, from_, to) if (period or from_ or to) else None
        runs = service.probe_runs(who, period=p, client=_client(request), log=origin)
        return {"runs": runs}
