"""Assessments already recorded in the store (``policy.result`` entries), read back.

A pack reuses the latest assessment of the same period and tenant when nothing but that
assessment's own results was appended after it was made (the same snapshot of the evidence),
and only when it was made by the same engine (:data:`~edgeaudit.policy.model.ENGINE`: what the
statuses mean) from the same policy files (their digest); otherwise the caller evaluates
afresh, so a result recorded under an older meaning of a status is never reused silently.

A campus assessment's records (header member ``logs``, ADR 0018) are in the central log too:
a single-log lookup skips them, a campus lookup (``campus=``) takes only them, and reuses one
only while each pod's held checkpoint is still the one its ``logs`` name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from edgeaudit.policy.controls import Catalogue
from edgeaudit.policy.model import ENGINE
from edgeaudit.policy.summary import rollup_results
from edgeaudit.store.log import EvidenceLog


def latest_for_snapshot(
    log: EvidenceLog,
    start: str,
    end: str,
    tenant: str | None,
    catalogue: Catalogue,
    frameworks: Sequence[str] | None = None,
    *,
    policy_digest: str,
    mapped: set[str] | None = None,
    rules: Sequence[Mapping[str, Any]] = (),
    campus: Mapping[str, tuple[int, str]] | None = None,
) -> dict[str, Any] | None:
    """The assessment document (``Assessment.to_dict`` shape) of the latest recorded assessment
    of ``start``..``end`` for ``tenant`` that is still current, or None.

    ``campus``: a campus assessment's, whose pods (origin -> held checkpoint's size and root
    hex, every ``[[mirror]]``; a pod with none held: ``(0, root of the empty tree)``) are still
    at the sizes and roots its ``logs`` name (``log``'s own item is checked by the size rule)."""
    with log.reader() as reader:
        size, _ = reader.head()
        found: dict[str, list[dict[str, Any]]] = {}
        order: list[str] = []
        for _idx, body, _leaf in reader.select(["policy.result"], None, None, size):
            rec = orjson.loads(body)
            a = rec.get("assessment") or {}
            if a.get("from") != start or a.get("to") != end or a.get("tenant") != tenant:
                continue
            if ("logs" in a) != (campus is not None):
                continue  # a campus record for a single-log lookup, or the other way round
            aid = str(a.get("id"))
            if aid not in found:
                order.append(aid)
            found.setdefault(aid, []).append(rec)
    for aid in reversed(order):
        recs = found[aid]
        header = recs[0]["assessment"]
        if int(header["tree_size"]) + len(recs) != size:
            return None  # evidence arrived after the latest one: evaluate afresh
        if header.get("engine") != ENGINE or header.get("policy_digest") != policy_digest:
            return None  # another engine or other policy files: the statuses may differ
        if campus is not None and not _same_pods(header.get("logs"), log.origin, campus):
            return None  # a pod moved on (or was added, or dropped) since: evaluate afresh
        selected = tuple(frameworks or header.get("frameworks") or catalogue.framework_ids)
        results = [r["result"] for r in recs]
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return {
            "assessment": {
                **{k: header[k] for k in ("id", "from", "to", "tenant", "tree_size")},
                "frameworks": list(selected),
                "evaluated_at": recs[0]["time"],
                "policy_digest": header.get("policy_digest"),
                "engine": header.get("engine"),
                "rules_version": header.get("rules_version"),
                "policy_files": header.get("policy_files") or {},
                "site_wide_rules": header.get("site_wide_rules") or [],
                "checkpoint": header.get("checkpoint"),
                "counts": counts,
                "reused": True,
                **({"logs": header["logs"]} if campus is not None else {}),
                **({"coverage": header["coverage"]} if "coverage" in header else {}),
            },
            "rules": [dict(r) for r in rules],  # as described by the same policy files
            "results": results,
            "controls": [
                c.to_dict()
                for c in rollup_results(catalogue, selected, results, tenant=tenant, mapped=mapped)
            ],
        }
    return None


def _same_pods(logs: Any, own: str, pods: Mapping[str, tuple[int, str]]) -> bool:
    if not isinstance(logs, list) or not all(isinstance(x, dict) for x in logs):
        return False
    named = {str(x.get("origin")): (x.get("tree_size"), x.get("root_hash")) for x in logs}
    if own not in named or len(named) != len(logs):
        return False
    named.pop(own)
    return named == {o: (size, root) for o, (size, root) in pods.items()}
