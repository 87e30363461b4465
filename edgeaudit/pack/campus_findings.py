"""The findings of a campus pack (``pack build --campus``): the campus assessment bound to its
``policy.result`` records in the central log, restricted to a tenant's view, each record
naming the central origin; what it cites per origin; and its JSON, CSV and OSCAL files
(docs/pack-format.md, "Campus packs")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import InputError
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.assessment import filter_frameworks as _filter_frameworks
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import EvidenceLog
from edgeaudit.verify import pack_format as pf

if TYPE_CHECKING:
    from edgeaudit.pack.campus import CampusRequest
    from edgeaudit.pack.campus_pods import Pod


def cited_by_origin(doc: Mapping[str, Any] | None, central: str) -> dict[str, dict[int, str]]:
    """origin -> {index: leaf hash} of every entry the results cite, and the central log's
    records of the results."""
    out: dict[str, dict[int, str]] = {}
    if doc is None:
        return out
    for r in doc["results"]:
        for e in r.get("evidence", []):
            out.setdefault(str(e.get("origin")), {})[int(e["index"])] = str(e["leaf_hash"])
        rec = r["record"]
        out.setdefault(central, {})[int(rec["index"])] = str(rec["leaf_hash"])
    return out


def campus_findings(
    log: EvidenceLog, request: CampusRequest, view: TenantView, central: str
) -> tuple[dict[str, Any] | None, frozenset[int]]:
    """The campus assessment bound to its records in the central log, restricted to the
    tenant's view; and the record indexes of its site-wide results."""
    if request.findings is None:
        return None, frozenset()
    from edgeaudit.pack.records import bind

    site_doc = _filter_frameworks(fnd.validate(request.findings), request.frameworks)
    if not isinstance(site_doc["assessment"].get("logs"), list):
        raise InputError(
            "findings: not a campus assessment (its header has no logs); a campus pack "
            "carries the assessment of `edgeaudit evaluate --campus`"
        )
    if not isinstance(site_doc["assessment"].get("coverage"), dict):
        raise InputError(
            "findings: the campus assessment states no coverage of the period (made before "
            "coverage was judged); run `edgeaudit evaluate --campus` for the period again"
        )
    with log.reader() as reader:
        site_doc, records = bind(site_doc, reader, reader.head()[0], request.period)
    results = [{**r, "record": {**r["record"], "origin": central}} for r in site_doc["results"]]
    doc = fnd.for_view({**site_doc, "results": results}, view, request.supports_only)
    return doc, records.site_wide


def check_citations(
    doc: Mapping[str, Any] | None, central_size: int, pods: Sequence[Pod], central: str
) -> None:
    """Every citation names a log of the pack, below the size the pack proves it at."""
    if doc is None:
        return
    sizes = {central: central_size, **{p.mirror.origin: p.held.tree_size for p in pods}}
    for r in doc["results"]:
        for e in r.get("evidence", []):
            origin = e.get("origin")
            if origin not in sizes:
                raise InputError(
                    f"finding {r['id']} cites log {origin!r}, which is neither this workspace's "
                    "nor a [[mirror]] of edgeaudit.toml"
                )
            if e["index"] >= sizes[origin]:
                raise InputError(
                    f"finding {r['id']} cites {origin}#{e['index']}, beyond the checkpoint of "
                    f"size {sizes[origin]} the pack proves that log at"
                )


def write_findings(
    work: Path, doc: Mapping[str, Any], site: str, period: Period, names: list[str]
) -> None:
    from edgeaudit.pack.oscal import assessment_results

    (work / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    (work / pf.FINDINGS_CSV).write_bytes(fnd.to_csv(doc, campus=True))
    oscal = assessment_results(doc, site=site, period=period, campus=True)
    (work / pf.OSCAL).write_bytes(canonical_json(oscal))
    names += [pf.FINDINGS_JSON, pf.FINDINGS_CSV, pf.OSCAL]
