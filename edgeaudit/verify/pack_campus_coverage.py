"""``verify PACK`` of a campus pack: the assessment's ``coverage`` (docs/pack-format.md,
"Coverage"; ADR 0018, "Coverage of the period"). Every pod the assessment judged is listed
with the state the engine gave it, consistent with its judged size and the stated times; and
while one pod is not covered no event check's result (a result whose scope names no ``log``)
is a pass. The header is bound to the central log's records like the rest of
``assessment`` (``ASSESSMENT_BOUND``).

Verify side: no signing code, no database, no policy engine (the state names are repeated
here, as the format doc states them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_files import PackReport

COVERED: Final = "covered"
NEVER_SYNCED: Final = "never-synced"
STATES: Final = (COVERED, "behind", NEVER_SYNCED, "forked")
ITEM: Final = frozenset({"origin", "state", "tree_size", "last_entry", "verified_at"})


def _time(value: Any) -> datetime | None:
    """An RFC 3339 UTC time (``...Z``), else None."""
    if not isinstance(value, str) or not value.endswith("Z") or "T" not in value:
        return None
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        return None


def check_coverage(doc: dict[str, Any] | None, central: str, report: PackReport) -> None:
    """Check ``doc``'s ``assessment.coverage`` against its ``logs`` and its results."""
    if doc is None:
        return
    header = doc.get("assessment")
    if not isinstance(header, dict):
        return  # reported by load_findings
    cov = header.get("coverage")
    if not isinstance(cov, dict) or set(cov) != {"until", "pods"}:
        report.add(
            pf.FINDINGS_JSON,
            "assessment.coverage is missing or not {until, pods}: a campus assessment states "
            "how much of each pod's evidence of the period it held",
        )
        return
    until = _until(header, cov.get("until"), report)
    logs = header.get("logs")
    judged = {
        str(x.get("origin")): x.get("tree_size")
        for x in (logs if isinstance(logs, list) else [])
        if isinstance(x, dict) and x.get("origin") != central
    }
    pods = cov.get("pods")
    if not isinstance(pods, list):
        report.add(pf.FINDINGS_JSON, "assessment.coverage.pods is not a list")
        return
    order = [p.get("origin") if isinstance(p, dict) else None for p in pods]
    if order != sorted(judged):
        report.add(
            pf.FINDINGS_JSON,
            f"assessment.coverage.pods names {order}, the pods judged (assessment.logs, sorted) "
            f"are {sorted(judged)}",
        )
    uncovered: list[str] = []
    for i, item in enumerate(pods):
        state = _item(i, item, judged, until, report)
        if state != COVERED:
            uncovered.append(str(item.get("origin")) if isinstance(item, dict) else f"pods[{i}]")
    if uncovered:
        _no_pass(doc, uncovered, report)


def _until(header: dict[str, Any], value: Any, report: PackReport) -> datetime | None:
    """``until``: the period's end, or the evaluation time before it (the period had not
    ended)."""
    until, end, at = _time(value), _time(header.get("to")), _time(header.get("evaluated_at"))
    if until is None or end is None or not (until == end or (until == at and until < end)):
        report.add(
            pf.FINDINGS_JSON,
            f"assessment.coverage.until is {value!r:.40}: it is the period's end "
            f"({header.get('to')!r:.40}), or the evaluation time when that was before it",
        )
        return None
    return until


def _item(
    i: int, item: Any, judged: dict[str, Any], until: datetime | None, report: PackReport
) -> str | None:
    where = f"assessment.coverage.pods[{i}]"
    if not isinstance(item, dict) or set(item) != ITEM:
        report.add(pf.FINDINGS_JSON, f"{where} is not {{{', '.join(sorted(ITEM))}}}")
        return None
    origin, state, size = item["origin"], item["state"], item["tree_size"]
    problem = None
    verified, last = _time(item["verified_at"]), item["last_entry"]
    if state not in STATES:
        problem = f"state {state!r} is not one of {', '.join(STATES)}"
    elif origin in judged and size != judged[origin]:
        problem = f"tree_size {size!r} is not the size judged in assessment.logs ({judged[origin]})"
    elif state == NEVER_SYNCED and size != 0:
        problem = f"state {state} at tree_size {size}: a pod never synced has none of its log "
        problem += "held"
    elif item["verified_at"] is not None and verified is None:
        problem = f"verified_at {item['verified_at']!r:.40} is not an RFC 3339 UTC time"
    elif last is not None and not isinstance(last, str):
        problem = f"last_entry {last!r:.40} is not a time as the entry states it"
    elif state == COVERED and (verified is None or until is None or verified < until):
        problem = f"is covered, but verified_at {item['verified_at']!r} is not at or after "
        problem += "assessment.coverage.until"
    if problem is not None:
        report.add(pf.FINDINGS_JSON, f"{where} ({origin!r:.60}): {problem}")
    return str(state) if problem is None else None


def _no_pass(doc: dict[str, Any], uncovered: list[str], report: PackReport) -> None:
    for r in doc.get("results") or []:
        if not isinstance(r, dict) or r.get("status") != "pass":
            continue
        scope = r.get("scope")
        if isinstance(scope, dict) and "log" in scope:
            continue  # a per-log result: about that log's held copy
        report.add(
            pf.FINDINGS_JSON,
            f"result {r.get('id')} ({r.get('rule')}) is a pass while the campus does not hold "
            f"all of the period's evidence of {', '.join(uncovered)} (assessment.coverage): "
            "a pass from absence",
        )
