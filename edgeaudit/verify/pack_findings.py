"""``findings.json``, ``findings.csv`` and the OSCAL file of an audit pack, bound to the log:
every result must be that of a proven ``policy.result`` entry (docs/pack-format.md, "Findings
bound to the log").

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import orjson

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_entries import Cited
from edgeaudit.verify.pack_files import PackFiles, PackReport


def _canonical(raw: bytes, value: Any) -> bool:
    try:
        return canonical_json(value) == raw
    except CanonicalError:
        return False


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ref(value: Any) -> tuple[int, str] | None:
    if not isinstance(value, dict):
        return None
    idx, leaf = value.get("index"), value.get("leaf_hash")
    if isinstance(idx, bool) or not isinstance(idx, int) or not isinstance(leaf, str):
        return None
    return idx, leaf


def load_findings(
    files: PackFiles, manifest: dict[str, Any], report: PackReport
) -> tuple[dict[str, Any] | None, Cited]:
    """The assessment document, and what its results cite (evidence and records)."""
    found = Cited()
    if not files.has(pf.FINDINGS_JSON):
        return None, found
    try:
        raw = files.read(pf.FINDINGS_JSON)
        doc = json.loads(raw)
        results = doc["results"]
        if not isinstance(results, list) or not isinstance(doc.get("assessment"), dict):
            raise TypeError("results is not a list or assessment not an object")
    except (ValueError, KeyError, TypeError) as exc:
        report.add(pf.FINDINGS_JSON, f"not an assessment document ({exc})")
        return None, found
    if not _canonical(raw, doc):
        report.add(pf.FINDINGS_JSON, "is not canonical JSON (RFC 8785)")
    site_wide = _site_wide(doc)
    seen: set[str] = set()
    unbound = 0
    campus = manifest.get("format") == pf.FORMAT_V3
    for i, r in enumerate(results):
        rid = str(r.get("id")) if isinstance(r, dict) else None
        if not isinstance(r, dict) or rid is None:
            report.add(pf.FINDINGS_JSON, f"results[{i}] is not a result object")
            continue
        if rid in seen:
            report.add(pf.FINDINGS_JSON, f"results[{i}] ({rid}) appears twice")
        seen.add(rid)
        for j, ev in enumerate(
            r.get("evidence", []) if isinstance(r.get("evidence"), list) else []
        ):
            ref = _ref(ev)
            if ref is None:
                report.add(pf.FINDINGS_JSON, f"results[{i}] ({rid}) evidence[{j}] is malformed")
                continue
            if not campus and "origin" in ev:
                _origin_refused(f"results[{i}] ({rid}) evidence[{j}]", manifest, report)
                continue
            if not campus:  # a campus pack's citations go to the part of their origin
                found.refs.setdefault(ref[0], []).append((rid, ref[1]))
        if not campus and isinstance(r.get("record"), dict) and "origin" in r["record"]:
            _origin_refused(f"results[{i}] ({rid}) record", manifest, report)
            continue
        record = _ref(r.get("record"))
        if record is None and "record" not in r and manifest.get("format") == pf.FORMAT_V1:
            unbound += 1  # a version 1 pack built before findings were bound to the log
            continue
        if record is None:
            report.add(
                pf.FINDINGS_JSON,
                f"results[{i}] ({rid}) names no record (its policy.result entry): a result "
                "not bound to the log",
            )
            continue
        found.refs.setdefault(record[0], []).append((rid, record[1]))
        found.records[record[0]] = rid
        scope = r.get("scope")
        if not (isinstance(scope, dict) and scope.get("tenant")) and r.get("rule") in site_wide:
            found.site_wide_records.add(record[0])
    report.findings = len(results)
    if unbound:
        report.warnings.append(
            f"{pf.FORMAT_V1} pack: {unbound} of {len(results)} results name no policy.result "
            "record; their findings are the builder's statement only (signed by the manifest "
            "key), not bound to the log"
        )
    _check_tenant_results(doc, manifest.get("tenant"), report)
    if manifest.get("findings") is not None and manifest["findings"] != len(results):
        report.add(
            pf.FINDINGS_JSON,
            f"holds {len(results)} results, the manifest says {manifest['findings']}",
        )
    return doc, found


def _origin_refused(where: str, manifest: dict[str, Any], report: PackReport) -> None:
    """A reference with an ``origin`` member in a /1 or /2 pack: no legitimate one has it (a
    campus pack is ``edgeaudit-pack/3``), so it fails closed rather than being read as an
    index of the pack's one log."""
    report.add(
        pf.FINDINGS_JSON,
        f"{where} has an origin member: only a campus pack ({pf.FORMAT_V3}) cites entries by "
        f"origin, a {manifest.get('format')} pack's references are {{index, leaf_hash}}",
    )


