"""The exception handlers: every failure, whatever raised it (routing, validation,
authorization, the body limit, the rate limit, a bug), answers in the one error shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.serve import authz
from edgeaudit.serve.api_errors import ApiError, error_response
from edgeaudit.serve.deps import ROLE
from edgeaudit.serve.edge import DENIED, LOGGED
from edgeaudit.serve.service import (
    Busy,
    Conflict,
    EngineFailure,
    NotFound,
    UnknownExport,
    error_id,
)

log = logging.getLogger("edgeaudit.serve")


def add_exception_handlers(app: FastAPI) -> None:
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
