"""A campus pack (``edgeaudit-pack/3``): the central log's part, checked under the /2 rules, and
one part per pod log, each checked against its own pod's key (docs/pack-format.md, "Campus
packs"; docs/adr/0018-campus-assessment-and-packs.md).

Every part is read through a :class:`~edgeaudit.verify.pack_files.PartFiles` view under its /2
file names, so the /2 checks (checkpoint, evidence, multi-proof, consistency, kept checkpoint)
run unchanged; their problems are reported under the part's member names (``p2.proofs.jsonl``).

Keys are routed by name: a C2SP verifier key's name is its log's origin, so a part is verified
with the trusted keys that name its origin, and only those. Verify side: no signing code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier, parse_note
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import Revocation
from edgeaudit.verify.pack_consistency import check_consistency, check_kept
from edgeaudit.verify.pack_entries import Cited, check_entries
from edgeaudit.verify.pack_files import PackFiles, PackReport, PartFiles
from edgeaudit.verify.pack_keys import log_chain

if TYPE_CHECKING:
    from edgeaudit.verify.witnesses import WitnessPolicy

KEY_OPTIONS = "--key VKEY or --keys FILE"


@dataclass
class Part:
    """One log of a campus pack as verified: ``name`` "" for the central part, else ``p<k>``."""

    name: str
    origin: str
    manifest: dict[str, Any]  # the pack's manifest with this part's members (a /2 view)
    size: int | None = None
    root: bytes | None = None
    proven: dict[int, bytes] = field(default_factory=dict)  # old size -> root, consistency

    def file(self, name: str) -> str:
        return f"{self.name}.{name}" if self.name else name


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_logs(manifest: dict[str, Any], report: PackReport) -> list[dict[str, Any]] | None:
    """The manifest's ``logs``: one item per pod log, parts ``p1 .. pN`` in order, origins
    sorted and unique and none the central one, each item exactly its members. None (and the
    problem reported) when it is not that: no part is then verified."""
    logs = manifest.get("logs")
    if not isinstance(logs, list):
        report.add(
            pf.MANIFEST, f"logs is {type(logs).__name__}, a {pf.FORMAT_V3} pack lists its parts"
        )
        return None
    ok = True
    origins: list[str] = []
    for k, item in enumerate(logs, 1):
        where = f"logs[{k - 1}]"
        if not isinstance(item, dict) or set(item) != pf.PART_KEYS:
            found = sorted(item) if isinstance(item, dict) else type(item).__name__
            report.add(pf.MANIFEST, f"{where} has members {found}, expected {sorted(pf.PART_KEYS)}")
            ok = False
            continue
        cp = item["checkpoint"]
        problems = []
        if item["part"] != pf.part_name(k):
            problems.append(f"part {item['part']!r}, expected {pf.part_name(k)!r}")
        if not isinstance(item["origin"], str) or not item["origin"]:
            problems.append(f"origin {item['origin']!r} is not a log origin")
        elif item["origin"] == manifest.get("origin"):
            problems.append("names the central log, which is the pack's main part")
        else:
            origins.append(item["origin"])
        if not isinstance(item["site"], str) or not isinstance(item["verifier_key"], str):
            problems.append("site and verifier_key must be strings")
        if (
            not isinstance(cp, dict)
            or set(cp) != pf.CHECKPOINT_KEYS
            or not _int(cp.get("tree_size"))
            or not isinstance(cp.get("root_hash"), str)
            or not pf.HASH_HEX.fullmatch(cp["root_hash"])
        ):
            problems.append(f"checkpoint {cp!r:.80} is not {{tree_size, root_hash}}")
        if not _int(item["entries"]) or not _int(item["redacted"]):
            problems.append("entries and redacted must be counts")
        for p in problems:
            report.add(pf.MANIFEST, f"{where}: {p}")
        ok = ok and not problems
    if origins != sorted(set(origins)):
        report.add(pf.MANIFEST, "logs is not sorted by origin, or names an origin twice")
        ok = False
    return logs if ok else None


def keys_for(origin: str, keys: Sequence[Verifier]) -> list[Verifier]:
    """The trusted keys of the log ``origin``: those whose name is the origin."""
    return [k for k in keys if k.name == origin]


def parts_of(manifest: dict[str, Any], logs: list[dict[str, Any]]) -> list[Part]:
    """The central part and one per ``logs`` item, each with its /2 view of the manifest."""
    central = Part("", str(manifest.get("origin")), manifest)
    out = [central]
    for item in logs:
        view = {
            **manifest,
            "origin": item["origin"],
            "site": item["site"],
            "checkpoint": item["checkpoint"],
            "entries": item["entries"],
            "redacted": item["redacted"],
            "verifier_key": item["verifier_key"],
        }
        out.append(Part(item["part"], item["origin"], view))
    return out


def _kept_for(
    kept_notes: Sequence[tuple[str, bytes]], parts: Sequence[Part], report: PackReport
) -> dict[str, list[tuple[str, bytes]]]:
    """The auditor's kept notes by origin; a note of an origin the pack has no part for fails
    (the campus lost a log, or the pack leaves one out)."""
    by_origin: dict[str, list[tuple[str, bytes]]] = {}
    known = {p.origin for p in parts}
    for where, note in kept_notes:
        try:
            origin = Checkpoint.parse(parse_note(note).body).origin
        except (NoteError, InputError) as exc:
            raise InputError(f"{where}: not a signed checkpoint note: {exc}") from None
        if origin not in known:
            report.add(
                "--trusted-checkpoint",
                f"{where}: a kept checkpoint of log {origin!r}, which this campus pack has no "
                f"part for (it proves {', '.join(sorted(known))}): a log you kept is missing",
            )
            continue
        by_origin.setdefault(origin, []).append((where, note))
    return by_origin


def verify_parts(
    files: PackFiles,
    manifest: dict[str, Any],
    logs: list[dict[str, Any]],
    keys: Sequence[Verifier],
    cited: dict[str, Cited],
    report: PackReport,
    revoked: Sequence[Revocation] = (),
    kept_notes: Sequence[tuple[str, bytes]] = (),
    witness_policy: WitnessPolicy | None = None,
) -> list[Part]:
    """Every part: its note verified by its origin's key chain with the manifest's size and
    root, the witness policy, its entries and multi-proof, its consistency proofs and the
    kept notes of its origin. ``cited``: what the findings cite, per origin."""
    parts = parts_of(manifest, logs)
    kept = _kept_for(kept_notes, parts, report)
    for part in parts:
        trusted = keys_for(part.origin, keys)
        if not trusted:
            report.add(
                part.file(pf.CHECKPOINT),
                f"no trusted key names log {part.origin!r}: give its verifier key with "
                f"{KEY_OPTIONS} (obtained from that log's operator or a witness, never from "
                "the pack)",
            )
            continue
        if part.name:
            sub = PackReport(report.pack)
            sub.cosigned = part.name in report.cosigned_parts
            _verify_one(
                PartFiles(files, part.name),
                part,
                trusted,
                cited,
                sub,
                revoked,
                kept,
                witness_policy,
            )
            for p in sub.problems:
                if p.file in pf.PART_FILES:
                    report.add(part.file(p.file), p.message, p.line, p.index)
                else:  # e.g. a citation of this part's log in findings.json
                    report.add(p.file, f"log {part.origin}: {p.message}", p.line, p.index)
            report.warnings.extend(f"{part.name}: {w}" for w in sub.warnings)
            report.parts.append(
                {
                    "part": part.name,
                    "origin": part.origin,
                    "tree_size": sub.tree_size,
                    "root_hash": sub.root_hash,
                    "entries": sub.entries,
                    "redacted": sub.redacted,
                    "proven_from": sub.proven_from,
                    "consistency_from": sub.consistency_from,
                    "kept_from": sub.kept_from,
                }
            )
        else:
            _verify_one(files, part, trusted, cited, report, revoked, kept, witness_policy)
    return parts


def _verify_one(
    files: PackFiles,
    part: Part,
    trusted: list[Verifier],
    cited: dict[str, Cited],
    report: PackReport,
    revoked: Sequence[Revocation],
    kept: dict[str, list[tuple[str, bytes]]],
    witness_policy: WitnessPolicy | None,
) -> None:
    from edgeaudit.verify.pack import _check_checkpoint

    chain = log_chain(files, trusted, part.origin, revoked)
    checkpoint = _check_checkpoint(files, part.manifest, chain, report)
    if witness_policy is not None:
        from edgeaudit.verify.witnesses import policy_problem

        signed = files.read(pf.CHECKPOINT) if checkpoint is not None else None
        if (unmet := policy_problem(signed, witness_policy)) is not None:
            report.add(pf.CHECKPOINT, unmet)
    notes = kept.get(part.origin, [])
    if checkpoint is None:
        if notes:
            report.add(
                "--trusted-checkpoint", f"not compared: {part.file(pf.CHECKPOINT)} is unproven"
            )
        return
    part.size, part.root = checkpoint
    mine = cited.setdefault(part.origin, Cited())
    check_entries(files, part.manifest, part.size, part.root, mine, report)
    part.proven = check_consistency(files, part.manifest, chain, part.size, part.root, report)
    for where, note in notes:
        try:
            cp = chain.verify_checkpoint(note, part.origin)
        except NoteError as exc:
            raise InputError(
                f"{where}: the kept checkpoint does not verify with the key of log "
                f"{part.origin}: {exc}"
            ) from None
        check_kept(cp, part.manifest, part.size, part.root, part.proven, report)


def kept_single(
    files: PackFiles,
    keys: Sequence[Verifier],
    revoked: Sequence[Revocation],
    kept_notes: Sequence[tuple[str, bytes]],
) -> list[Checkpoint]:
    """The kept notes of a /1 or /2 pack, verified with the trusted keys and the transitions
    the pack carries (a kept note may be of a key the pack rotated to); exit 2 when one does
    not verify."""
    chain = log_chain(files, keys, None, revoked)
    out = []
    for where, note in kept_notes:
        try:
            out.append(chain.verify_checkpoint(note))
        except NoteError as exc:
            raise InputError(
                f"{where}: the kept checkpoint does not verify with the log key: {exc}"
            ) from None
    return out
