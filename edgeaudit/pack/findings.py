"""The assessment document (the policy engine's output) as the pack carries it.

Validated at the boundary (an :class:`InputError` names the field), restricted to a tenant's
results for tenant packs (other tenants' identifiers replaced by neutral labels, control
statuses recomputed from the results kept), and written as ``findings.json`` and
``findings.csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.statuses import (
    CONTROL_NOT_EVALUATED,
    NOT_SATISFIED,
    STATUSES,
    control_status,
)
from edgeaudit.verify.pack_format import FINDINGS_CSV_COLUMNS, HASH_HEX


def _need(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"findings: {where}: expected {kind.__name__}, found {value!r:.60}")
    return value


def validate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A checked plain copy of an assessment document."""
    doc = dict(_need(doc, Mapping, "$"))
    _need(doc.get("assessment"), Mapping, "assessment")
    results = _need(doc.get("results"), list, "results")
    seen: set[str] = set()
    for i, r in enumerate(results):
        where = f"results[{i}]"
        _need(r, Mapping, where)
        rid = _need(r.get("id"), str, f"{where}.id")
        if rid in seen:
            raise InputError(f"findings: {where}.id: {rid!r} appears twice")
        seen.add(rid)
        if r.get("status") not in STATUSES:
            raise InputError(
                f"findings: {where}.status: {r.get('status')!r} is not one of {sorted(STATUSES)}"
            )
        for j, ev in enumerate(_need(r.get("evidence", []), list, f"{where}.evidence")):
            _need(ev, Mapping, f"{where}.evidence[{j}]")
            idx = _need(ev.get("index"), int, f"{where}.evidence[{j}].index")
            if idx < 0:
                raise InputError(f"findings: {where}.evidence[{j}].index is negative")
            leaf = _need(ev.get("leaf_hash"), str, f"{where}.evidence[{j}].leaf_hash")
            if not HASH_HEX.fullmatch(leaf):
                raise InputError(f"findings: {where}.evidence[{j}].leaf_hash is not 64 hex digits")
    _need(doc.get("controls", []), list, "controls")
    return doc


def cited(doc: Mapping[str, Any]) -> dict[int, str]:
    """Every evidence entry the results cite: index -> leaf hash (hex)."""
    out: dict[int, str] = {}
    for r in doc["results"]:
        for ev in r.get("evidence", []):
            out[ev["index"]] = ev["leaf_hash"]
    return out


def _control_status(original: str, kept: list[Mapping[str, Any]], tenant: str) -> str:
    """A control's status in a tenant's view, by the policy engine's one lattice, from the
    results the tenant sees; site-wide results alone never satisfy a tenant's control."""
    supports_only = original.startswith("supported")
    if not kept:
        return CONTROL_NOT_EVALUATED
    status = control_status((str(r["status"]) for r in kept), supports_only)
    own = any((r.get("scope") or {}).get("tenant") == tenant for r in kept)
    if status != NOT_SATISFIED and not own:
        return CONTROL_NOT_EVALUATED
    return status


def _for_tenant(result: Mapping[str, Any], view: TenantView, site_wide: frozenset[str]) -> bool:
    """The policy engine's one rule (``engine.tenant_sees``): the tenant's own results, and the
    site-wide results (no tenant in scope) of the rules the assessment lists as site-wide."""
    scope = result.get("scope")
    if not isinstance(scope, Mapping):
        return False
    if scope.get("tenant") is not None:
        return bool(scope["tenant"] == view.tenant)
    return str(result.get("rule")) in site_wide


def for_view(doc: dict[str, Any], view: TenantView) -> dict[str, Any]:
    """The document a pack of ``view`` carries: everything for the site; T's results for T."""
    if view.tenant is None:
        return doc
    listed = doc["assessment"].get("site_wide_rules")
    site_wide = frozenset(str(x) for x in listed) if isinstance(listed, list) else frozenset()
    kept = [r for r in doc["results"] if _for_tenant(r, view, site_wide)]
    by_id = {r["id"]: r for r in kept}
    controls = []
    for c in doc.get("controls", []):
        ids = [rid for rid in c.get("results", []) if rid in by_id]
        assert view.tenant is not None
        controls.append(
            {
                **c,
                "results": ids,
                "status": _control_status(
                    str(c.get("status")), [by_id[i] for i in ids], view.tenant
                ),
            }
        )
    out = {
        "assessment": {**doc["assessment"], "tenant": view.tenant},
        "results": kept,
        "controls": controls,
    }
    redacted: dict[str, Any] = view.redact_value(out)
    # leaf hashes and ids are not identifiers; redact_value leaves hex and R-ids unchanged.
    return redacted


def to_csv(doc: Mapping[str, Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FINDINGS_CSV_COLUMNS)
    for r in doc["results"]:
        scope = r.get("scope") if isinstance(r.get("scope"), Mapping) else {}
        writer.writerow(
            [
                r["id"],
                r.get("rule", ""),
                r["status"],
                r.get("severity", ""),
                r.get("title", ""),
                " ".join(r.get("controls", [])),
                scope.get("tenant") or "",
                scope.get("asset") or "",
                scope.get("principal") or "",
                scope.get("segment") or "",
                scope.get("key") or "",
                " ".join(str(e["index"]) for e in r.get("evidence", [])),
                r.get("reason", ""),
            ]
        )
    return buf.getvalue().encode("utf-8")
