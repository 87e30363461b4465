"""The assessment document (the policy engine's output) as the pack carries it.

Validated at the boundary (an :class:`InputError` names the field), restricted to a tenant's
results for tenant packs (other tenants' identifiers replaced by neutral labels, control
statuses and the assessment's counts recomputed from the results kept), and written as
``findings.json`` and ``findings.csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.statuses import (
    CONTROL_NOT_EVALUATED,
    FAIL,
    NOT_EVALUATED,
    NOT_SATISFIED,
    SATISFIED,
    SATISFIED_EXC,
    STALE,
    STATUSES,
    SUPPORTED,
    SUPPORTED_EXC,
    WAIVED,
    control_status,
)
from edgeaudit.verify.pack_format import FINDINGS_CSV_COLUMNS, FINDINGS_CSV_COLUMNS_V3, HASH_HEX


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
            if "origin" in ev:  # a campus assessment's reference names its log
                _need(ev.get("origin"), str, f"{where}.evidence[{j}].origin")
    _need(doc.get("controls", []), list, "controls")
    return doc


def cited(doc: Mapping[str, Any]) -> dict[int, str]:
    """Every evidence entry the results cite: index -> leaf hash (hex)."""
    out: dict[int, str] = {}
    for r in doc["results"]:
        for ev in r.get("evidence", []):
            out[ev["index"]] = ev["leaf_hash"]
    return out


def counts(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Results per status (every status, zeros included: the engine's ``counts`` shape)."""
    statuses = [str(r.get("status")) for r in results]
    return {s: statuses.count(s) for s in STATUSES}


def carried(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An assessment document as a pack carries it: the header without ``reused`` (a fact of
    the lookup, not of the assessment) and with the results counted per status."""
    header = {k: v for k, v in doc["assessment"].items() if k != "reused"}
    header["counts"] = counts(doc["results"])
    return {**doc, "assessment": header}


_NO_RULE = "no automated rule maps to this control"
_SUPPORTS = "automated evidence supports this control; it calls for a qualified, independent tester"


def _tenant_control(
    control: Mapping[str, Any], kept: list[Mapping[str, Any]], tenant: str, supports_only: bool
) -> dict[str, Any]:
    """A control in a tenant's view: its status by the policy engine's one lattice from the
    results the tenant sees (site-wide results alone never satisfy a tenant's control), and its
    note worded as the engine's own tenant view words it (``summary.rollup_results``), from
    those results alone: the site's note counts other tenants' results."""
    out = {k: v for k, v in control.items() if k != "note"}
    out["results"] = [str(r["id"]) for r in kept]
    status = control_status((str(r["status"]) for r in kept), supports_only)
    n = len(kept)
    note: str | None = None
    if not kept:
        site_note = str(control.get("note") or "")
        if control.get("results") or not site_note.startswith(_NO_RULE):  # some rule maps to it
            note = f"its rules gave no result in this scope (none about {tenant})"
        else:
            note = _NO_RULE
    elif status in (SATISFIED, SATISFIED_EXC, SUPPORTED, SUPPORTED_EXC) and not any(
        (r.get("scope") or {}).get("tenant") == tenant for r in kept
    ):
        status = CONTROL_NOT_EVALUATED
        note = f"only site-wide results: no evidence of {tenant}'s own for this control"
    elif status == NOT_SATISFIED:
        note = f"{sum(1 for r in kept if r['status'] == FAIL)} of {n} results fail"
    elif status == CONTROL_NOT_EVALUATED:
        bad = sum(1 for r in kept if r["status"] in (NOT_EVALUATED, STALE))
        note = f"{bad} of {n} results not evaluated or stale"
    elif status in (SATISFIED_EXC, SUPPORTED_EXC):
        waived = sum(1 for r in kept if r["status"] == WAIVED)
        note = f"{waived} of {n} results waived (accepted exceptions)"
    if supports_only and status in (SUPPORTED, SUPPORTED_EXC):
        note = f"{note}; {_SUPPORTS}" if note else _SUPPORTS
    out["status"] = status
    if note:
        out["note"] = note
    return out


def _supports_only(control: Mapping[str, Any], refs: Collection[str] | None) -> bool:
    """Whether automated evidence can only support ``control``: from the catalogue's refs when
    given, else from what the site document shows (a supported status, or the engine's note)."""
    if refs is not None:
        return f"{control.get('framework')}:{control.get('control')}" in refs
    return str(control.get("status")).startswith("supported") or _SUPPORTS in str(
        control.get("note") or ""
    )


def _for_tenant(result: Mapping[str, Any], view: TenantView, site_wide: frozenset[str]) -> bool:
    """The policy engine's one rule (``engine.tenant_sees``): the tenant's own results, and the
    site-wide results (no tenant in scope) of the rules the assessment lists as site-wide."""
    scope = result.get("scope")
    if not isinstance(scope, Mapping):
        return False
    if scope.get("tenant") is not None:
        return bool(scope["tenant"] == view.tenant)
    return str(result.get("rule")) in site_wide


def for_view(
    doc: dict[str, Any], view: TenantView, supports_only: Collection[str] | None = None
) -> dict[str, Any]:
    """The document a pack of ``view`` carries: everything for the site; T's results for T.

    A tenant's document says nothing about the results it does not keep: control statuses,
    their notes and the assessment's ``counts`` are recomputed from the kept results alone
    (the site's would tell a tenant how many failures the other tenants have).
    ``supports_only``: the refs (``framework:control``) of the controls automated evidence only
    supports (the catalogue's ``supports_only``); None: inferred from the site document."""
    if view.tenant is None:
        return doc
    listed = doc["assessment"].get("site_wide_rules")
    site_wide = frozenset(str(x) for x in listed) if isinstance(listed, list) else frozenset()
    kept = [r for r in doc["results"] if _for_tenant(r, view, site_wide)]
    by_id = {r["id"]: r for r in kept}
    controls = [
        _tenant_control(
            c,
            [by_id[rid] for rid in c.get("results", []) if rid in by_id],
            view.tenant,
            _supports_only(c, supports_only),
        )
        for c in doc.get("controls", [])
    ]
    out = {
        "assessment": {**doc["assessment"], "tenant": view.tenant, "counts": counts(kept)},
        # the rules as run (procedures, populations, parameters): redacted like the rest
        "rules": list(doc.get("rules", [])),
        "results": kept,
        "controls": controls,
    }
    redacted: dict[str, Any] = view.redact_value(out)
    # leaf hashes and ids are not identifiers; redact_value leaves hex and R-ids unchanged.
    return redacted


def ref_text(ev: Mapping[str, Any], campus: bool = False) -> str:
    """A citation as text: its index, or ``ORIGIN#INDEX`` in a campus pack."""
    return f"{ev['origin']}#{ev['index']}" if campus else str(ev["index"])


def to_csv(doc: Mapping[str, Any], campus: bool = False) -> bytes:
    """``findings.csv``; a campus pack's has the column ``log`` (scope.log) after ``key`` and
    cites ``ORIGIN#INDEX``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FINDINGS_CSV_COLUMNS_V3 if campus else FINDINGS_CSV_COLUMNS)
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
                *([scope.get("log") or ""] if campus else []),
                " ".join(ref_text(e, campus) for e in r.get("evidence", [])),
                r.get("reason", ""),
            ]
        )
    return buf.getvalue().encode("utf-8")