def _site_wide(doc: Mapping[str, Any]) -> set[str]:
    header = doc.get("assessment")
    listed = header.get("site_wide_rules") if isinstance(header, dict) else None
    return {str(x) for x in listed} if isinstance(listed, list) else set()


def _check_tenant_results(doc: Any, tenant: Any, report: PackReport) -> None:
    """A tenant pack holds only what its tenant may see (docs/pack-format.md, "What a tenant
    sees"): results whose scope is the tenant, and site-wide results (no tenant in scope) of
    the rules the assessment lists in ``site_wide_rules``."""
    header = doc.get("assessment") if isinstance(doc, dict) else None
    if not isinstance(tenant, str):
        if isinstance(header, dict) and header.get("tenant") is not None:
            report.add(
                pf.FINDINGS_JSON,
                f"the assessment is for tenant {header.get('tenant')!r}, the pack for the site",
            )
        return
    site_wide = _site_wide(doc)
    if isinstance(header, dict) and header.get("tenant") != tenant:
        report.add(
            pf.FINDINGS_JSON,
            f"the assessment is for {header.get('tenant')!r}, the pack for tenant {tenant!r}",
        )
    results = doc.get("results", []) if isinstance(doc, dict) else []
    for i, r in enumerate(results if isinstance(results, list) else []):
        if not isinstance(r, dict):
            continue
        scope = r.get("scope")
        owner = scope.get("tenant") if isinstance(scope, dict) else None
        if owner == tenant or (owner is None and str(r.get("rule")) in site_wide):
            continue
        report.add(
            pf.FINDINGS_JSON,
            f"results[{i}] ({r.get('id')}) is not {tenant}'s to see (scope tenant "
            f"{owner!r}, rule {r.get('rule')!r} not site-wide)",
        )


def _bound(value: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: value.get(k) for k in keys if k in value}


def check_binding(
    doc: dict[str, Any] | None, cited: Cited, manifest: dict[str, Any], report: PackReport
) -> None:
    """Every result equals its proven ``policy.result`` entry in id, rule, status, scope,
    controls and citations, and the assessment header its recorded header; a redacted record
    (a tenant's result naming another tenant) shows at least kind and outcome."""
    if doc is None:
        return
    header = doc["assessment"]
    period = manifest.get("period") or {}
    by_id = {str(r.get("id")): r for r in doc["results"] if isinstance(r, dict)}
    for index, rid in sorted(cited.records.items()):
        result = by_id.get(rid)
        if result is None or index not in cited.present:
            continue  # reported: malformed result, or the record is not held and proven
        where = f"result {rid} (record, log entry {index})"
        if index in cited.views:
            _check_redacted_record(cited.views[index], result, where, index, report)
            report.bound_by_outcome += 1
            continue
        try:
            rec = orjson.loads(cited.bodies[index])
        except (KeyError, ValueError):
            continue  # reported with the entry
        if not isinstance(rec, dict) or rec.get("kind") != pf.RECORD_KIND:
            report.add(pf.FINDINGS_JSON, f"{where} is not a {pf.RECORD_KIND} entry", index=index)
            continue
        recorded, recorded_header = _obj(rec.get("result")), _obj(rec.get("assessment"))
        if recorded_header.get("id") != header.get("id"):
            report.add(
                pf.FINDINGS_JSON,
                f"{where} belongs to assessment {recorded_header.get('id')!r}, findings.json is "
                f"{header.get('id')!r}",
                index=index,
            )
            continue
        for key in pf.ASSESSMENT_BOUND:
            if key in recorded_header and header.get(key) != recorded_header[key]:
                report.add(
                    pf.FINDINGS_JSON,
                    f"assessment.{key} is {header.get(key)!r:.80}, the log recorded "
                    f"{recorded_header[key]!r:.80} ({where})",
                    index=index,
                )
        if (recorded_header.get("from"), recorded_header.get("to")) != (
            period.get("from"),
            period.get("to"),
        ):
            report.add(
                pf.FINDINGS_JSON,
                f"the recorded assessment judged {recorded_header.get('from')} .. "
                f"{recorded_header.get('to')}, not the pack's period ({where})",
                index=index,
            )
        mine, theirs = _bound(result, pf.RESULT_BOUND), _bound(recorded, pf.RESULT_BOUND)
        for key in pf.RESULT_BOUND:
            if mine.get(key) != theirs.get(key):
                report.add(
                    pf.FINDINGS_JSON,
                    f"{where}: {key} is {mine.get(key)!r:.80}, the log recorded "
                    f"{theirs.get(key)!r:.80}",
                    index=index,
                )
        report.bound += 1


