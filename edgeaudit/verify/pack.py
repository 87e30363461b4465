"""Offline verification of an audit pack (a directory or a ``.zip``); docs/pack-format.md.

Needs only the log's verifier key and the manifest's public key. Imports no signing code, no
database layer, no PDF renderer: ``tests/pack/test_verify_imports.py`` checks that in a fresh
interpreter. Every problem names the file, the line and entry index where it applies, and what
was expected and found; all problems are collected (up to a limit) rather than the first only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from jose import jws
from jose.exceptions import JOSEError

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.errors import InputError, NoteError, ProofError
from edgeaudit.events import parse_utc_time
from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_files import PackFiles, PackProblem, PackReport, lines
from edgeaudit.verify.pack_key import ManifestKey

__all__ = ["PackFiles", "PackProblem", "PackReport", "verify_pack"]


def _json_line(report: PackReport, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except ValueError as exc:
        report.add(name, f"not a JSON object ({exc})", number)
        return None
    if not isinstance(value, dict):
        report.add(name, "not a JSON object", number)
        return None
    return value


def verify_pack(
    path: str | Path, log_keys: Sequence[Verifier], manifest_key: ManifestKey
) -> PackReport:
    files = PackFiles(Path(path))
    report = PackReport(str(path))
    try:
        manifest = _check_manifest(files, manifest_key, report)
        if manifest is None:
            return report
        report.tenant = manifest.get("tenant")
        checkpoint = _check_checkpoint(files, manifest, log_keys, report)
        cited = _load_findings(files, manifest, report)
        if checkpoint is not None:
            size, root = checkpoint
            _check_entries(files, manifest, size, root, cited, report)
            _check_consistency(files, manifest, log_keys, size, root, report)
    finally:
        files.close()
    return report


def _check_manifest(
    files: PackFiles, key: ManifestKey, report: PackReport
) -> dict[str, Any] | None:
    for name in (pf.MANIFEST_JWS, pf.MANIFEST):
        if not files.has(name):
            report.add(name, "missing: a pack without a signed manifest cannot be verified")
            return None
    token = files.read(pf.MANIFEST_JWS).strip()
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        report.add(pf.MANIFEST_JWS, f"not a compact JWS ({exc})")
        return None
    if header.get("alg") not in pf.ALGORITHMS:
        report.add(
            pf.MANIFEST_JWS, f"algorithm {header.get('alg')!r} is not allowed; expected ES256"
        )
        return None
    if header.get("typ") != pf.JWS_TYPE:
        report.add(pf.MANIFEST_JWS, f"header typ {header.get('typ')!r}, expected {pf.JWS_TYPE!r}")
    if header.get("kid") != key.kid:
        report.add(
            pf.MANIFEST_JWS,
            f"signed by key id {header.get('kid')!r}, expected the trusted manifest key "
            f"{key.kid!r}",
        )
        return None
    try:
        payload = jws.verify(token, key.public_pem, algorithms=list(pf.ALGORITHMS))
    except JOSEError as exc:
        report.add(pf.MANIFEST_JWS, f"signature does not verify with key {key.kid} ({exc})")
        return None
    if files.read(pf.MANIFEST) != payload:
        report.add(pf.MANIFEST, "differs from the payload signed in manifest.jws")
    try:
        manifest = json.loads(payload)
    except ValueError as exc:
        report.add(pf.MANIFEST_JWS, f"signed payload is not JSON ({exc})")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != pf.FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        report.add(pf.MANIFEST, f"format {found!r}, expected {pf.FORMAT!r}")
        return None
    listed: dict[str, dict[str, Any]] = {}
    for i, f in enumerate(manifest.get("files", [])):
        if not isinstance(f, dict) or not isinstance(f.get("path"), str):
            report.add(pf.MANIFEST, f"files[{i}] is not a {{path, sha256, size}} object")
            continue
        listed[f["path"]] = f
    for name in pf.REQUIRED:
        if name not in listed:
            report.add(pf.MANIFEST, f"does not list the required file {name}")
    for name, f in listed.items():
        if not files.has(name):
            report.add(name, "listed in the manifest but missing from the pack")
            continue
        digest, size = files.sha256(name)
        if digest != f.get("sha256"):
            report.add(name, f"SHA-256 is {digest}, the manifest says {f.get('sha256')}")
        elif size != f.get("size"):
            report.add(name, f"size is {size} bytes, the manifest says {f.get('size')}")
    for name in files.names():
        if name not in listed and name not in pf.SIGNATURE_FILES:
            report.add(name, "in the pack but not in the manifest")
    content = {k: v for k, v in manifest.items() if k not in ("evidence_digest", "manifest_key")}
    content["files"] = [f for f in manifest.get("files", []) if f.get("path") != pf.REPORT]
    digest = hashlib.sha256(canonical_json(content)).hexdigest()
    if digest != manifest.get("evidence_digest"):
        report.add(
            pf.MANIFEST,
            f"evidence_digest is {manifest.get('evidence_digest')}, the files hash to {digest}",
        )
    return manifest


def _check_checkpoint(
    files: PackFiles, manifest: dict[str, Any], keys: Sequence[Verifier], report: PackReport
) -> tuple[int, bytes] | None:
    if not files.has(pf.CHECKPOINT):
        return None
    try:
        cp = verify_checkpoint(files.read(pf.CHECKPOINT), keys, origin=manifest.get("origin"))
    except NoteError as exc:
        report.add(pf.CHECKPOINT, str(exc))
        return None
    want = manifest.get("checkpoint") or {}
    if cp.size != want.get("tree_size") or cp.root.hex() != want.get("root_hash"):
        report.add(
            pf.CHECKPOINT,
            f"signed tree size {cp.size} root {cp.root.hex()}, the manifest says "
            f"{want.get('tree_size')} root {want.get('root_hash')}",
        )
    report.tree_size, report.root_hash = cp.size, cp.root.hex()
    return cp.size, cp.root


def _load_findings(
    files: PackFiles, manifest: dict[str, Any], report: PackReport
) -> dict[int, list[tuple[str, str]]]:
    """index -> [(finding id, cited leaf hash)] of every result's evidence."""
    cited: dict[int, list[tuple[str, str]]] = {}
    if not files.has(pf.FINDINGS_JSON):
        return cited
    try:
        doc = json.loads(files.read(pf.FINDINGS_JSON))
        results = doc["results"]
    except (ValueError, KeyError, TypeError) as exc:
        report.add(pf.FINDINGS_JSON, f"not an assessment document ({exc})")
        return cited
    ids = []
    for i, r in enumerate(results):
        rid = r.get("id") if isinstance(r, dict) else None
        ids.append(rid)
        for j, ev in enumerate(r.get("evidence", []) if isinstance(r, dict) else []):
            idx, leaf = (
                (ev.get("index"), ev.get("leaf_hash")) if isinstance(ev, dict) else (None, None)
            )
            if not isinstance(idx, int) or not isinstance(leaf, str):
                report.add(pf.FINDINGS_JSON, f"results[{i}] ({rid}) evidence[{j}] is malformed")
                continue
            cited.setdefault(idx, []).append((str(rid), leaf))
    report.findings = len(results)
    _check_tenant_results(doc, manifest.get("tenant"), report)
    if manifest.get("findings") is not None and manifest["findings"] != len(results):
        report.add(
            pf.FINDINGS_JSON,
            f"holds {len(results)} results, the manifest says {manifest['findings']}",
        )
    if files.has(pf.FINDINGS_CSV):
        text = files.read(pf.FINDINGS_CSV).decode("utf-8", "replace")
        rows = list(csv.reader(io.StringIO(text)))
        csv_ids = [row[0] for row in rows[1:] if row]
        if csv_ids != ids:
            report.add(
                pf.FINDINGS_CSV, f"lists results {csv_ids[:5]}..., findings.json {ids[:5]}..."
            )
    return cited


