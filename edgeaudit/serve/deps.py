"""The routes' dependencies: the bearer token's principal, the own-log-only guard, and the
query parameters the routes share."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edgeaudit.serve.api_errors import ApiError
from edgeaudit.serve.edge import CLIENT, PRINCIPAL_ID
from edgeaudit.serve.logs import MAX_ORIGIN
from edgeaudit.serve.service import Service
from edgeaudit.serve.tokens import INVALID, Principal, TokenError

log = logging.getLogger("edgeaudit.serve")
ROLE = "edgeaudit.role"
API = "/api/v1"


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
