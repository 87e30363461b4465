"""OSCAL 1.2.3 assessment results from the assessment document (docs/pack-format.md).

UUIDs are version 5, derived from the assessment id and the result ids, so the same assessment
gives the same document. Control ids become OSCAL tokens ``<framework>-<control>`` (for example
``iso27001-2022-a.8.2``, ``pci-dss-4.0.1-11.4.5``). Statuses other than pass/fail travel as
``props`` in edgeaudit's namespace; a result is ``satisfied`` only when it passed (a waiver is a
``risk`` with status ``deviation-approved``). Probe-backed controls are ``supported``, never
satisfied: their findings carry ``not-satisfied`` plus the prop.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from edgeaudit.pack.findings import ref_text
from edgeaudit.pack.period import Period
from edgeaudit.verify.pack_format import OSCAL_NS, control_token

__all__ = ["NS", "OSCAL_VERSION", "assessment_results", "control_token"]

NS: Final = OSCAL_NS
OSCAL_VERSION: Final = "1.2.3"  # the NIST schema version the tests validate against
_ROOT: Final = uuid.UUID("6b0d3f7e-64a4-5c1f-9a53-3d2f3e0e4f11")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_ROOT, "/".join(parts)))


def _datetime(value: object) -> str | None:
    """An OSCAL date-time with a zone: a bare date becomes its midnight UTC."""
    if not isinstance(value, str):
        return None
    if _DATE.fullmatch(value):
        return f"{value}T00:00:00Z"
    return value if _DATETIME.fullmatch(value) else None


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": value or "none"}


def assessment_results(
    doc: Mapping[str, Any], *, site: str, period: Period, campus: bool = False
) -> dict[str, Any]:
    """The OSCAL document of ``doc``; of a campus assessment (``campus``): a prop
    ``log-checkpoint`` (``<origin> <tree_size> <root hex>``) per judged log, and citations as
    ``ORIGIN#INDEX``."""
    a = doc["assessment"]
    aid = str(a.get("id") or "assessment")
    evaluated = str(a.get("evaluated_at") or period.end_text)
    controls = sorted({c for r in doc["results"] for c in r.get("controls", [])})
    result: dict[str, Any] = {
        "uuid": _uuid(aid, "result"),
        "title": f"edgeaudit assessment of {site}"
        + (f" for {a['tenant']}" if a.get("tenant") else ""),
        "description": f"Automated evaluation of the evidence log for {period.label}.",
        "start": str(a.get("from") or period.start_text),
        "end": str(a.get("to") or period.end_text),
        "props": [_prop("tree-size", str(a.get("tree_size", "")))]
        + [
            _prop("log-checkpoint", f"{x['origin']} {x['tree_size']} {x['root_hash']}")
            for x in (a.get("logs") or [] if campus else [])
        ],
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": control_token(c)} for c in controls]}
                if controls
                else {"include-all": {}}
            ]
        },
    }
    # each control's roll-up (the policy engine's one lattice), as the assessment states it
    rolled = {
        f"{c.get('framework')}:{c.get('control')}": str(c.get("status"))
        for c in doc.get("controls", [])
        if isinstance(c, Mapping)
    }
    observations, findings, risks = [], [], []
    for r in doc["results"]:
        rid = str(r["id"])
        obs_uuid = _uuid(aid, rid, "observation")
        waiver = r.get("waiver")
        waived = r["status"] == "waived" and isinstance(waiver, Mapping)
        risk_uuid = _uuid(aid, rid, "risk")
        evidence = r.get("evidence", [])
        observations.append(
            {
                "uuid": obs_uuid,
                "title": str(r.get("title") or rid),
                "description": str(r.get("reason") or r.get("title") or rid),
                "props": [
                    _prop("evidence-entries", " ".join(ref_text(e, campus) for e in evidence)),
                ],
                "methods": ["TEST" if r["status"] != "not-evaluated" else "UNKNOWN"],
                "collected": evaluated,
            }
        )
        for c in r.get("controls", []) or ["unmapped"]:
            finding: dict[str, Any] = {
                "uuid": _uuid(aid, rid, c),
                "title": f"{rid} {r.get('title') or r.get('rule') or ''}".strip(),
                "description": str(r.get("reason") or r.get("title") or rid),
                "props": [
                    _prop("result-id", rid),
                    _prop("status", str(r["status"])),
                    _prop("severity", str(r.get("severity") or "info")),
                    _prop("control-status", rolled.get(c, "not-evaluated")),
                ],
                "target": {
                    "type": "objective-id",
                    "target-id": control_token(c),
                    "status": {"state": "satisfied" if r["status"] == "pass" else "not-satisfied"},
                },
                "related-observations": [{"observation-uuid": obs_uuid}],
            }
            if waived:
                finding["related-risks"] = [{"risk-uuid": risk_uuid}]
            findings.append(finding)
        if waived and isinstance(waiver, Mapping):
            risk: dict[str, Any] = {
                "uuid": risk_uuid,
                "title": f"waiver for {rid}",
                "description": str(waiver.get("reason") or "waived"),
                "statement": str(r.get("reason") or "accepted risk"),
                "status": "deviation-approved",
            }
            deadline = _datetime(waiver.get("expires"))
            if deadline:
                risk["deadline"] = deadline
            risks.append(risk)
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    if risks:
        result["risks"] = risks
    return {
        "assessment-results": {
            "uuid": _uuid(aid),
            "metadata": {
                "title": f"edgeaudit assessment results: {site}, {period.label}",
                "last-modified": evaluated,
                "version": aid,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": "findings.json"},
            "results": [result],
        }
    }
