"""``edgeaudit pack build``: one snapshot of the log, signed and proven, in several renderings.

Order: sign a fresh checkpoint (the pack's tree size), open one read snapshot, stream the
entries (evidence + proofs), add the consistency proof from the previous pack's checkpoint,
the findings (JSON, CSV, OSCAL), the PDF (which carries the manifest of everything else as an
attachment), then ``manifest.json`` and its JWS. A ``.zip`` output is built in a temporary
directory next to it and moved into place only when complete.

:func:`build_assessed_pack` is the one way a workspace's pack gets its findings, whoever asks
(``edgeaudit pack build`` and the service's export jobs alike): the site assessment of the
period (:func:`period_assessment`: the recorded one while current, else evaluated with the
store-integrity check and recorded), restricted to the tenant by :func:`findings.for_view`.
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
from edgeaudit.pack.consistency import (
    from_earlier,
    from_previous,
    is_transition,
    previous_checkpoint,
    transition_at,
)
from edgeaudit.pack.container import attachments, discard, prepare_out, seal, zip_pack
from edgeaudit.pack.evidence import EvidenceResult, write_evidence
from edgeaudit.pack.manifest import content_manifest, list_files
from edgeaudit.pack.period import Period
from edgeaudit.pack.records import Records, bind
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import EvidenceLog, StoredCheckpoint
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


def _filter_frameworks(doc: dict[str, Any], frameworks: tuple[str, ...]) -> dict[str, Any]:
    if not frameworks:
        return doc
    want = set(frameworks)

    def keep(control: str) -> bool:
        return control.split(":", 1)[0] in want

    results = [r for r in doc["results"] if any(keep(c) for c in r.get("controls", []))]
    return {
        "assessment": {
            **doc["assessment"],
            "frameworks": sorted(want),
            "counts": fnd.counts(results),  # of the results the pack carries
        },
        "results": results,
        "controls": [c for c in doc.get("controls", []) if c.get("framework") in want],
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
    records = Records({}, frozenset())
    if request.findings is not None:
        site_doc = _filter_frameworks(fnd.validate(request.findings), request.frameworks)
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
        earlier_key = _signer_of(log, request.previous, verifier)
        previous_checkpoint(request.previous, earlier_key, log.origin)
    if request.checkpoint is not None:  # key separation: no log private key here
        from edgeaudit.pack.given import given_checkpoint

        where = "--checkpoint" if request.log_key is None else f"the checkpoint of {log.origin}"
        cp = given_checkpoint(log, request.checkpoint, [verifier], where)
    else:  # with the cosignatures of the witnesses in edgeaudit.toml, if any
        from edgeaudit.witness.gather import cosign

        cp, _ = cosign(config, log, sign_checkpoint(config, log))
    cp = _with_transition(config, log, cp, verifier, own=request.log_key is None)
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
                        quarantine=_quarantine(log) if own_site else None,
                        remediated=_remediated(log, doc, request.period, cp.tree_size),
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


def _remediated(
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


def _signer_of(log: EvidenceLog, note: bytes, verifier: Verifier) -> Verifier:
    """The log key that signed ``note``, following the key transitions the store holds (the
    previous pack may predate a rotation); ``verifier`` when none did (the caller refuses)."""
    from edgeaudit.errors import NoteError
    from edgeaudit.verify.keychain import KeyChain

    with log.reader() as reader:
        notes = [c.note.encode("utf-8") for c in reader.checkpoints()]
    try:
        return KeyChain.from_notes([verifier], notes, log.origin).signer_of(note, log.origin)
    except NoteError:
        return verifier


def _with_transition(
    config: WorkspaceConfig, log: EvidenceLog, cp: StoredCheckpoint, verifier: Verifier, own: bool
) -> StoredCheckpoint:
    """``cp``, or the store's transition checkpoint of its very size when the log's key changed
    there and ``cp`` is another note of that tree (e.g. ``--checkpoint`` signed by one of the
    two keys alone): the pack carries the hand-over as its checkpoint, so an auditor of either
    key can follow it. With the cosignatures the workspace keeps for it (own log only)."""
    if is_transition(cp.note):
        return cp
    with log.reader() as reader:
        note = transition_at(reader, verifier, log.origin, cp.tree_size, cp.root_hash)
    if note is None:
        return cp
    if own:
        from edgeaudit.verify.witnesses import witnessed_note

        note = witnessed_note(config.root, note, cp.tree_size)
    return replace(cp, note=note)


def _quarantine(log: EvidenceLog) -> list[tuple[str, str, int]]:
    """The quarantine per (source kind, reason) with counts, for the report's data quality."""
    with log.reader() as reader:
        return [(str(k), str(r), int(n)) for k, r, n in reader.quarantine_counts()]


def period_assessment(
    config: WorkspaceConfig,
    log: EvidenceLog,
    policies: Policies,
    period: Period,
    signs: bool = True,
) -> dict[str, Any]:
    """The site assessment of ``period`` a pack of the current snapshot carries.

    The latest recorded assessment of the period (``policy.recorded.latest_for_snapshot``) when
    nothing but its own results came after it and the engine and policy files are the same;
    else a fresh evaluation of ``policies``, with the store-integrity check (the log re-hashed
    against its signed checkpoints with the workspace's verifier key), recorded: the assessment
    is evidence. The document is the same whichever way it came (``counts`` of every status,
    no word on whether it was reused), so the same snapshot gives the same pack; a tenant pack
    restricts it with :func:`findings.for_view`."""
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.policy.engine import evaluate, rule_descriptions
    from edgeaudit.policy.record import record
    from edgeaudit.policy.recorded import latest_for_snapshot
    from edgeaudit.verify import verify_log

    start, end = period.start_text, period.end_text
    doc = latest_for_snapshot(
        log,
        start,
        end,
        None,
        policies.catalogue,
        policy_digest=policies.digest,
        mapped={ref for rule in policies.rules.rules for ref in rule.controls},
        rules=rule_descriptions(policies),
    )
    if doc is None and not signs:
        raise InputError(
            f"no recorded assessment of {period.label} is current, and with --checkpoint this "
            "host does not sign: run `edgeaudit evaluate` for the period, have the log key's "
            "holder sign a checkpoint after it (`edgeaudit checkpoint sign --out FILE`), and "
            "pass that note with --checkpoint"
        )
    if doc is None:
        # judged at a signed checkpoint, so the pack can state the population against it
        at = sign_checkpoint(config, log).tree_size
        verifiers = [Verifier.parse(config.verifier_key)]
        assessment = evaluate(
            policies,
            log,
            start=start,
            end=end,
            verify=lambda: verify_log(log, verifiers),
            at_size=at,
        )
        record(assessment, log)
        doc = assessment.to_dict()
    return fnd.carried(doc)


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
