"""``verify PACK`` of a campus pack (``edgeaudit-pack/3``): its parts (edgeaudit.verify.
pack_campus), then its findings bound to the central log and every citation to the part of its
origin (docs/pack-format.md, "Campus packs"; docs/adr/0018-campus-assessment-and-packs.md,
"Binding rule").

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edgeaudit.canonical import EMPTY_ROOT
from edgeaudit.note.verifier import Verifier
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import Revocation
from edgeaudit.verify.pack_campus import Part, check_logs, verify_parts
from edgeaudit.verify.pack_campus_coverage import check_coverage
from edgeaudit.verify.pack_entries import Cited
from edgeaudit.verify.pack_files import PackFiles, PackReport
from edgeaudit.verify.pack_findings import check_binding, check_csv, check_oscal, load_findings
from edgeaudit.verify.pack_keys import (
    ManifestChainKey,
    check_manifest_revoked,
    check_manifest_window,
)

if TYPE_CHECKING:
    from edgeaudit.verify.witnesses import WitnessPolicy


def verify_campus_pack(
    files: PackFiles,
    manifest: dict[str, Any],
    signer: ManifestChainKey,
    keys: Sequence[Verifier],
    report: PackReport,
    revoked: Sequence[Revocation] = (),
    kept_notes: Sequence[tuple[str, bytes]] = (),
    witness_policy: WitnessPolicy | None = None,
) -> None:
    logs = check_logs(manifest, report)
    if logs is None:
        return
    central = str(manifest.get("origin"))
    origins = {central, *(str(item["origin"]) for item in logs)}
    doc, mixed = load_findings(files, manifest, report)
    cited = campus_cited(doc, mixed, central, origins, report)
    parts = verify_parts(
        files, manifest, logs, keys, cited, report, revoked, kept_notes, witness_policy
    )
    check_manifest_revoked(signer.key.kid, report.tree_size, revoked, report)
    check_manifest_window(signer, report.tree_size, report)
    if parts[0].size is not None:
        check_binding(doc, cited[central], manifest, report)
    check_judged(doc, parts, report, cited[central])
    check_coverage(doc, central, report)
    check_csv(files, doc, report, campus=True)
    check_oscal(files, doc, report, campus=True)


def _ref(value: Any) -> tuple[int, str, Any] | None:
    if not isinstance(value, dict):
        return None
    idx, leaf = value.get("index"), value.get("leaf_hash")
    if isinstance(idx, bool) or not isinstance(idx, int) or not isinstance(leaf, str):
        return None
    return idx, leaf, value.get("origin")


def campus_cited(
    doc: dict[str, Any] | None,
    mixed: Cited,
    central: str,
    origins: set[str],
    report: PackReport,
) -> dict[str, Cited]:
    """What the results cite, per origin: each evidence reference under its ``origin`` (which
    must be a log of the pack), each result's record under the central origin (where the
    assessment was recorded: its ``origin`` must be the manifest's). ``mixed``: what
    :func:`load_findings` gathered by index alone (its records are the central ones)."""
    out = {o: Cited() for o in origins}
    main = out[central]
    main.records = dict(mixed.records)
    main.site_wide_records = set(mixed.site_wide_records)
    if doc is None:
        return out
    for i, r in enumerate(doc.get("results") or []):
        if not isinstance(r, dict):
            continue
        rid = str(r.get("id"))
        evidence = r.get("evidence")
        for j, ev in enumerate(evidence if isinstance(evidence, list) else []):
            ref = _ref(ev)
            if ref is None:
                continue  # reported by load_findings
            index, leaf, origin = ref
            if set(ev) != {"index", "leaf_hash", "origin"} or origin not in origins:
                report.add(
                    pf.FINDINGS_JSON,
                    f"results[{i}] ({rid}) evidence[{j}] cites log {origin!r}: a campus pack's "
                    "reference is {index, leaf_hash, origin} with the origin of one of its logs "
                    f"({', '.join(sorted(origins))})",
                )
                continue
            out[origin].refs.setdefault(index, []).append((rid, leaf))
        record = _ref(r.get("record"))
        if record is None:
            continue  # reported by load_findings
        index, leaf, origin = record
        if origin != central or set(r["record"]) != {"index", "leaf_hash", "origin"}:
            report.add(
                pf.FINDINGS_JSON,
                f"results[{i}] ({rid}) record names log {origin!r}: the assessment is recorded "
                f"in the central log {central!r}, and its records are proven there",
            )
            main.records.pop(index, None)
            continue
        main.refs.setdefault(index, []).append((rid, leaf))
    return out


def check_judged(
    doc: dict[str, Any] | None,
    parts: Sequence[Part],
    report: PackReport,
    central_cited: Cited | None = None,
) -> None:
    """The assessment's ``logs`` names exactly the pack's logs, each at its part's checkpoint
    or at an earlier checkpoint its consistency proofs prove (the assessment judged a prefix
    of the log the pod's key signed), and every citation lies below its log's judged size.
    A log judged at size 0 with the empty tree's root (a pod the mirror never synced) needs
    no part: the empty tree is a prefix of every log, and nothing can cite it. A pod that has
    a part is never judged so; the central log may be (a central workspace that only mirrors
    pods holds nothing of its own when it is first evaluated), when every entry its part
    carries is a record of the results (``central_cited``: what they cite in it), so the pack
    shows nothing of it that the assessment neither judged nor binds."""
    if doc is None:
        return
    header = doc.get("assessment")
    logs = header.get("logs") if isinstance(header, dict) else None
    if not isinstance(logs, list):
        report.add(
            pf.FINDINGS_JSON, "assessment.logs is missing: a campus assessment names its logs"
        )
        return
    judged: dict[str, int] = {}
    empty: set[str] = set()
    for i, item in enumerate(logs):
        if not isinstance(item, dict) or set(item) != {"origin", "tree_size", "root_hash"}:
            report.add(
                pf.FINDINGS_JSON, f"assessment.logs[{i}] is not {{origin, tree_size, root_hash}}"
            )
            continue
        judged[str(item["origin"])] = (
            item["tree_size"] if isinstance(item["tree_size"], int) else -1
        )
        part = next((p for p in parts if p.origin == item["origin"]), None)
        if (item["tree_size"], item["root_hash"]) == (0, EMPTY_ROOT.hex()):
            if part is not None and part is parts[0]:
                _central_judged_empty(i, part, central_cited, report)
                continue
            if part is not None:  # a pod the pack proves was synced: never judged empty
                report.add(
                    pf.FINDINGS_JSON,
                    f"assessment.logs[{i}] judged {item['origin']} as the empty tree, but the "
                    f"pack has its part {part.file(pf.CHECKPOINT)} (size {part.size})",
                )
                continue
            empty.add(str(item["origin"]))  # a pod never synced: judged as the empty tree,
            continue  # a prefix of any log: nothing to prove, nothing it can cite
        if part is None:
            report.add(
                pf.FINDINGS_JSON,
                f"assessment.logs[{i}] judged log {item['origin']!r}, which the pack has no "
                "part for",
            )
            continue
        if part.size is None or part.root is None:
            continue  # its checkpoint is unproven: reported
        size, root = item["tree_size"], item["root_hash"]
        at = (
            part.root.hex()
            if size == part.size
            else (part.proven[size].hex() if size in part.proven else None)
        )
        if at is None:
            report.add(
                pf.FINDINGS_JSON,
                f"assessment.logs[{i}] judged {item['origin']} at size {size!r}, neither the "
                f"checkpoint of {part.file(pf.CHECKPOINT)} (size {part.size}) nor one its "
                "consistency proofs prove the log grew from",
            )
        elif at != root:
            report.add(
                pf.FINDINGS_JSON,
                f"assessment.logs[{i}] judged {item['origin']} at size {size} with root "
                f"{root!r:.70}, the log's key signed root {at} at that size",
            )
    named = sorted(judged)
    order = [item.get("origin") for item in logs if isinstance(item, dict)]
    if order != named:
        report.add(pf.FINDINGS_JSON, f"assessment.logs is not sorted by origin: {order}")
    central = parts[0] if parts else None
    if (
        central is not None
        and isinstance(header, dict)
        and (header.get("tree_size") != judged.get(central.origin))
    ):
        report.add(
            pf.FINDINGS_JSON,
            f"assessment.tree_size is {header.get('tree_size')!r}, the central log "
            f"{central.origin} is judged at {judged.get(central.origin)!r} in assessment.logs",
        )
    proven = {p.origin for p in parts}
    if not proven <= set(judged) or set(judged) - proven - empty or len(judged) != len(logs):
        report.add(
            pf.FINDINGS_JSON,
            f"assessment.logs names {named}, the pack's logs are {sorted(p.origin for p in parts)}",
        )
    for r in doc.get("results") or []:
        if not isinstance(r, dict):
            continue
        for ev in r.get("evidence") or []:
            ref = _ref(ev)
            if ref is None or ref[2] not in judged:
                continue
            if ref[0] >= judged[ref[2]]:
                report.add(
                    pf.FINDINGS_JSON,
                    f"result {r.get('id')} cites {ref[2]}#{ref[0]}, at or beyond the size "
                    f"{judged[ref[2]]} of that log the assessment judged",
                    index=ref[0],
                )


def _central_judged_empty(i: int, part: Part, cited: Cited | None, report: PackReport) -> None:
    """The central log judged as the empty tree (it held nothing when it was evaluated; the
    assessment's records came after): every entry its part carries must be a record of a
    carried result, bound to the findings (:func:`check_binding`); any other entry would be
    evidence of the central log the pack shows and the assessment did not judge."""
    if part.size is None:
        return  # its checkpoint is unproven: reported
    records = 0 if cited is None else len(cited.records.keys() & cited.present.keys())
    if report.entries != records:
        report.add(
            pf.FINDINGS_JSON,
            f"assessment.logs[{i}] judged the central log {part.origin} as the empty tree, but "
            f"its part {part.file(pf.CHECKPOINT)} (size {part.size}) carries entries that are "
            f"not records of the results ({report.entries - records} of {report.entries}): "
            "evidence the assessment neither judged nor binds",
        )