def _check_tenant_results(doc: Any, tenant: Any, report: PackReport) -> None:
    """A tenant pack holds only what its tenant may see (docs/pack-format.md, "What a tenant
    sees"): results whose scope is the tenant, and site-wide results (no tenant in scope) of
    the rules the assessment lists in ``site_wide_rules``."""
    if not isinstance(tenant, str):
        return
    header = doc.get("assessment") if isinstance(doc, dict) else None
    listed = header.get("site_wide_rules") if isinstance(header, dict) else None
    site_wide = {str(x) for x in listed} if isinstance(listed, list) else set()
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


def _check_entries(
    files: PackFiles,
    manifest: dict[str, Any],
    size: int,
    root: bytes,
    cited: dict[int, list[tuple[str, str]]],
    report: PackReport,
) -> None:
    for name in (pf.EVIDENCE, pf.PROOFS):
        if not files.has(name):
            report.add(name, "missing: no entry can be proven without it")
            return
    tenant = manifest.get("tenant")
    period = manifest.get("period") or {}
    try:
        start = parse_utc_time(period.get("from"))[1]
        end = parse_utc_time(period.get("to"))[1]
    except InputError as exc:
        report.add(pf.MANIFEST, f"period: {exc}")
        return
    present: dict[int, str] = {}
    ev_lines = lines(files, pf.EVIDENCE)
    pr_lines = lines(files, pf.PROOFS)
    last = -1
    for (number, raw), proof_line in _zip_longest(ev_lines, pr_lines, report):
        rec = _json_line(report, pf.EVIDENCE, number, raw) if raw is not None else None
        prf = _json_line(report, pf.PROOFS, proof_line[0], proof_line[1]) if proof_line else None
        if rec is None:
            continue
        index, leaf_hex = rec.get("index"), rec.get("leaf_hash")
        if (
            not isinstance(index, int)
            or not isinstance(leaf_hex, str)
            or not pf.HASH_HEX.fullmatch(leaf_hex)
        ):
            report.add(pf.EVIDENCE, "needs an integer index and a 64-hex leaf_hash", number)
            continue
        if index <= last:
            report.add(
                pf.EVIDENCE,
                f"index {index} does not follow {last} (entries must ascend)",
                number,
                index,
            )
        last = max(last, index)
        if not 0 <= index < size:
            report.add(
                pf.EVIDENCE,
                f"index {index} is outside the checkpoint's tree of size {size}",
                number,
                index,
            )
            continue
        leaf = bytes.fromhex(leaf_hex)
        if "entry" in rec:
            body = pf.b64decode_strict(rec["entry"])
            if body is None:
                report.add(pf.EVIDENCE, "entry is not standard base64", number, index)
                continue
            actual = leaf_hash(body)
            if actual != leaf:
                report.add(
                    pf.EVIDENCE,
                    f"entry bytes hash to leaf {actual.hex()}, the line says {leaf_hex}",
                    number,
                    index,
                )
                continue
            _check_scope(body, tenant, start, end, index in cited, number, index, report)
        elif "redacted" in rec:
            if tenant is None:
                report.add(pf.EVIDENCE, "a site pack must not hold redacted entries", number, index)
            report.redacted += 1
        else:
            report.add(pf.EVIDENCE, "has neither entry nor redacted", number, index)
            continue
        if prf is None:
            report.add(pf.PROOFS, f"no proof line for entry {index}", number, index)
            continue
        if prf.get("index") != index:
            report.add(
                pf.PROOFS, f"proof is for entry {prf.get('index')}, expected {index}", number, index
            )
            continue
        blob = pf.b64decode_strict(prf.get("proof"))
        hashes = pf.split_hashes(blob) if blob is not None else None
        if hashes is None:
            report.add(pf.PROOFS, "proof is not base64 of 32-byte hashes", number, index)
            continue
        try:
            verify_inclusion(leaf, index, size, hashes, root)
        except ProofError as exc:
            report.add(pf.PROOFS, str(exc), number, index)
            continue
        if index in cited:  # kept only for the citation check: a pack may hold millions
            present[index] = leaf_hex
        report.entries += 1
    if manifest.get("entries") != report.entries:
        report.add(
            pf.EVIDENCE,
            f"{report.entries} entries proven, the manifest says {manifest.get('entries')}",
        )
    for index, refs in sorted(cited.items()):
        for rid, cited_leaf in refs:
            if index not in present:
                report.add(
                    pf.FINDINGS_JSON,
                    f"finding {rid} cites entry {index}, which the pack does not hold (proven)",
                    index=index,
                )
            elif present[index] != cited_leaf:
                report.add(
                    pf.FINDINGS_JSON,
                    f"finding {rid} cites entry {index} with leaf {cited_leaf}, "
                    f"the pack holds {present[index]}",
                    index=index,
                )


