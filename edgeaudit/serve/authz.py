"""Who may do what: one table, checked by every endpoint and page.

Roles: ``officer`` (compliance officer: everything), ``auditor`` (exports of any scope,
findings, assessments, probe runs, the log's entry bundles), ``security`` (findings and probe
runs, no evidence exports), ``tenant`` (its own exports and its own findings, nothing else). A
tenant asking for another tenant's data gets 403; another tenant's export job id answers 404,
as an unknown id does, so job ids cannot be probed.
"""

from __future__ import annotations

from typing import Final

from edgeaudit.serve.tokens import Principal

EXPORT_REQUEST: Final = "export.request"
EXPORT_READ: Final = "export.read"
FINDINGS: Final = "findings"
ASSESSMENTS: Final = "assessments"
PROBE_RUNS: Final = "probe-runs"
DASHBOARD: Final = "dashboard"
TILE_ENTRIES: Final = "tile.entries"
LOGS: Final = "logs"  # the list of logs served (own, mirrored pods')

ALLOWED: Final[dict[str, frozenset[str]]] = {
    EXPORT_REQUEST: frozenset({"officer", "auditor", "tenant"}),
    EXPORT_READ: frozenset({"officer", "auditor", "tenant"}),
    FINDINGS: frozenset({"officer", "auditor", "security", "tenant"}),
    ASSESSMENTS: frozenset({"officer", "auditor"}),
    PROBE_RUNS: frozenset({"officer", "auditor", "security"}),
    DASHBOARD: frozenset({"officer", "auditor", "security"}),
    TILE_ENTRIES: frozenset({"officer", "auditor"}),
    LOGS: frozenset({"officer", "auditor"}),
}


class Forbidden(Exception):
    """The principal may not do this (HTTP 403)."""


def require(principal: Principal, action: str) -> None:
    if principal.role not in ALLOWED[action]:
        raise Forbidden(f"role {principal.role} may not use {action}")


def scope_for(principal: Principal, action: str, tenant: str | None) -> str | None:
    """The tenant scope a request may use: tenants only their own (the default for them)."""
    require(principal, action)
    if principal.role == "tenant":
        if tenant is not None and tenant != principal.tenant:
            raise Forbidden("a tenant token may only use its own tenant's data")
        return principal.tenant
    return tenant


def may_see_job(principal: Principal, job_tenant: str | None) -> bool:
    if principal.role not in ALLOWED[EXPORT_READ]:
        return False
    return principal.role != "tenant" or job_tenant == principal.tenant