def _check_redacted_record(
    view: Any, result: Mapping[str, Any], where: str, index: int, report: PackReport
) -> None:
    view = view if isinstance(view, dict) else {}
    want = pf.RECORD_OUTCOME.get(str(result.get("status")), "unknown")
    if view.get("kind") != pf.RECORD_KIND or view.get("outcome") != want:
        report.add(
            pf.FINDINGS_JSON,
            f"{where}: the redacted record shows {view.get('kind')!r} with outcome "
            f"{view.get('outcome')!r}, a {result.get('status')!r} result is recorded as "
            f"{pf.RECORD_KIND!r} with outcome {want!r}",
            index=index,
        )


def cited_text(r: Mapping[str, Any], campus: bool = False) -> str:
    """A result's cited entries as text (CSV ``evidence``, OSCAL ``evidence-entries``): the
    indexes space-separated, or in a campus pack ``ORIGIN#INDEX`` tokens."""
    evidence = r.get("evidence")
    refs = [e for e in evidence if isinstance(e, dict)] if isinstance(evidence, list) else []
    if campus:
        return " ".join(f"{e.get('origin')}#{e.get('index')}" for e in refs)
    return " ".join(str(e.get("index")) for e in refs)


def check_csv(
    files: PackFiles, doc: dict[str, Any] | None, report: PackReport, campus: bool = False
) -> None:
    """Each row is its findings.json result: id, rule, status, severity, controls, scope
    (tenant, asset, principal, segment, key; and log in a campus pack) and cited entries, in
    the same order."""
    if doc is None or not files.has(pf.FINDINGS_CSV):
        return
    columns = pf.FINDINGS_CSV_COLUMNS_V3 if campus else pf.FINDINGS_CSV_COLUMNS
    text = files.read(pf.FINDINGS_CSV).decode("utf-8", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != columns:
        report.add(
            pf.FINDINGS_CSV,
            f"header is {rows[0] if rows else []}, expected {list(columns)}",
            1,
        )
        return
    results = [r for r in doc["results"] if isinstance(r, dict)]
    if len(rows) - 1 != len(results):
        report.add(pf.FINDINGS_CSV, f"{len(rows) - 1} rows, findings.json {len(results)} results")
    for number, (row, r) in enumerate(zip(rows[1:], results, strict=False), 2):
        scope = _obj(r.get("scope"))
        want = {
            "id": str(r.get("id")),
            "rule": str(r.get("rule") or ""),
            "status": str(r.get("status")),
            "severity": str(r.get("severity") or ""),
            "controls": " ".join(map(str, r.get("controls") or [])),
            **{k: str(scope.get(k) or "") for k in ("tenant", "asset", "principal", "segment")},
            "key": str(scope.get("key") or ""),
            **({"log": str(scope.get("log") or "")} if campus else {}),
            "evidence": cited_text(r, campus),
        }
        got = dict(zip(columns, row, strict=False))
        wrong = [k for k, v in want.items() if got.get(k) != v]
        if wrong:
            report.add(
                pf.FINDINGS_CSV,
                f"row of {want['id']}: {', '.join(wrong)} differ from findings.json "
                f"(e.g. {wrong[0]} {got.get(wrong[0])!r:.60}, expected {want[wrong[0]]!r:.60})",
                number,
            )


def _props(item: Mapping[str, Any]) -> dict[str, str]:
    props = item.get("props")
    return {
        str(p.get("name")): str(p.get("value"))
        for p in (props if isinstance(props, list) else [])
        if isinstance(p, dict) and p.get("ns") == pf.OSCAL_NS
    }


def check_oscal(
    files: PackFiles, doc: dict[str, Any] | None, report: PackReport, campus: bool = False
) -> None:
    """One OSCAL finding per (result, control) with the result's id and status (state
    ``satisfied`` only for ``pass``), its observation citing the result's entries."""
    if doc is None or not files.has(pf.OSCAL):
        return
    try:
        raw = files.read(pf.OSCAL)
        oscal = json.loads(raw)
        (result,) = oscal["assessment-results"]["results"]
        findings = result.get("findings", [])
        observations = {o["uuid"]: o for o in result.get("observations", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.add(pf.OSCAL, f"not the assessment results of one assessment ({exc!r:.80})")
        return
    if not _canonical(raw, oscal):
        report.add(pf.OSCAL, "is not canonical JSON (RFC 8785)")
    header = doc.get("assessment")
    size = _props(result).get("tree-size") if isinstance(result, dict) else None
    if size is not None and isinstance(header, dict) and size != str(header.get("tree_size")):
        report.add(
            pf.OSCAL,
            f"prop tree-size is {size!r:.30}, the assessment judged size "
            f"{header.get('tree_size')!r:.30}",
        )
    if campus:  # one log-checkpoint prop per judged log, as assessment.logs says
        logs = header.get("logs") if isinstance(header, dict) else None
        want = sorted(
            f"{x.get('origin')} {x.get('tree_size')} {x.get('root_hash')}"
            for x in (logs if isinstance(logs, list) else [])
            if isinstance(x, dict)
        )
        props = result.get("props") if isinstance(result, dict) else None
        got = sorted(
            str(p.get("value"))
            for p in (props if isinstance(props, list) else [])
            if isinstance(p, dict)
            and p.get("ns") == pf.OSCAL_NS
            and p.get("name") == "log-checkpoint"
        )
        if got != want:
            report.add(pf.OSCAL, f"log-checkpoint props {got}, assessment.logs says {want}"[:300])
    expected: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in doc["results"]:
        if isinstance(r, dict):
            for c in r.get("controls") or ["unmapped"]:
                expected[(str(r.get("id")), pf.control_token(str(c)))] = r
    seen: set[tuple[str, str]] = set()
    for i, f in enumerate(findings if isinstance(findings, list) else []):
        props = _props(f) if isinstance(f, dict) else {}
        target = f.get("target") if isinstance(f, dict) else None
        target = target if isinstance(target, dict) else {}
        key = (props.get("result-id", ""), str(target.get("target-id")))
        r = expected.get(key)
        where = f"findings[{i}] ({key[0]} {key[1]})"
        if r is None or key in seen:
            report.add(
                pf.OSCAL,
                f"{where} is {'a second finding' if key in seen else 'no result'} of "
                "findings.json for that control",
            )
            continue
        seen.add(key)
        status = str(r.get("status"))
        state = (target.get("status") or {}).get("state")
        if props.get("status") != status or state != (
            "satisfied" if status == "pass" else "not-satisfied"
        ):
            report.add(
                pf.OSCAL,
                f"{where}: status {props.get('status')!r} state {state!r}, the result is "
                f"{status!r}",
            )
        related = f.get("related-observations") or [{}]
        obs = observations.get(related[0].get("observation-uuid")) if related else None
        cites = cited_text(r, campus)
        listed = _props(obs).get("evidence-entries") if isinstance(obs, dict) else None
        if (listed if listed != "none" else "") != cites:
            report.add(pf.OSCAL, f"{where}: its observation does not cite entries [{cites}]")
    for key in sorted(set(expected) - seen):
        report.add(pf.OSCAL, f"no finding for result {key[0]} and control {key[1]}")
