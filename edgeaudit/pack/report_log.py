"""What a pack's report says about its log beyond the evidence: the quarantine per source kind
and reason, and the period's failing results a later period's recorded assessment shows
passing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeaudit.pack.period import Period
from edgeaudit.store import EvidenceLog


def quarantine_summary(log: EvidenceLog) -> list[tuple[str, str, int]]:
    """The quarantine per (source kind, reason) with counts, for the report's data quality."""
    with log.reader() as reader:
        return [(str(k), str(r), int(n)) for k, r, n in reader.quarantine_counts()]


def remediated(
    log: EvidenceLog, doc: Mapping[str, Any] | None, period: Period, size: int
) -> dict[str, str]:
    """Failing results of the period that a later period's recorded assessment shows passing:
    result id -> where (the later assessment and the log entry of its passing result)."""
    if doc is None:
        return {}
    failing = {str(r["id"]) for r in doc["results"] if r.get("status") == "fail"}
    if not failing:
        return {}
    import orjson

    out: dict[str, str] = {}
    with log.reader() as reader:
        for index, body, _leaf in reader.select(["policy.result"], None, None, size):
            rec = orjson.loads(body)
            a, r = rec.get("assessment") or {}, rec.get("result") or {}
            rid = str(r.get("id"))
            if rid not in failing or r.get("status") != "pass":
                continue
            if "logs" in a:  # a campus assessment's result: not this log's own
                continue
            if str(a.get("from") or "") < period.end_text:
                continue  # not a later period
            out[rid] = (
                f"remediated after the period: passed in the assessment of {a.get('from')} to "
                f"{a.get('to')} (log entry E-{index})"
            )
    return out
