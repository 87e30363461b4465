"""The HTTP layer (FastAPI): routes, authentication, limits and the one error shape.

The only module of edgeaudit that imports the web framework. Every failure, whatever raised it
(routing, validation, authorization, the body limit, the rate limit, a bug), answers::

    {"error": {"status": 404, "code": "not_found", "message": "..."}}
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeaudit import __version__
from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.policy.statuses import findings as findings_of
from edgeaudit.serve import authz, params
from edgeaudit.serve.edge import (
    CLIENT,
    DENIED,
    LOGGED,
    PRINCIPAL_ID,
    Edge,
    PublicUrl,
    parse_proxies,
)
from edgeaudit.serve.logs import MAX_ORIGIN
from edgeaudit.serve.service import (
    Busy,
    Conflict,
    EngineFailure,
    NotFound,
    Service,
    UnknownExport,
    error_id,
    parse_period,
)
from edgeaudit.serve.tokens import INVALID, ROLES, Principal, TokenError

log = logging.getLogger("edgeaudit.serve")
ROLE = "edgeaudit.role"
API = "/api/v1"
OPENAPI_URL = f"{API}/openapi.json"
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    421: "misdirected",
    503: "unavailable",
    500: "internal_error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": _CODES.get(status, "error"), "message": message}}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (413), by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body over {self.limit} bytes")
        await response(scope, receive, send)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str | None = Field(None, description="a quarter, e.g. 2026Q3", max_length=16)
    from_: str | None = Field(None, alias="from", max_length=40)
    to: str | None = Field(None, max_length=40)
    framework: Literal["iso27001-2022", "soc2", "pci-dss-4.0.1"] | None = None
    tenant: str | None = Field(None, description="officers: a tenant pack", max_length=64)


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every failure's body."""

    error: ErrorDetail


_MEANING = {
    400: "a parameter is out of range or malformed",
    401: "no valid bearer token (the answer is always 'invalid token')",
    403: "the token's role or tenant may not do this",
    404: "not found (an export of another tenant is not found either)",
    409: "the export is not done",
    413: "the request body is too large",
    422: "a parameter has the wrong type or is missing",
    429: "over the token's rate, or too many exports waiting",
    503: "the period's assessment failed (an error id), or the service is misconfigured",
}


def _doc(errors: tuple[int, ...], roles: str | None = None) -> dict[str, Any]:
    """OpenAPI extras of a route: its error answers and (``x-roles``) who may call it. Every
    route may also answer 421 (a foreign Host) and 500 (a bug, with an error id)."""
    out: dict[str, Any] = {
        "responses": {code: {"model": ErrorBody, "description": _MEANING[code]} for code in errors}
    }
    if roles is None:
        allowed = ["anyone"]
    elif roles == ANY_ROLE:
        allowed = sorted(ROLES)
    else:
        allowed = sorted(authz.ALLOWED[roles])
    out["openapi_extra"] = {"x-roles": allowed}
    return out


_AUTH = (401, 429)
ANY_ROLE = "any-role"


def _json(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _client(request: Request) -> str:
    return str(request.scope.get(CLIENT) or (request.client.host if request.client else "?"))


_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="an API token (edgeaudit token issue)"
)


