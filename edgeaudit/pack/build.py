"""``edgeaudit pack build``: one snapshot of the log, signed and proven, in several renderings.

Order: sign a fresh checkpoint (the pack's tree size), open one read snapshot, stream the
entries (evidence + proofs), add the consistency proof from the previous pack's checkpoint,
the findings (JSON, CSV, OSCAL), the PDF (which carries the manifest of everything else as an
attachment), then ``manifest.json`` and its JWS. A ``.zip`` output is built in a temporary
directory next to it and moved into place only when complete.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeaudit.canonical import canonical_json
from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError, NoteError, TamperError
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.evidence import EvidenceResult, write_evidence
from edgeaudit.pack.manifest import content_manifest, list_files, manifest_bytes, sign_manifest
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import EvidenceLog
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.manifest_key import manifest_signing_key
from edgeaudit.workspace.signing import sign_checkpoint


@dataclass(frozen=True)
class PackRequest:
    period: Period
    out: Path
    tenant: str | None = None
    frameworks: tuple[str, ...] = ()
    findings: Mapping[str, Any] | None = None
    inventory: Inventory | None = None
    previous: bytes | None = None  # the previous pack's signed checkpoint note
    pdf: bool = True
    raci: Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class PackResult:
    out: Path
    tree_size: int
    root_hash: str
    entries: int
    redacted: int
    findings: int
    files: list[dict[str, Any]] = field(default_factory=list)
    manifest_key: str = ""
    checkpoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "entries": self.entries,
            "redacted": self.redacted,
            "findings": self.findings,
            "files": self.files,
            "manifest_key": self.manifest_key,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filter_frameworks(doc: dict[str, Any], frameworks: tuple[str, ...]) -> dict[str, Any]:
    if not frameworks:
        return doc
    want = set(frameworks)

    def keep(control: str) -> bool:
        return control.split(":", 1)[0] in want

    results = [r for r in doc["results"] if any(keep(c) for c in r.get("controls", []))]
    return {
        "assessment": {**doc["assessment"], "frameworks": sorted(want)},
        "results": results,
        "controls": [c for c in doc.get("controls", []) if c.get("framework") in want],
    }


def _prepare_out(out: Path) -> tuple[Path, bool]:
    """(directory to write into, whether to zip it afterwards)."""
    zipped = out.suffix.lower() == ".zip"
    if out.exists() and (zipped or any(out.iterdir())):
        raise InputError(f"{out} already exists; refusing to overwrite a pack")
    if zipped:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".pack-", dir=out.parent)), True
    out.mkdir(parents=True, exist_ok=True)
    return out, False


def _previous(previous: bytes, verifier: Verifier, origin: str) -> Checkpoint:
    try:
        return verify_checkpoint(previous, [verifier], origin=origin)
    except NoteError as exc:
        raise InputError(f"the previous pack's checkpoint does not verify: {exc}") from None


def _consistency(
    reader: Any, previous: bytes, verifier: Verifier, origin: str, size: int, root: bytes
) -> dict[str, Any] | None:
    old = _previous(previous, verifier, origin)
    if old.size > size:
        raise TamperError(
            f"the previous pack's checkpoint has size {old.size}, larger than this one ({size})"
        )
    if old.size == 0:
        return None
    proof = reader.consistency_proof(old.size, size) if old.size < size else []
    verify_consistency(old.size, size, old.root, root, proof)
    return {
        "new_size": size,
        "old_checkpoint": previous.decode("utf-8"),
        "old_size": old.size,
        "proof": [pf.b64(h) for h in proof],
    }


def build_pack(config: WorkspaceConfig, log: EvidenceLog, request: PackRequest) -> PackResult:
    if request.tenant is not None:
        if request.inventory is None:
            raise InputError(
                "a tenant pack needs the inventory (--inventory FILE) to know which identifiers "
                "belong to other tenants"
            )
        view = TenantView.for_tenant(request.inventory, request.tenant)
    else:
        view = TenantView.site()
    doc: dict[str, Any] | None = None
    if request.findings is not None:
        doc = fnd.for_view(
            _filter_frameworks(fnd.validate(request.findings), request.frameworks), view
        )
    cited = fnd.cited(doc) if doc is not None else {}

    verifier = Verifier.parse(config.verifier_key)
    if request.previous:  # refuse a bad previous checkpoint before signing anything
        _previous(request.previous, verifier, log.origin)
    cp = sign_checkpoint(config, log)
    work, zipped = _prepare_out(request.out)
    try:
        with log.reader() as reader:
            if reader.head()[0] < cp.tree_size:
                raise TamperError("the store holds fewer entries than its latest checkpoint")
            ev: EvidenceResult = write_evidence(
                reader,
                cp.tree_size,
                cp.root_hash,
                request.period,
                view,
                cited,
                work / pf.EVIDENCE,
                work / pf.PROOFS,
                source=(config.db_url, log.origin),
            )
            consistency = (
                _consistency(
                    reader, request.previous, verifier, log.origin, cp.tree_size, cp.root_hash
                )
                if request.previous
                else None
            )
        names = [pf.CHECKPOINT, pf.EVIDENCE, pf.PROOFS]
        (work / pf.CHECKPOINT).write_bytes(cp.note.encode("utf-8"))
        if consistency is not None:
            (work / pf.CONSISTENCY).write_bytes(canonical_json(consistency))
            names.append(pf.CONSISTENCY)
        if doc is not None:
            for ev_ref in doc["results"]:
                for e in ev_ref.get("evidence", []):
                    if e["index"] >= cp.tree_size:
                        raise InputError(
                            f"finding {ev_ref['id']} cites entry {e['index']}, beyond the "
                            f"checkpoint of size {cp.tree_size}"
                        )
            (work / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
            (work / pf.FINDINGS_CSV).write_bytes(fnd.to_csv(doc))
            names += [pf.FINDINGS_JSON, pf.FINDINGS_CSV]
            from edgeaudit.pack.oscal import assessment_results

            oscal = assessment_results(doc, site=config.site, period=request.period)
            (work / pf.OSCAL).write_bytes(canonical_json(oscal))
            names.append(pf.OSCAL)
        header: dict[str, Any] = {
            "format": pf.FORMAT,
            "origin": log.origin,
            "site": config.site,
            "tenant": request.tenant,
            "period": {
                "from": request.period.start_text,
                "to": request.period.end_text,
                "label": request.period.label,
            },
            "created_at": _now(),
            "checkpoint": {"tree_size": cp.tree_size, "root_hash": cp.root_hash.hex()},
            "entries": ev.entries,
            "redacted": ev.stats.redacted,
            "findings": len(doc["results"]) if doc is not None else None,
            "verifier_key": config.verifier_key,
        }
        # every file is hashed once; evidence and proofs (most of the bytes) as they were written
        listed = [{"path": n, **ev.digests[n]} for n in (pf.EVIDENCE, pf.PROOFS)]
        listed += list_files(work, [n for n in names if n not in ev.digests])
        with manifest_signing_key(config) as (private, public):
            if request.pdf:
                from edgeaudit.pack.report import ReportInput, render_report

                content = content_manifest(header, listed)
                render_report(
                    ReportInput(
                        header=header,
                        content_manifest=content,
                        findings=doc,
                        stats=ev.stats,
                        checkpoint=cp.note,
                        quarantined=log.quarantine_count() if request.tenant is None else None,
                        manifest_key=public,
                        raci=request.raci,
                    ),
                    work / pf.REPORT,
                )
                names.append(pf.REPORT)
                listed += list_files(work, [pf.REPORT])
            files = sorted(listed, key=lambda f: str(f["path"]))
            payload = manifest_bytes(header, files, public)
            (work / pf.MANIFEST).write_bytes(payload)
            (work / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))
        if zipped:
            tmp_zip = request.out.with_name(request.out.name + ".tmp")
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                for name in [*names, pf.MANIFEST, pf.MANIFEST_JWS]:
                    zf.write(work / name, name)
            tmp_zip.replace(request.out)
    except BaseException:
        if zipped:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if zipped:
        shutil.rmtree(work, ignore_errors=True)
    return PackResult(
        out=request.out,
        tree_size=cp.tree_size,
        root_hash=cp.root_hash.hex(),
        entries=ev.entries,
        redacted=ev.stats.redacted,
        findings=len(doc["results"]) if doc is not None else 0,
        files=files,
        manifest_key=public.kid,
        checkpoint=cp.note,
    )