def _zip_longest(
    ev: Iterator[tuple[int, bytes]], pr: Iterator[tuple[int, bytes]], report: PackReport
) -> Iterator[tuple[tuple[int, bytes | None], tuple[int, bytes] | None]]:
    yield from ((item, next(pr, None)) for item in ev)
    for number, _ in pr:
        report.add(pf.PROOFS, "a proof line without an evidence line", number)


def _check_scope(
    body: bytes,
    tenant: str | None,
    start: int,
    end: int,
    is_cited: bool,
    number: int,
    index: int,
    report: PackReport,
) -> None:
    try:
        entry = orjson.loads(body)
        seconds = parse_utc_time(entry.get("time"))[1]
    except (ValueError, AttributeError, InputError) as exc:
        report.add(pf.EVIDENCE, f"entry is not an event ({exc})", number, index)
        return
    if tenant is not None:
        scope = entry.get("scope")
        scope = (
            scope if isinstance(scope, list) else ([entry["tenant"]] if entry.get("tenant") else [])
        )
        if scope != [tenant]:
            report.add(
                pf.EVIDENCE,
                f"entry in full is scoped to {scope}, expected only [{tenant!r}]",
                number,
                index,
            )
    if not start <= seconds < end and not is_cited:
        report.add(
            pf.EVIDENCE,
            f"entry time {entry.get('time')} is outside the pack's period",
            number,
            index,
        )


def _check_consistency(
    files: PackFiles,
    manifest: dict[str, Any],
    keys: Sequence[Verifier],
    size: int,
    root: bytes,
    report: PackReport,
) -> None:
    if not files.has(pf.CONSISTENCY):
        return
    try:
        doc = json.loads(files.read(pf.CONSISTENCY))
        old = verify_checkpoint(
            doc["old_checkpoint"].encode("utf-8"), keys, origin=manifest.get("origin")
        )
        hashes = [pf.b64decode_strict(h) for h in doc["proof"]]
        if (
            any(h is None for h in hashes)
            or doc.get("new_size") != size
            or doc.get("old_size") != old.size
        ):
            report.add(
                pf.CONSISTENCY,
                f"malformed: sizes {doc.get('old_size')} -> {doc.get('new_size')}, "
                f"expected {old.size} -> {size}",
            )
            return
        verify_consistency(old.size, size, old.root, root, [h for h in hashes if h is not None])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        report.add(pf.CONSISTENCY, f"malformed ({exc})")
        return
    except (NoteError, ProofError) as exc:
        report.add(pf.CONSISTENCY, str(exc))
        return
    report.consistency_from = old.size
