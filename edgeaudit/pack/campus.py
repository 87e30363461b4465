"""``edgeaudit pack build --campus``: a campus pack, ``edgeaudit-pack/3`` (docs/pack-format.md,
"Campus packs"; docs/adr/0018-campus-assessment-and-packs.md).

The central workspace's own log is the pack's main part, written as :func:`build.build_pack`
writes a /2 pack (a checkpoint signed here, or ``--checkpoint FILE``). Every ``[[mirror]]`` of
``edgeaudit.toml`` is a part ``p<k>`` (k = 1, 2, ... by origin): the pod's checkpoint the mirror
holds (signed by the pod's key, never by this workspace), the part's entries with one
multi-proof against that note's root, consistency proofs from every earlier checkpoint of the
pod the mirror held, and from a kept pod note given with ``--previous``. Parts are built one
after another, so memory is that of the largest log's tree (32 bytes an entry). Nothing is
written into a pod's log.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.canonical import canonical_json
from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError, TamperError
from edgeaudit.note.verifier import Verifier
from edgeaudit.pack.build import _now
from edgeaudit.pack.campus_findings import (
    campus_findings,
    check_citations,
    cited_by_origin,
    write_findings,
)
from edgeaudit.pack.campus_pods import campus_pods, note_origin, signer_of
from edgeaudit.pack.checkpoint import key_that_signed as _signer_of
from edgeaudit.pack.checkpoint import with_transition as _with_transition
from edgeaudit.pack.consistency import from_earlier, from_previous, previous_checkpoint
from edgeaudit.pack.container import attachments, discard, prepare_out, seal, zip_pack
from edgeaudit.pack.evidence import EvidenceResult, write_evidence
from edgeaudit.pack.manifest import content_manifest, list_files
from edgeaudit.pack.mirrored import pod_site
from edgeaudit.pack.period import Period
from edgeaudit.pack.report_campus import LogFigures
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import EvidenceLog, Store, StoredCheckpoint
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.manifest_key import manifest_signing_key

if TYPE_CHECKING:
    from edgeaudit.policy.files import Policies


@dataclass(frozen=True)
class CampusRequest:
    period: Period
    out: Path
    tenant: str | None = None
    frameworks: tuple[str, ...] = ()
    # the campus assessment (evaluate --campus, recorded in the central log); None: no findings
    findings: Mapping[str, Any] | None = None
    inventory: Inventory | None = None  # the campus inventory (tenant packs need it)
    previous: tuple[bytes, ...] = ()  # kept checkpoint notes, each routed by its origin
    checkpoint: bytes | None = None  # the central log's note signed elsewhere (key separation)
    pdf: bool = True
    raci: Sequence[Mapping[str, Any]] | None = None
    supports_only: Collection[str] | None = None
    # without findings: the campus assessment of the period by these policies (the recorded
    # one while current, else evaluated and recorded); None: a pack without findings
    policies: Policies | None = None


@dataclass(frozen=True)
class PartResult:
    part: str
    origin: str
    tree_size: int
    root_hash: str
    entries: int
    redacted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "entries": self.entries,
            "redacted": self.redacted,
        }


@dataclass(frozen=True)
class CampusResult:
    out: Path
    tree_size: int
    root_hash: str
    entries: int
    redacted: int
    findings: int
    parts: list[PartResult] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    unsynced: list[str] = field(default_factory=list)  # [[mirror]] pods without a part
    manifest_key: str = ""
    checkpoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": pf.FORMAT_V3,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "entries": self.entries,
            "redacted": self.redacted,
            "findings": self.findings,
            "parts": [p.to_dict() for p in self.parts],
            "unsynced": self.unsynced,
            "files": self.files,
            "manifest_key": self.manifest_key,
        }


def _route_previous(notes: Sequence[bytes], origins: Collection[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i, note in enumerate(notes, 1):
        where = f"--previous (note {i})"
        origin = note_origin(note, where)
        if origin not in origins:
            raise InputError(
                f"{where} is a checkpoint of log {origin!r}, which the campus pack has no part "
                f"for ({', '.join(sorted(origins))})"
            )
        if origin in out:
            raise InputError(f"{where}: a second previous checkpoint of log {origin}")
        out[origin] = note
    return out


def build_campus_pack(
    config: WorkspaceConfig, store: Store, request: CampusRequest
) -> CampusResult:
    if request.tenant is not None:
        if request.inventory is None:
            raise InputError("a tenant campus pack needs the campus inventory (--inventory FILE)")
        view = TenantView.for_tenant(request.inventory, request.tenant)
    else:
        view = TenantView.site()
    log = store.log(config.origin)
    if request.findings is None and request.policies is not None:
        from edgeaudit.pack.campus_assessment import with_assessment

        request = with_assessment(config, store, log, request)
    pods, unsynced = campus_pods(config, store)
    origins = [config.origin, *(p.mirror.origin for p in pods)]
    previous = _route_previous(request.previous, origins)
    doc, site_wide = campus_findings(log, request, view, config.origin)
    cited = cited_by_origin(doc, config.origin)

    verifier = Verifier.parse(config.verifier_key)
    earlier_key = verifier
    if config.origin in previous:
        earlier_key = _signer_of(log, previous[config.origin], verifier)
        previous_checkpoint(previous[config.origin], earlier_key, log.origin)
    if request.checkpoint is not None:
        from edgeaudit.pack.given import given_checkpoint

        cp = given_checkpoint(log, request.checkpoint, [verifier], "--checkpoint")
    else:
        from edgeaudit.witness.gather import cosign
        from edgeaudit.workspace.signing import sign_checkpoint

        cp, _ = cosign(config, log, sign_checkpoint(config, log))
    cp = _with_transition(config, log, cp, verifier, own=True)
    check_citations(doc, cp.tree_size, pods, config.origin)

    work, zipped = prepare_out(request.out)
    try:
        names: list[str] = []
        digests: dict[str, dict[str, Any]] = {}
        central = _write_part(
            work,
            "",
            log,
            cp,
            verifier,
            earlier_key,
            previous.get(config.origin),
            request.period,
            view,
            cited.get(config.origin, {}),
            site_wide,
            config.db_url,
            names,
            digests,
        )
        parts: list[PartResult] = []
        items: list[dict[str, Any]] = []
        # each part's report figures, as its evidence pass gathered them (no second pass)
        figures = [LogFigures("", config.origin, central.stats)]
        for k, pod in enumerate(pods, 1):
            part = pf.part_name(k)
            key = pod.mirror.verifier()
            pod_earlier = key
            note = previous.get(pod.mirror.origin)
            if note is not None:
                from edgeaudit.pack.given import given_checkpoint

                where = f"--previous of {pod.mirror.origin}"
                given_checkpoint(pod.log, note, [key], where, pod.mirror.revoked)
                pod_earlier = signer_of(pod.log, note, pod.mirror)
            ev = _write_part(
                work,
                part,
                pod.log,
                pod.held,
                key,
                pod_earlier,
                note,
                request.period,
                view,
                cited.get(pod.mirror.origin, {}),
                (),
                config.db_url,
                names,
                digests,
            )
            figures.append(LogFigures(part, pod.mirror.origin, ev.stats))
            parts.append(
                PartResult(
                    part,
                    pod.mirror.origin,
                    pod.held.tree_size,
                    pod.held.root_hash.hex(),
                    ev.entries,
                    ev.stats.redacted,
                )
            )
            items.append(
                {
                    "part": part,
                    "origin": pod.mirror.origin,
                    "site": pod_site(pod.mirror.origin),
                    "checkpoint": {
                        "tree_size": pod.held.tree_size,
                        "root_hash": pod.held.root_hash.hex(),
                    },
                    "verifier_key": pod.mirror.verifier_key,
                    "entries": ev.entries,
                    "redacted": ev.stats.redacted,
                }
            )
        if doc is not None:
            write_findings(work, doc, config.site, request.period, names)
        header: dict[str, Any] = {
            "format": pf.FORMAT_V3,
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
            "entries": central.entries,
            "redacted": central.stats.redacted,
            "findings": len(doc["results"]) if doc is not None else None,
            "verifier_key": config.verifier_key,
            "logs": items,
        }
        listed = [{"path": n, **d} for n, d in digests.items()]
        listed += list_files(work, [n for n in names if n not in digests])
        with manifest_signing_key(config) as (private, public):
            if request.pdf:
                from edgeaudit.pack.report import ReportInput, render_report

                render_report(
                    ReportInput(
                        header=header,
                        content_manifest=content_manifest(header, listed),
                        findings=doc,
                        stats=central.stats,
                        checkpoint=cp.note,
                        quarantined=None,
                        manifest_key=public,
                        raci=request.raci,
                        inventory=request.inventory,
                        view=view,
                        quarantine=None,
                        remediated={},
                        attachments=attachments(work, names),
                        logs=figures,
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
    return CampusResult(
        out=request.out,
        tree_size=cp.tree_size,
        root_hash=cp.root_hash.hex(),
        entries=central.entries,
        redacted=central.stats.redacted,
        findings=len(doc["results"]) if doc is not None else 0,
        parts=parts,
        files=files,
        unsynced=unsynced,
        manifest_key=public.kid,
        checkpoint=cp.note,
    )


def _write_part(
    work: Path,
    part: str,
    log: EvidenceLog,
    cp: StoredCheckpoint,
    verifier: Verifier,
    earlier_key: Verifier,
    previous: bytes | None,
    period: Period,
    view: TenantView,
    cited: Mapping[int, str],
    site_wide: Collection[int],
    db_url: str,
    names: list[str],
    digests: dict[str, dict[str, Any]],
) -> EvidenceResult:
    """One part's files (``part`` "" for the central log, else ``p<k>``): the note, evidence
    and multi-proof, and the consistency proofs from ``previous`` and every earlier
    checkpoint the store holds of the log."""

    def name(base: str) -> str:
        return f"{part}.{base}" if part else base

    with log.reader() as reader:
        if reader.head()[0] < cp.tree_size:
            raise TamperError(f"the store holds fewer entries of {log.origin} than its checkpoint")
        ev = write_evidence(
            reader,
            cp.tree_size,
            cp.root_hash,
            period,
            view,
            cited,
            work / name(pf.EVIDENCE),
            work / name(pf.PROOFS),
            source=(db_url, log.origin),
            site_wide_records=frozenset(site_wide) & cited.keys(),
        )
        consistency = (
            from_previous(reader, previous, earlier_key, log.origin, cp.tree_size, cp.root_hash)
            if previous
            else None
        )
        earlier = from_earlier(reader, verifier, log.origin, cp.tree_size, cp.root_hash)
    digests.update(ev.digests)
    (work / name(pf.CHECKPOINT)).write_bytes(cp.note.encode("utf-8"))
    names += [name(pf.CHECKPOINT), name(pf.EVIDENCE), name(pf.PROOFS)]
    if consistency is not None:
        (work / name(pf.CONSISTENCY)).write_bytes(canonical_json(consistency))
        names.append(name(pf.CONSISTENCY))
    if earlier:
        (work / name(pf.CONSISTENCY_LOG)).write_bytes(earlier)
        names.append(name(pf.CONSISTENCY_LOG))
    return ev
