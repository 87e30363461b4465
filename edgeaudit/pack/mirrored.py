"""A pack of a pod's log built from a central store that mirrors it (``pack build --log``).

The central workspace neither signs nor writes the pod's log: the pack is proven against a
checkpoint the pod's key signed (the newest the mirror holds, or ``--checkpoint FILE``), and its
findings are the pod's own recorded assessment of the period, read back from the
``policy.result`` entries the pod appended to its log and the mirror copied. The manifest is
signed with the central workspace's manifest key, as every pack it builds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from edgeaudit.errors import InputError
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.period import Period
from edgeaudit.store import EvidenceLog
from edgeaudit.verify import pack_format as pf

if TYPE_CHECKING:
    from edgeaudit.policy.files import Policies

# the members of a recorded assessment header (policy.result ``assessment``) a document keeps
_HEADER = (
    "id",
    "from",
    "to",
    "tenant",
    "frameworks",
    "tree_size",
    "policy_digest",
    "engine",
    "rules_version",
    "policy_files",
    "site_wide_rules",
    "checkpoint",
)


def pod_site(origin: str) -> str:
    """The site name a pod pack states: the last path segment of the pod's origin
    (``pods.example.net/north`` -> ``north``)."""
    tail = origin.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9-]+", "-", tail.lower()).strip("-") or "pod"


def state_name(origin: str) -> str:
    """The file under ``packs/`` keeping the checkpoint of the last pack built of ``origin``."""
    return "last-checkpoint-" + re.sub(r"[^A-Za-z0-9._-]+", "_", origin)


def recorded_assessment(
    log: EvidenceLog,
    period: Period,
    size: int,
    policies: Policies | None = None,
) -> dict[str, Any]:
    """The latest site assessment of ``period`` the pod recorded in ``log`` within the tree of
    ``size`` (the pack's checkpoint), as an assessment document. Its header and results are the
    recorded ones; the controls are rolled up by ``policies``' catalogue and its rules described
    when given (the rule descriptions only when the pod judged by the same policy files, same
    digest); without ``policies`` the document has no controls. :class:`InputError` (exit 2)
    when the pod recorded none."""
    start, end = period.start_text, period.end_text
    found: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    with log.reader() as reader:
        for _idx, body, _leaf in reader.select([pf.RECORD_KIND], None, None, size):
            rec = orjson.loads(body)
            a = rec.get("assessment") or {}
            if a.get("from") != start or a.get("to") != end or a.get("tenant") is not None:
                continue
            if "logs" in a:  # a campus assessment the pod recorded: not its own log's
                continue
            aid = str(a.get("id"))
            if aid not in found:
                order.append(aid)
            found.setdefault(aid, []).append(rec)
    if not order:
        raise InputError(
            f"log {log.origin} holds no recorded site assessment of {period.label} up to the "
            f"checkpoint of size {size}: the pod runs `edgeaudit evaluate` for the period (it "
            "records the results) and the mirror syncs them; or give the pod's `evaluate "
            "--json` with --findings FILE"
        )
    recs = found[order[-1]]
    header: dict[str, Any] = {k: recs[0]["assessment"].get(k) for k in _HEADER}
    results = [r["result"] for r in recs]
    header["evaluated_at"] = recs[0].get("time")
    header["counts"] = fnd.counts(results)
    frameworks: Sequence[str] = header.get("frameworks") or ()
    controls: list[dict[str, Any]] = []
    rules: list[Mapping[str, Any]] = []
    if policies is not None:
        from edgeaudit.policy.summary import rollup_results, rule_descriptions

        known = set(policies.catalogue.framework_ids)
        chosen = [f for f in frameworks if f in known]
        controls = [c.to_dict() for c in rollup_results(policies.catalogue, chosen, results)]
        if policies.digest == header.get("policy_digest"):
            rules = list(rule_descriptions(policies))
    return {
        "assessment": header,
        "results": results,
        "controls": controls,
        "rules": [dict(r) for r in rules],
    }
