"""Findings bound to the log: each result a pack carries names the ``policy.result`` entry the
assessment recorded for it (``record``: index and leaf hash), and the pack holds those entries
with their inclusion proofs. ``verify PACK`` then checks each result's id, rule, status,
scope, controls and citations against the proven entry, so turning a fail into a pass needs
the log key, not just the manifest key (docs/pack-format.md, "Findings bound to the log";
docs/adr/0012-findings-bound-to-the-log.md).

A pack's assessment must therefore have been recorded (``evaluate`` records by default; a
pack's own evaluation is recorded before the pack is built): ``pack build --findings FILE``
names a recorded assessment, and one that was not recorded, or whose results differ from what
was recorded, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import InputError
from edgeaudit.pack.period import Period
from edgeaudit.store.reader import LogReader
from edgeaudit.verify import pack_format as pf


@dataclass(frozen=True)
class Records:
    """The recorded entries of one assessment's results: result id -> (index, leaf hash hex)."""

    by_result: dict[str, tuple[int, str]]
    site_wide: frozenset[int]  # indexes of the records of site-wide results (no tenant)


def _bound(value: Mapping[str, Any], keys: tuple[str, ...]) -> bytes:
    return canonical_json({k: value.get(k) for k in keys if k in value})


def find_records(reader: LogReader, assessment_id: str, size: int) -> dict[str, Any]:
    """result id -> (index, leaf hash, the entry's parsed JSON) of every ``policy.result``
    entry of ``assessment_id`` in the tree of ``size``."""
    found: dict[str, Any] = {}
    for index, body, leaf in reader.select([pf.RECORD_KIND], None, None, size):
        rec = orjson.loads(body)
        header, result = rec.get("assessment") or {}, rec.get("result") or {}
        if str(header.get("id")) != assessment_id or not isinstance(result, dict):
            continue
        found.setdefault(str(result.get("id")), (index, bytes(leaf).hex(), rec))
    return found


def bind(
    doc: dict[str, Any], reader: LogReader, size: int, period: Period
) -> tuple[dict[str, Any], Records]:
    """``doc`` with each result's ``record``; an :class:`InputError` names the first result
    that the log does not record as the document states it."""
    header = doc["assessment"]
    aid = str(header.get("id"))
    found = find_records(reader, aid, size)
    if not found:
        raise InputError(
            f"findings: assessment {aid} is not recorded in the log: a pack's findings are the "
            "policy.result entries of a recorded assessment (run `edgeaudit evaluate` without "
            "--no-record, or build without --findings)"
        )
    any_record = next(iter(found.values()))[2]
    recorded_header = any_record.get("assessment") or {}
    for key in pf.ASSESSMENT_BOUND:
        if key in recorded_header and header.get(key) != recorded_header[key]:
            raise InputError(
                f"findings: assessment.{key} is {header.get(key)!r:.80}, the log recorded "
                f"{recorded_header[key]!r:.80}"
            )
    if (recorded_header.get("from"), recorded_header.get("to")) != (
        period.start_text,
        period.end_text,
    ):
        raise InputError(
            f"findings: assessment {aid} judged {recorded_header.get('from')} .. "
            f"{recorded_header.get('to')}, the pack's period is {period.start_text} .. "
            f"{period.end_text}"
        )
    results = []
    site_wide: set[int] = set()
    by_result: dict[str, tuple[int, str]] = {}
    for i, r in enumerate(doc["results"]):
        rid = str(r["id"])
        if rid not in found:
            raise InputError(
                f"findings: results[{i}] ({rid}) is not among the recorded results of "
                f"assessment {aid}"
            )
        index, leaf, rec = found[rid]
        if _bound(r, pf.RESULT_BOUND) != _bound(rec["result"], pf.RESULT_BOUND):
            raise InputError(
                f"findings: results[{i}] ({rid}) differs from the result recorded in log entry "
                f"{index} (in {', '.join(pf.RESULT_BOUND)})"
            )
        by_result[rid] = (index, leaf)
        if not (r.get("scope") or {}).get("tenant"):
            site_wide.add(index)
        results.append({**r, "record": {"index": index, "leaf_hash": leaf}})
    return {**doc, "results": results}, Records(by_result, frozenset(site_wide))
