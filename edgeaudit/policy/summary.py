"""What an assessment states besides its results: the status of each control of the selected
frameworks, rolled up from the results by the one lattice of :func:`statuses.control_status`
(:func:`rollup_results`), and each rule as it ran, with its test procedure in words
(:func:`rule_descriptions`). Used by the engine (:mod:`edgeaudit.policy.engine`), the recorded
assessments and packs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgeaudit.policy.controls import Catalogue
from edgeaudit.policy.files import Policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, STALE, WAIVED, ControlStatus
from edgeaudit.policy.procedures import procedure
from edgeaudit.policy.statuses import (
    CONTROL_NOT_EVALUATED,
    NOT_SATISFIED,
    SATISFIED,
    SATISFIED_EXC,
    SUPPORTED,
    SUPPORTED_EXC,
    control_status,
)


def rule_descriptions(policies: Policies) -> tuple[dict[str, Any], ...]:
    """Each rule as it ran, with its test procedure and population in words (packs state them
    so an auditor can re-perform the test)."""
    out = []
    for rule in policies.rules.rules:
        how, population = procedure(rule.check, rule.title)
        out.append(
            {
                "id": rule.id,
                "check": rule.check,
                "title": rule.title,
                "activity": rule.activity,
                "severity": rule.severity,
                "site_wide": rule.site_wide,
                "params": {k: _param_json(v) for k, v in rule.params},
                "procedure": how,
                "population": population,
            }
        )
    return tuple(out)


def _param_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_param_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _param_json(v) for k, v in value.items()}
    return value


def rollup_results(
    catalogue: Catalogue,
    frameworks: Sequence[str],
    results: Sequence[Mapping[str, Any]],
    *,
    tenant: str | None = None,
    mapped: set[str] | None = None,
) -> list[ControlStatus]:
    """Status per control of ``frameworks`` from results (``Result.to_dict`` shape: id, status,
    controls, scope) by the one lattice of :func:`statuses.control_status`.

    ``tenant``: a tenant's view, where a control whose results are all site-wide (no scope of
    the tenant's own) is not evaluated: the tenant's controls are not satisfied by site-wide
    checks alone. ``mapped``: the control refs some rule maps to (so a control without results
    is told apart from one no rule covers)."""
    by_control: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        for ref in r["controls"]:
            by_control.setdefault(ref, []).append(r)
    out = []
    for ctl in catalogue.controls:
        if ctl.framework not in frameworks:
            continue
        rs = by_control.get(ctl.ref, [])
        status = control_status((r["status"] for r in rs), ctl.supports_only)
        note = None
        if not rs:
            if mapped is not None and ctl.ref in mapped:
                note = "its rules gave no result in this scope" + (
                    f" (none about {tenant})" if tenant else ""
                )
            else:
                note = "no automated rule maps to this control"
        elif (
            tenant is not None
            and status in (SATISFIED, SATISFIED_EXC, SUPPORTED, SUPPORTED_EXC)
            and not any((r.get("scope") or {}).get("tenant") == tenant for r in rs)
        ):
            status = CONTROL_NOT_EVALUATED
            note = f"only site-wide results: no evidence of {tenant}'s own for this control"
        elif status == NOT_SATISFIED:
            n = sum(1 for r in rs if r["status"] == FAIL)
            note = f"{n} of {len(rs)} results fail"
        elif status == CONTROL_NOT_EVALUATED:
            n = sum(1 for r in rs if r["status"] in (NOT_EVALUATED, STALE))
            note = f"{n} of {len(rs)} results not evaluated or stale"
        elif status in (SATISFIED_EXC, SUPPORTED_EXC):
            n = sum(1 for r in rs if r["status"] == WAIVED)
            note = f"{n} of {len(rs)} results waived (accepted exceptions)"
        if ctl.supports_only and status in (SUPPORTED, SUPPORTED_EXC):
            extra = (
                "automated evidence supports this control; "
                "it calls for a qualified, independent tester"
            )
            note = f"{note}; {extra}" if note else extra
        out.append(
            ControlStatus(
                ctl.framework, ctl.id, ctl.title, status, tuple(r["id"] for r in rs), note
            )
        )
    return out
