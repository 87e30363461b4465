"""The HTTP layer (FastAPI): routes, authentication, limits and the one error shape.

The only module of edgeaudit that imports the web framework. Every failure, whatever raised it
(routing, validation, authorization, the body limit, the rate limit, a bug), answers::

    {"error": {"status": 404, "code": "not_found", "message": "..."}}
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeaudit import __version__
from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.policy.statuses import findings as findings_of
from edgeaudit.serve import authz
from edgeaudit.serve.service import Busy, Conflict, NotFound, Service, parse_period
from edgeaudit.serve.tokens import Principal, TokenError

log = logging.getLogger("edgeaudit.serve")
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


def _json(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def principal(request: Request) -> Principal:
    """The bearer token's principal (401 without a valid one, 429 over the rate)."""
    service: Service = request.app.state.service
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    try:
        who = service.verifier.verify(token.strip())
    except TokenError as exc:
        raise ApiError(401, str(exc), {"WWW-Authenticate": "Bearer"}) from None
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
    async def _nf(_r: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, str(exc))

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
    async def _bug(_r: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
        return error_response(500, "internal error")

    # -- public ---------------------------------------------------------------------------

    # The public endpoints are small reads (a cached checkpoint list, a few tiles): they run
    # on the event loop, not the thread pool, and answer with orjson-encoded bytes.

    @app.get(f"{API}/checkpoint", tags=["public"], response_model=None)
    async def checkpoint() -> Response:
        """The latest signed checkpoint (C2SP note) and the log's verifier key."""
        return _json(service.checkpoint())

    @app.get(f"{API}/checkpoint.txt", tags=["public"], response_class=PlainTextResponse)
    async def checkpoint_note() -> str:
        """The latest signed checkpoint note as text."""
        return str(service.checkpoint()["note"])

    @app.get(f"{API}/keys", tags=["public"])
    def keys() -> dict[str, Any]:
        """The log's verifier key and the pack manifest's public key (to verify packs)."""
        return service.keys()

    @app.get(f"{API}/proof/consistency", tags=["public"], response_model=None)
    async def consistency(
        old: Annotated[int, Query(ge=1, le=2**53)],
        new: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    ) -> Response:
        """Consistency proof between two signed tree sizes (new: default the latest)."""
        return _json(service.consistency(old, new))

    @app.get(f"{API}/proof/inclusion/{{index}}", tags=["public"], response_model=None)
    async def inclusion(
        index: Annotated[int, Path(ge=0, le=2**53)],
        tree_size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    ) -> Response:
        """Inclusion proof of entry INDEX (its leaf hash, never its contents)."""
        return _json(service.inclusion(index, tree_size))

    # -- authenticated ----------------------------------------------------------------------

    @app.get(f"{API}/whoami", tags=["tokens"])
    def whoami(who: Who) -> dict[str, Any]:
        return {"subject": who.subject, "role": who.role, "tenant": who.tenant, "id": who.jti}

    @app.post(f"{API}/exports", tags=["exports"], status_code=202)
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
        return job.to_dict()

    @app.get(f"{API}/exports", tags=["exports"])
    def list_exports(who: Who) -> dict[str, Any]:
        return {"exports": [j.to_dict() for j in service.exports(who)]}

    @app.get(f"{API}/exports/{{job_id}}", tags=["exports"])
    def export_status(job_id: JobId, who: Who) -> dict[str, Any]:
        return service.job(who, job_id).to_dict()

    @app.get(
        f"{API}/exports/{{job_id}}/download",
        tags=["exports"],
        response_class=FileResponse,
        responses={200: {"content": {"application/zip": {}}}},
    )
    def download(job_id: JobId, who: Who, request: Request) -> FileResponse:
        job, path = service.download(who, job_id, _client(request))
        name = f"edgeaudit-{job.tenant or 'site'}-{job.period_label.replace(' ', '')}.zip"
        return FileResponse(path, media_type="application/zip", filename=name.replace(":", ""))

    @app.get(f"{API}/findings", tags=["findings"])
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

    @app.get(f"{API}/assessments", tags=["findings"])
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

    @app.get(f"{API}/probe-runs", tags=["probes"])
    def probe_runs(
        who: Who, request: Request, period: PeriodQ = None, from_: FromQ = None, to: ToQ = None
    ) -> dict[str, Any]:
        """Recorded probe runs (``probe.run`` entries), newest last."""
        p = parse_period(period, from_, to) if (period or from_ or to) else None
        return {"runs": service.probe_runs(who, period=p, client=_client(request))}

    if pages:
        _add_pages(app, service)
    return app


def asgi(service: Service, *, pages: bool = True) -> ASGIApp:
    """The app wrapped in the body limit: what uvicorn serves."""
    return BodyLimit(create_app(service, pages=pages), service.settings.max_body)


# -- pages ----------------------------------------------------------------------------------


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _add_pages(app: FastAPI, service: Service) -> None:
    import secrets

    from edgeaudit.pack.period import Period
    from edgeaudit.serve import pages as pg
    from edgeaudit.serve.ratelimit import RateLimiter

    sessions = pg.Sessions()
    sign_ins = RateLimiter(rate=1.0, burst=10)  # sign-in attempts per client address
    secure = service.settings.secure_cookies

    def html(name: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        r = HTMLResponse(pg.render(name, **ctx), status_code=code)
        r.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
        r.headers["X-Frame-Options"] = "DENY"
        r.headers["Cache-Control"] = "no-store"
        return r

    @app.exception_handler(PageError)
    async def _page_error(_r: Request, exc: PageError) -> HTMLResponse:
        return html(
            "error.html.j2",
            exc.status,
            title="error",
            status=exc.status,
            message=exc.message,
            who=None,
        )

    def session_of(request: Request) -> tuple[Principal, pg.Session]:
        s = sessions.get(request.cookies.get(pg.SESSION_COOKIE))
        if s is None:
            raise _Redirect("/login")
        try:
            who = service.verifier.verify(s.token)
        except TokenError:
            sessions.drop(s.id)
            raise _Redirect("/login") from None
        if service.limiter.allow(who.jti) is not None:
            raise PageError(429, "too many requests")
        return who, s

    @app.exception_handler(_Redirect)
    async def _redirect(_r: Request, exc: _Redirect) -> RedirectResponse:
        return RedirectResponse(exc.to, status_code=303)

    def period_of(text: str | None) -> Period:
        try:
            return Period.quarter(text or pg.last_quarter())
        except EdgeauditError as exc:
            raise PageError(400, str(exc)) from None

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def ctx(request: Request, who: Principal, s: pg.Session, title: str) -> dict[str, Any]:
        keys = service.keys()
        return {
            "who": who,
            "csrf": s.csrf,
            "title": title,
            "base": base(request),
            "verifier_key": keys["verifier_key"],
            "manifest_kid": keys["manifest_kid"],
        }

    def guard(who: Principal, action: str, tenant: str | None = None) -> str | None:
        try:
            return authz.scope_for(who, action, tenant)
        except authz.Forbidden as exc:
            raise PageError(403, str(exc)) from None

    def assess(
        request: Request, who: Principal, action: str, period: Period, tenant: str | None
    ) -> dict[str, Any]:
        try:
            return service.assess(
                who, action, period=period, tenant=tenant, framework=None, client=_client(request)
            )
        except authz.Forbidden as exc:
            raise PageError(403, str(exc)) from None

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        who, _ = session_of(request)
        if who.role == "tenant":
            return RedirectResponse(f"/tenant/{who.tenant}", status_code=303)
        return RedirectResponse("/dashboard", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        r = html("login.html.j2", title="sign in", login_csrf=token, who=None, error=None)
        r.set_cookie(
            pg.LOGIN_COOKIE,
            token,
            max_age=600,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/login",
        )
        return r

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=4096)],
        csrf: Annotated[str, Form(max_length=200)],
    ) -> Response:
        if not pg.csrf_ok(request.cookies.get(pg.LOGIN_COOKIE), csrf):
            raise PageError(403, "the sign-in form expired or was not sent from this site")
        if sign_ins.allow(_client(request)) is not None:
            raise PageError(429, "too many sign-in attempts")
        try:
            who = service.verifier.verify(token.strip())
        except TokenError as exc:
            fresh = secrets.token_urlsafe(32)
            r = html(
                "login.html.j2",
                401,
                title="sign in",
                login_csrf=fresh,
                who=None,
                error=f"sign-in refused: {exc}",
            )
            r.set_cookie(
                pg.LOGIN_COOKIE,
                fresh,
                max_age=600,
                httponly=True,
                samesite="strict",
                secure=secure,
                path="/login",
            )
            return r
        s = sessions.create(token.strip(), who)
        to = f"/tenant/{who.tenant}" if who.role == "tenant" else "/dashboard"
        r2 = RedirectResponse(to, status_code=303)
        r2.set_cookie(
            pg.SESSION_COOKIE,
            s.id,
            max_age=int(s.expires - time.time()),
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        r2.delete_cookie(pg.LOGIN_COOKIE, path="/login")
        return r2

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=200)]) -> Response:
        s = sessions.get(request.cookies.get(pg.SESSION_COOKIE))
        if s is None or not pg.csrf_ok(s.csrf, csrf):
            raise PageError(403, "missing or wrong CSRF token")
        sessions.drop(s.id)
        r = RedirectResponse("/login", status_code=303)
        r.delete_cookie(pg.SESSION_COOKIE, path="/")
        return r

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_page(request: Request, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.DASHBOARD)
        p = period_of(period)
        doc = assess(
            request, who, authz.ASSESSMENTS if who.role != "security" else authz.FINDINGS, p, None
        )
        return html(
            "dashboard.html.j2",
            **ctx(request, who, s, "dashboard"),
            period=p,
            order=pg.CONTROL_ORDER,
            **pg.dashboard(service, doc, p),
        )

    @app.get("/findings", include_in_schema=False)
    def findings_page(request: Request, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.DASHBOARD)
        p = period_of(period)
        doc = assess(request, who, authz.FINDINGS, p, None)
        return html(
            "findings.html.j2",
            **ctx(request, who, s, "findings"),
            period=p,
            counts=doc["assessment"]["counts"],
            failing=findings_of(doc["results"]),
        )

    @app.get("/probe-runs", include_in_schema=False)
    def probes_page(request: Request, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.PROBE_RUNS)
        p = period_of(period)
        runs = service.probe_runs(who, period=p, client=_client(request))
        return html("probes.html.j2", **ctx(request, who, s, "probe runs"), period=p, runs=runs)

    @app.get("/exports", include_in_schema=False)
    def exports_page(request: Request) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.DASHBOARD)
        guard(who, authz.EXPORT_READ)
        return html(
            "exports.html.j2",
            **ctx(request, who, s, "exports"),
            period=period_of(None),
            exports=service.exports(who),
        )

    @app.get("/tenant/{tenant}", include_in_schema=False)
    def tenant_page(request: Request, tenant: str, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        scope = guard(who, authz.FINDINGS, tenant)
        if scope not in service.tenants():
            raise PageError(404, "no such tenant")
        p = period_of(period)
        doc = assess(request, who, authz.FINDINGS, p, scope)
        exports = (
            [j for j in service.exports(who) if j.tenant == scope]
            if (who.role in authz.ALLOWED[authz.EXPORT_READ])
            else []
        )
        return html(
            "tenant.html.j2",
            **ctx(request, who, s, str(scope)),
            tenant=scope,
            period=p,
            exports=exports,
            failing=findings_of(doc["results"]),
        )

    @app.post("/exports", include_in_schema=False)
    def export_form(
        request: Request,
        csrf: Annotated[str, Form(max_length=200)],
        period: Annotated[str, Form(max_length=16)],
        framework: Annotated[str, Form(max_length=32)] = "",
        tenant: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        who, s = session_of(request)
        if not pg.csrf_ok(s.csrf, csrf):
            raise PageError(403, "missing or wrong CSRF token")
        try:
            job = service.request_export(
                who,
                period=Period.quarter(period),
                framework=framework or None,
                tenant=tenant or None,
                client=_client(request),
            )
        except authz.Forbidden as exc:
            raise PageError(403, str(exc)) from None
        except Busy as exc:
            raise PageError(429, str(exc)) from None
        except EdgeauditError as exc:
            raise PageError(400, str(exc)) from None
        to = f"/tenant/{job.tenant}" if who.role == "tenant" else "/exports"
        return RedirectResponse(to, status_code=303)

    @app.get("/exports/{job_id}/download", include_in_schema=False)
    def export_download(request: Request, job_id: str) -> Response:
        who, _ = session_of(request)
        try:
            job, path = service.download(who, job_id, _client(request))
        except authz.Forbidden as exc:
            raise PageError(403, str(exc)) from None
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        except Conflict as exc:
            raise PageError(409, str(exc)) from None
        name = f"edgeaudit-{job.tenant or 'site'}-{job.period_label.replace(' ', '')}.zip"
        return FileResponse(path, media_type="application/zip", filename=name.replace(":", ""))


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to
