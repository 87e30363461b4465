"""The one error shape of the HTTP API, and the OpenAPI extras of a route.

Every failure, whatever raised it, answers::

    {"error": {"status": 404, "code": "not_found", "message": "..."}}
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from edgeaudit.serve import authz
from edgeaudit.serve.tokens import ROLES

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
