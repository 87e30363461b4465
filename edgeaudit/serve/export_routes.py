"""The export routes: ask for a pack of a period, list and poll the jobs, download a pack."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from edgeaudit.serve import authz, params
from edgeaudit.serve.api_errors import _AUTH, _doc
from edgeaudit.serve.deps import API, JobId, OwnLog, Who, _client
from edgeaudit.serve.service import Service, parse_period


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str | None = Field(None, description="a quarter, e.g. 2026Q3", max_length=16)
    from_: str | None = Field(None, alias="from", max_length=40)
    to: str | None = Field(None, max_length=40)
    framework: Literal["iso27001-2022", "soc2", "pci-dss-4.0.1"] | None = None
    tenant: str | None = Field(None, description="officers: a tenant pack", max_length=64)


def add_export_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        f"{API}/exports",
        tags=["exports"],
        status_code=202,
        dependencies=[OwnLog],
        **_doc((400, *_AUTH, 403, 413, 422, 503), authz.EXPORT_REQUEST),
    )
    def request_export(body: ExportRequest, who: Who, request: Request) -> dict[str, Any]:
        """Ask for a pack of a period (tenants: their own); poll the job, then download it."""
        period = parse_period(body.period, body.from_, body.to)
        job = service.request_export(
            who,
            period=period,
            framework=body.framework,
            tenant=body.tenant,
            client=_client(request),
        )
        return job.shown_to(who.role == "officer")

    @app.get(f"{API}/exports", tags=["exports"], **_doc((*_AUTH, 403), authz.EXPORT_READ))
    def list_exports(who: Who) -> dict[str, Any]:
        detail = who.role == "officer"
        return {"exports": [j.shown_to(detail) for j in service.exports(who)]}

    @app.get(
        f"{API}/exports/{{job_id}}",
        tags=["exports"],
        **_doc((*_AUTH, 403, 404, 422), authz.EXPORT_READ),
    )
    def export_status(job_id: JobId, who: Who) -> dict[str, Any]:
        return service.job(who, params.job_id(job_id)).shown_to(who.role == "officer")

    download_doc = _doc((*_AUTH, 403, 404, 409, 422), authz.EXPORT_READ)
    download_doc["responses"][200] = {"content": {"application/zip": {}}}

    @app.get(
        f"{API}/exports/{{job_id}}/download",
        tags=["exports"],
        response_class=FileResponse,
        **download_doc,
    )
    def download(job_id: JobId, who: Who, request: Request) -> FileResponse:
        job, path = service.download(who, params.job_id(job_id), _client(request))
        name = f"edgeaudit-{job.tenant or 'site'}-{job.period_label.replace(' ', '')}.zip"
        return FileResponse(path, media_type="application/zip", filename=name.replace(":", ""))
