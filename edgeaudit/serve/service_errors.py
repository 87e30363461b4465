"""The service's exceptions (the HTTP layer maps each to its status)."""

from __future__ import annotations

import uuid


class NotFound(Exception):
    """HTTP 404."""


class Conflict(Exception):
    """HTTP 409."""


class UnknownExport(NotFound):
    """HTTP 404 for an export id the caller may not see (unknown or another tenant's)."""


class Busy(Exception):
    """HTTP 429: too many exports waiting for this scope."""


class EngineFailure(Exception):
    """The policy engine failed on a period's evidence (not the caller's input): the caller is
    told the error id; the detail is in the server log (and shown to officers)."""

    def __init__(self, error_id: str, detail: str) -> None:
        super().__init__(detail)
        self.error_id = error_id
        self.detail = detail


def error_id() -> str:
    return uuid.uuid4().hex[:12]
