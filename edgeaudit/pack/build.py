"""``edgeaudit pack build``: one snapshot of the log, signed and proven, in several renderings.

Order: sign a fresh checkpoint (the pack's tree size), open one read snapshot, stream the
entries (evidence + proofs), add the consistency proof from the previous pack's checkpoint,
the findings (JSON, CSV, OSCAL), the PDF (which carries the manifest of everything else as an
attachment), then ``manifest.json`` and its JWS. A ``.zip`` output is built in a temporary
directory next to it and moved into place only when complete.

:func:`build_assessed_pack` is the one way a workspace's pack gets its findings, whoever asks
(``edgeaudit pack build`` and the service's export jobs alike): the site assessment of the
period (:func:`edgeaudit.pack.assessment.period_assessment`: the recorded one while current,
else evaluated with the store-integrity check and recorded), restricted to the tenant by
:func:`findings.for_view`. The checkpoint the pack carries is chosen in
:mod:`edgeaudit.pack.checkpoint`; what the report says of the log beyond the evidence (its
quarantine, results remediated later) is read in :mod:`edgeaudit.pack.report_log`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.canonical import canonical_json
from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError, TamperError
from edgeaudit.note.verifier import Verifier
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.assessment import filter_frameworks, period_assessment
from edgeaudit.pack.checkpoint import key_that_signed, with_transition
from edgeaudit.pack.consistency import from_earlier, from_previous, previous_checkpoint
from edgeaudit.pack.container import attachments, discard, prepare_out, seal, zip_pack
from edgeaudit.pack.evidence import EvidenceResult, write_evidence
from edgeaudit.pack.manifest import content_manifest, list_files
from edgeaudit.pack.period import Period
from edgeaudit.pack.records import Records, bind
from edgeaudit.pack.report_log import quarantine_summary, remediated
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import EvidenceLog
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.manifest_key import manifest_signing_key
from edgeaudit.workspace.signing import sign_checkpoint

if TYPE_CHECKING:
    from edgeaudit.policy.files import Policies


@dataclass(frozen=True)
class PackRequest:
    period: Period
    out: Path
    tenant: str | None = None
    frameworks: tuple[str, ...] = ()
    findings: Mapping[str, Any] | None = None
    inventory: Inventory | None = None
    previous: bytes | None = None  # the previous pack's signed checkpoint note
    # a checkpoint note signed where the log key is (pack build --checkpoint FILE); None: the
    # workspace signs one with its log key
    checkpoint: bytes | None = None
    pdf: bool = True
    raci: Sequence[Mapping[str, Any]] | None = None
    # refs (framework:control) of the controls automated evidence only supports (the
    # catalogue's supports_only); None: a tenant view infers them from the findings
    supports_only: Collection[str] | None = None
    # a pack of a log this workspace does not sign (a mirrored pod's, ``--log``): the log's
    # verifier key (the pack's log key) and site name; ``checkpoint`` must then be given (a
    # note the pod signed), and nothing is signed or written into that log
    log_key: str | None = None
    site: str | None = None


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
    records = Records({}, frozenset())
    if request.findings is not None:
        site_doc = filter_frameworks(fnd.validate(request.findings), request.frameworks)
        with log.reader() as reader:  # bound to its recorded results before anything is signed
            site_doc, records = bind(site_doc, reader, reader.head()[0], request.period)
        doc = fnd.for_view(site_doc, view, request.supports_only)
    cited = fnd.cited(doc) if doc is not None else {}
    for r in doc["results"] if doc is not None else []:  # the records of the results kept
        cited[r["record"]["index"]] = r["record"]["leaf_hash"]

    log_key = request.log_key or config.verifier_key
    if request.log_key is not None and request.checkpoint is None:
        raise InputError(f"a pack of log {log.origin} needs the checkpoint its own key signed")
    site = request.site or config.site
    verifier = Verifier.parse(log_key)
    earlier_key = verifier  # the key that signed the previous pack's checkpoint
    if request.previous:  # refuse a bad previous checkpoint before signing anything
        earlier_key = key_that_signed(log, request.previous, verifier)
        previous_checkpoint(request.previous, earlier_key, log.origin)
    if request.checkpoint is not None:  # key separation: no log private key here
        from edgeaudit.pack.given import given_checkpoint

        where = "--checkpoint" if request.log_key is None else f"the checkpoint of {log.origin}"
        cp = given_checkpoint(log, request.checkpoint, [verifier], where)
    else:  # with the cosignatures of the witnesses in edgeaudit.toml, if any
        from edgeaudit.witness.gather import cosign

        cp, _ = cosign(config, log, sign_checkpoint(config, log))
    cp = with_transition(config, log, cp, verifier, own=request.log_key is None)
    work, zipped = prepare_out(request.out)
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
                site_wide_records=records.site_wide & cited.keys(),
            )
            consistency = (
                from_previous(
                    reader, request.previous, earlier_key, log.origin, cp.tree_size, cp.root_hash
                )
                if request.previous
                else None
            )
            earlier = from_earlier(reader, verifier, log.origin, cp.tree_size, cp.root_hash)
        names = [pf.CHECKPOINT, pf.EVIDENCE, pf.PROOFS]
        (work / pf.CHECKPOINT).write_bytes(cp.note.encode("utf-8"))
        if consistency is not None:
            (work / pf.CONSISTENCY).write_bytes(canonical_json(consistency))
            names.append(pf.CONSISTENCY)
        if earlier:
            (work / pf.CONSISTENCY_LOG).write_bytes(earlier)
            names.append(pf.CONSISTENCY_LOG)
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

            oscal = assessment_results(doc, site=site, period=request.period)
            (work / pf.OSCAL).write_bytes(canonical_json(oscal))
            names.append(pf.OSCAL)
        header: dict[str, Any] = {
            "format": pf.FORMAT,
            "origin": log.origin,
            "site": site,
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
            "verifier_key": log_key,
        }
        # every file is hashed once; evidence and proofs (most of the bytes) as they were written
        listed = [{"path": n, **ev.digests[n]} for n in (pf.EVIDENCE, pf.PROOFS)]
        listed += list_files(work, [n for n in names if n not in ev.digests])
        # a mirror holds the pod's log, not its quarantine: the report shows none
        own_site = request.tenant is None and request.log_key is None
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
                        quarantined=log.quarantine_count() if own_site else None,
                        manifest_key=public,
                        raci=request.raci,
                        inventory=request.inventory,
                        view=view,
                        quarantine=quarantine_summary(log) if own_site else None,
                        remediated=remediated(log, doc, request.period, cp.tree_size),
                        attachments=attachments(work, names),
                    ),
                    work / pf.REPORT,
                )
                names.append(pf.REPORT)
                listed += list_files(work, [pf.REPORT])
            files = seal(work, header, listed, private, public)
        if zipped:
            zip_pack(work, names, request.out)
    except BaseException:
        discard(work)
        raise
    if zipped:
        discard(work)
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


def build_assessed_pack(
    config: WorkspaceConfig,
    log: EvidenceLog,
    policies: Policies,
    request: PackRequest,
    progress: Callable[[str, float], None] | None = None,
) -> PackResult:
    """A pack of ``request`` whose findings are :func:`period_assessment` of its period (any
    ``request.findings`` is replaced), for the site or, restricted by the one tenant view, for
    ``request.tenant``; the inventory and RACI rows default to those of ``policies`` (the
    files the assessment judged). ``progress(stage, fraction)``: "evaluating", "building"."""
    report = progress or (lambda stage, fraction: None)
    report("evaluating", 0.2)
    doc = period_assessment(config, log, policies, request.period, signs=request.checkpoint is None)
    report("building", 0.5)
    raci = request.raci
    if raci is None and policies.raci is not None:
        from edgeaudit.pack.raci import raci_rows

        raci = raci_rows(policies.raci, request.tenant)
    return build_pack(
        config,
        log,
        replace(
            request,
            findings=doc,
            inventory=request.inventory if request.inventory is not None else policies.inventory,
            raci=raci,
            supports_only=(
                request.supports_only
                if request.supports_only is not None
                else frozenset(c.ref for c in policies.catalogue.controls if c.supports_only)
            ),
        ),
    )
