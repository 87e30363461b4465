"""The assessment is evidence: each result is appended as a ``policy.result`` entry (OCSF
Compliance Finding 2003), so the history of decisions is as tamper-evident as the evidence.
A re-run of the same assessment adds nothing (the fingerprint is assessment id + result id)."""

from __future__ import annotations

from typing import Any

from edgeaudit.events import prepare
from edgeaudit.policy.model import Assessment
from edgeaudit.store.log import EvidenceLog
from edgeaudit.store.values import AppendResult

SOURCE = "edgeaudit-policy"


def records(a: Assessment) -> list[dict[str, Any]]:
    header: dict[str, Any] = {
        "id": a.id,
        "from": a.start,
        "to": a.end,
        "tenant": a.tenant,
        "frameworks": list(a.frameworks),
        "tree_size": a.tree_size,
        "policy_digest": a.policy_digest,
        "engine": a.engine,
        "rules_version": a.rules_version,
        "policy_files": dict(a.policy_files),
        "site_wide_rules": list(a.site_wide_rules),
        "checkpoint": None
        if a.checkpoint is None
        else {"tree_size": a.checkpoint[0], "root_hash": a.checkpoint[1]},
    }
    if a.logs:  # a campus assessment: every log judged (the records go to the central log)
        header["logs"] = a.logs_json()
    if a.coverage is not None:  # and how much of each pod's evidence of the period it held
        header["coverage"] = a.coverage
    out = []
    for r in a.results:
        rec: dict[str, Any] = {
            "time": a.evaluated_at,
            "kind": "policy.result",
            "class_uid": 2003,
            "source": SOURCE,
            "outcome": {"pass": "success", "fail": "failure"}.get(r.status, "unknown"),
            "scope": [r.scope.tenant] if r.scope.tenant else [],
            "assessment": header,
            "result": r.to_dict(),
        }
        if r.scope.tenant:
            rec["tenant"] = r.scope.tenant
        out.append(rec)
    return out


def record(a: Assessment, log: EvidenceLog) -> AppendResult:
    """Append every result in one transaction (all or nothing)."""
    return log.append(
        prepare(rec, fingerprint=f"{SOURCE}:{a.id}:{rec['result']['id']}") for rec in records(a)
    )