def principal(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The bearer token's principal (401 without a valid one, 429 over the rate). Clients are
    told only "invalid token"; the reason goes to the server log."""
    service: Service = request.app.state.service
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    try:
        who = service.verifier.verify(token.strip())
    except TokenError as exc:
        if exc.jti:
            request.scope[PRINCIPAL_ID] = exc.jti
        log.warning(
            "token refused: %s (token id %s, client %s)", exc.reason, exc.jti, _client(request)
        )
        raise ApiError(401, INVALID, {"WWW-Authenticate": "Bearer"}) from None
    request.scope[PRINCIPAL_ID] = who.jti
    request.scope[ROLE] = who.role
    wait = service.limiter.allow(who.jti)
    if wait is not None:
        raise ApiError(429, "too many requests", {"Retry-After": str(max(1, round(wait)))})
    return who


Who = Annotated[Principal, Depends(principal)]
PeriodQ = Annotated[str | None, Query(description="a quarter, e.g. 2026Q3", max_length=16)]
FromQ = Annotated[str | None, Query(alias="from", max_length=40)]
ToQ = Annotated[str | None, Query(max_length=40)]
TenantQ = Annotated[str | None, Query(max_length=64)]
FrameworkQ = Annotated[Literal["iso27001-2022", "soc2", "pci-dss-4.0.1"] | None, Query()]
JobId = Annotated[str, Path(max_length=64)]
LogQ = Annotated[
    str | None,
    Query(
        alias="log",
        min_length=1,
        max_length=MAX_ORIGIN,
        description="the log's origin (default: the workspace's own)",
    ),
]


def own_log_only(request: Request) -> None:
    """Endpoints that write, export, evaluate or publish tiles answer for the workspace's own
    log only: a ``log`` parameter naming another origin is a 400 (whether that origin exists
    or not), never silently ignored."""
    service: Service = request.app.state.service
    asked = request.query_params.getlist("log")
    if any(origin != service.config.origin for origin in asked):
        raise ApiError(
            400,
            "log: this endpoint answers for the workspace's own log only "
            "(a mirrored pod's log is read-only here: checkpoints, proofs, keys, probe runs)",
        )


OwnLog = Depends(own_log_only)


def create_app(service: Service, *, pages: bool = True) -> FastAPI:
    app = FastAPI(
        title="edgeaudit",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        description="Tenant self-service exports, findings, and public log proofs.",
    )
    app.state.service = service

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return error_response(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(ApiError)
    async def _api(_r: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(authz.Forbidden)
    async def _forbidden(_r: Request, exc: authz.Forbidden) -> JSONResponse:
        return error_response(403, str(exc))

    @app.exception_handler(NotFound)
    async def _nf(request: Request, exc: NotFound) -> JSONResponse:
        if isinstance(exc, UnknownExport):
            request.scope[DENIED] = "unknown_export"
        return error_response(404, str(exc))

    @app.exception_handler(EngineFailure)
    async def _engine(request: Request, exc: EngineFailure) -> JSONResponse:
        message = f"the assessment of this period failed (error id {exc.error_id})"
        if request.scope.get(ROLE) == "officer":
            message += f": {exc.detail}"
        return error_response(503, message)

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(Busy)
    async def _busy(_r: Request, exc: Busy) -> JSONResponse:
        return error_response(429, str(exc), {"Retry-After": "30"})

    @app.exception_handler(ConfigError)
    async def _config(_r: Request, exc: ConfigError) -> JSONResponse:
        log.error("configuration error: %s", exc)
        return error_response(503, "the service is misconfigured; see its log")

    @app.exception_handler(EdgeauditError)
    async def _input(_r: Request, exc: EdgeauditError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        eid = error_id()
        log.error("internal error, error id %s", eid, exc_info=exc)
        request.scope[LOGGED] = True  # the edge layer must not log it a second time
        return error_response(500, f"internal error (error id {eid})")

    # -- public ---------------------------------------------------------------------------

    # The public endpoints are small reads (a cached checkpoint list, a few tiles): they run
    # on the event loop, not the thread pool, and answer with orjson-encoded bytes.

    @app.get(f"{API}/checkpoint", tags=["public"], response_model=None, **_doc((404,)))
    async def checkpoint(origin: LogQ = None) -> Response:
        """The latest signed checkpoint (C2SP note) and the log's verifier key."""
        return _json(service.checkpoint(origin))

    @app.get(
        f"{API}/checkpoint.txt",
        tags=["public"],
        response_class=PlainTextResponse,
        **_doc((404,)),
    )
    async def checkpoint_note(origin: LogQ = None) -> str:
        """The latest signed checkpoint note as text."""
        return str(service.checkpoint(origin)["note"])

    @app.get(f"{API}/keys", tags=["public"], **_doc((404,)))
    def keys(origin: LogQ = None) -> dict[str, Any]:
        """The log's verifier key and the pack manifest's public key (to verify packs)."""
        return service.keys(origin)

    @app.get(
        f"{API}/proof/consistency", tags=["public"], response_model=None, **_doc((400, 404, 422))
    )
    async def consistency(
        old: Annotated[int, Query(ge=1, le=2**53)],
        new: Annotated[int | None, Query(ge=1, le=2**53)] = None,
        origin: LogQ = None,
    ) -> Response:
        """Consistency proof between two signed tree sizes (new: default the latest)."""
        return _json(service.consistency(old, new, origin))

    @app.get(
        f"{API}/proof/inclusion/{{index}}",
        tags=["public"],
        response_model=None,
        **_doc((404, 422)),
    )
    async def inclusion(
        index: Annotated[int, Path(ge=0, le=2**53)],
        tree_size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
        origin: LogQ = None,
    ) -> Response:
        """Inclusion proof of entry INDEX (its leaf hash, never its contents)."""
        return _json(service.inclusion(index, tree_size, origin))

    # -- authenticated ----------------------------------------------------------------------

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

    from edgeaudit.serve.log_tiles import LogTiles, add_log_tile_routes
    from edgeaudit.serve.tiles import TileLog, add_tile_routes

    app.state.tiles = TileLog(service.public)
    add_tile_routes(app, app.state.tiles)
    add_log_tile_routes(app, LogTiles(service.logs, app.state.tiles))

    if pages:
        from edgeaudit.serve.page_routes import add_pages

        add_pages(app, service)
    return app


def asgi(service: Service, *, pages: bool = True) -> ASGIApp:
    """The app in the body limit, in the edge layer (Host, headers, access log, refusals):
    what uvicorn serves."""
    s = service.settings
    from edgeaudit.serve.fastpath import FastPublic
    from edgeaudit.serve.tiles import FastTiles

    app = create_app(service, pages=pages)
    return Edge(
        FastPublic(
            FastTiles(BodyLimit(app, s.max_body), app.state.tiles),
            service.logs,
        ),
        public_url=PublicUrl.parse(s.base_url),
        proxies=parse_proxies(s.trusted_proxies),
        hsts=s.secure_cookies,
        denials=service.denials,
        access_log=s.access_log,
    )
