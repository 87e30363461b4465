"""The pages' routes: sign-in, sessions, the dashboard, findings, probe runs, exports.

Every absolute URL (redirects, the verification steps a tenant copies) is built from
``--public-url``, never from the request's ``Host``. A refused page request (a bad session
token, CSRF, a failed sign-in, forbidden, an unknown export) is marked for the access.denied
record; a token's refusal reason goes to the server log, the browser is told "invalid token".
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from edgeaudit.errors import EdgeauditError
from edgeaudit.pack.period import Period
from edgeaudit.policy.statuses import findings as findings_of
from edgeaudit.serve import authz, params
from edgeaudit.serve import pages as pg
from edgeaudit.serve.edge import CLIENT, DENIED, PRINCIPAL_ID
from edgeaudit.serve.ratelimit import RateLimiter
from edgeaudit.serve.service import Busy, Conflict, EngineFailure, NotFound, Service
from edgeaudit.serve.sessions import Cookies, Session, csrf_ok
from edgeaudit.serve.tokens import INVALID, Principal, TokenError

log = logging.getLogger("edgeaudit.serve")
CSP = "default-src 'self'; style-src 'unsafe-inline'"


class PageError(Exception):
    def __init__(self, status: int, message: str, denied: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.denied = denied


class _Redirect(Exception):
    def __init__(self, to: str, denied: str | None = None) -> None:
        super().__init__(to)
        self.to = to
        self.denied = denied


def _client(request: Request) -> str:
    return str(request.scope.get(CLIENT) or (request.client.host if request.client else "?"))


def add_pages(app: FastAPI, service: Service) -> None:
    s_ = service.settings
    sessions = service.sessions
    sign_ins = RateLimiter(rate=1.0, burst=10)  # sign-in attempts per client address
    secure = s_.secure_cookies
    cookies = Cookies.for_(secure)
    base_url = s_.base_url.rstrip("/")

    def go(path: str) -> RedirectResponse:
        return RedirectResponse(base_url + path, status_code=303)

    def html(name: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        r = HTMLResponse(pg.render(name, **ctx), status_code=code)
        r.headers["Content-Security-Policy"] = CSP
        r.headers["X-Frame-Options"] = "DENY"
        r.headers["Cache-Control"] = "no-store"
        return r

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        if exc.denied:
            request.scope[DENIED] = exc.denied
        return html(
            "error.html.j2",
            exc.status,
            title="error",
            status=exc.status,
            message=exc.message,
            who=None,
        )

    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> RedirectResponse:
        if exc.denied:
            request.scope[DENIED] = exc.denied
        return go(exc.to)

    def session_of(request: Request) -> tuple[Principal, Session]:
        s = sessions.get(request.cookies.get(cookies.session))
        if s is None:
            raise _Redirect("/login")
        try:
            who = service.verifier.recheck(s.who)
        except TokenError as exc:
            sessions.drop(s.id)
            if exc.jti:
                request.scope[PRINCIPAL_ID] = exc.jti
            log.warning("page session ended: %s (token id %s)", exc.reason, exc.jti)
            raise _Redirect("/login", denied="invalid_token") from None
        request.scope[PRINCIPAL_ID] = who.jti
        if service.limiter.allow(who.jti) is not None:
            raise PageError(429, "too many requests")
        return who, s

    def period_of(text: str | None) -> Period:
        try:
            return params.quarter(text or pg.last_quarter())
        except EdgeauditError as exc:
            raise PageError(400, str(exc)) from None

    def ctx(who: Principal, s: Session, title: str) -> dict[str, Any]:
        keys = service.keys()
        return {
            "who": who,
            "csrf": s.csrf,
            "title": title,
            "base": base_url,
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
        except EngineFailure as exc:
            detail = f": {exc.detail}" if who.role == "officer" else ""
            raise PageError(
                503,
                f"the assessment of {period.label} failed (error id {exc.error_id}){detail}",
            ) from None

    def login_form(code: int, error: str | None) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        r = html("login.html.j2", code, title="sign in", login_csrf=token, who=None, error=error)
        r.set_cookie(
            cookies.login,
            token,
            max_age=600,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=cookies.login_path,
        )
        return r

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        who, _ = session_of(request)
        return go(f"/tenant/{who.tenant}" if who.role == "tenant" else "/dashboard")

    @app.get("/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return login_form(200, None)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=4096)],
        csrf: Annotated[str, Form(max_length=200)],
    ) -> Response:
        if not csrf_ok(request.cookies.get(cookies.login), csrf):
            raise PageError(
                403, "the sign-in form expired or was not sent from this site", denied="csrf"
            )
        if sign_ins.allow(_client(request)) is not None:
            raise PageError(429, "too many sign-in attempts")
        try:
            who = service.verifier.verify(token.strip())
        except TokenError as exc:
            if exc.jti:
                request.scope[PRINCIPAL_ID] = exc.jti
            request.scope[DENIED] = "sign_in"
            log.warning("sign-in refused: %s (token id %s)", exc.reason, exc.jti)
            return login_form(401, f"sign-in refused: {INVALID}")
        request.scope[PRINCIPAL_ID] = who.jti
        s = sessions.create(who)
        r2 = go(f"/tenant/{who.tenant}" if who.role == "tenant" else "/dashboard")
        r2.set_cookie(
            cookies.session,
            s.id,
            max_age=max(1, int(s.expires - time.time())),
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        r2.delete_cookie(
            cookies.login, path=cookies.login_path, secure=secure, httponly=True, samesite="strict"
        )
        return r2

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=200)]) -> Response:
        s = sessions.get(request.cookies.get(cookies.session))
        if s is None or not csrf_ok(s.csrf, csrf):
            raise PageError(403, "missing or wrong CSRF token", denied="csrf")
        sessions.drop(s.id)
        r = go("/login")
        r.delete_cookie(cookies.session, path="/", secure=secure, httponly=True, samesite="strict")
        return r

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_page(request: Request, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.DASHBOARD)
        p = period_of(period)
        action = authz.ASSESSMENTS if who.role != "security" else authz.FINDINGS
        doc = assess(request, who, action, p, None)
        return html(
            "dashboard.html.j2",
            **ctx(who, s, "dashboard"),
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
            **ctx(who, s, "findings"),
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
        return html("probes.html.j2", **ctx(who, s, "probe runs"), period=p, runs=runs)

    @app.get("/exports", include_in_schema=False)
    def exports_page(request: Request) -> HTMLResponse:
        who, s = session_of(request)
        guard(who, authz.DASHBOARD)
        guard(who, authz.EXPORT_READ)
        return html(
            "exports.html.j2",
            **ctx(who, s, "exports"),
            period=period_of(None),
            exports=service.exports(who),
        )

    @app.get("/tenant/{tenant}", include_in_schema=False)
    def tenant_page(request: Request, tenant: str, period: str | None = None) -> HTMLResponse:
        who, s = session_of(request)
        scope = guard(who, authz.FINDINGS, tenant[:64])
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
            **ctx(who, s, str(scope)),
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
        if not csrf_ok(s.csrf, csrf):
            raise PageError(403, "missing or wrong CSRF token", denied="csrf")
        try:
            job = service.request_export(
                who,
                period=params.quarter(period),
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
        return go(f"/tenant/{job.tenant}" if who.role == "tenant" else "/exports")

    @app.get("/exports/{job_id}/download", include_in_schema=False)
    def export_download(request: Request, job_id: str) -> Response:
        who, _ = session_of(request)
        try:
            job, path = service.download(who, params.job_id(job_id), _client(request))
        except authz.Forbidden as exc:
            raise PageError(403, str(exc)) from None
        except NotFound:
            raise PageError(404, "no such export", denied="unknown_export") from None
        except Conflict as exc:
            raise PageError(409, str(exc)) from None
        name = f"edgeaudit-{job.tenant or 'site'}-{job.period_label.replace(' ', '')}.zip"
        return FileResponse(path, media_type="application/zip", filename=name.replace(":", ""))
