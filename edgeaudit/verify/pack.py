"""Offline verification of an audit pack (a directory or a ``.zip``); docs/pack-format.md.

Needs only the log's verifier key and the manifest's public key. Imports no signing code, no
database layer, no PDF renderer: ``tests/pack/test_verify_imports.py`` checks that in a fresh
interpreter. Every problem names the file, the line and entry index where it applies, and what
was expected and found; all problems are collected (up to a limit) rather than the first only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jose import jws
from jose.exceptions import JOSEError

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.verifier import Verifier
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify import pack_helper
from edgeaudit.verify.keychain import KeyChain, Revocation
from edgeaudit.verify.pack_consistency import check_consistency, check_kept
from edgeaudit.verify.pack_entries import check_entries
from edgeaudit.verify.pack_files import PackFileError, PackFiles, PackProblem, PackReport
from edgeaudit.verify.pack_findings import check_binding, check_csv, check_oscal, load_findings
from edgeaudit.verify.pack_key import ManifestKey
from edgeaudit.verify.pack_keys import (
    check_manifest_revoked,
    check_manifest_window,
    cosigned_note_problem,
    log_chain,
    manifest_chain,
    signing_key,
)

if TYPE_CHECKING:  # imported when a policy is given: it brings the witness client's modules
    from edgeaudit.verify.witnesses import WitnessPolicy

__all__ = ["PackFiles", "PackProblem", "PackReport", "verify_pack"]


def verify_pack(
    path: str | Path,
    log_keys: Sequence[Verifier],
    manifest_key: ManifestKey,
    kept: Checkpoint | None = None,
    revoked: Sequence[Revocation] = (),
    rollovers: Sequence[tuple[str, bytes]] = (),
    witness_policy: WitnessPolicy | None = None,
    kept_notes: Sequence[tuple[str, bytes]] = (),
) -> PackReport:
    """Every check of docs/pack-format.md; ``kept``: the auditor's kept checkpoint (verified
    with ``log_keys`` by the caller), which the pack must extend by a proof from exactly it.
    The log key chain starts at ``log_keys`` (``pack_keys.log_chain``); ``revoked`` keys sign
    nothing believed beyond their size; ``rollovers`` (where, statement) extend the manifest
    key from ``manifest_key``; ``witness_policy``: the checkpoint must carry the cosignatures
    it requires (edgeaudit.verify.witnesses); ``kept_notes`` (where, note): kept checkpoint
    notes, verified here (with the key of their origin in a campus pack, where each goes to
    the part of its origin), an :class:`InputError` when one does not verify."""
    files = PackFiles(Path(path))
    pack_helper.prepare(files, pf.EVIDENCE)  # starts while the manifest is checked
    report = PackReport(str(path))
    for name, problem in files.problems:
        report.add(name, problem)
    try:
        signer = signing_key(files, manifest_chain(manifest_key, rollovers, report))
        manifest = _check_manifest(files, signer.key, report)
        if manifest is None:
            return report
        report.tenant = manifest.get("tenant")
        report.format = manifest.get("format")
        if report.format == pf.FORMAT_V3:
            from edgeaudit.verify.pack_campus_check import verify_campus_pack

            verify_campus_pack(
                files, manifest, signer, log_keys, report, revoked, kept_notes, witness_policy
            )
            return report
        if kept_notes:
            from edgeaudit.verify.pack_campus import kept_single

            kept_all = [
                *([kept] if kept is not None else []),
                *kept_single(files, log_keys, revoked, kept_notes),
            ]
        else:
            kept_all = [kept] if kept is not None else []
        chain = log_chain(files, log_keys, manifest.get("origin"), revoked)
        checkpoint = _check_checkpoint(files, manifest, chain, report)
        if witness_policy is not None:  # the pack's note must carry the cosignatures
            from edgeaudit.verify.witnesses import policy_problem

            signed = files.read(pf.CHECKPOINT) if checkpoint is not None else None
            if (unmet := policy_problem(signed, witness_policy)) is not None:
                report.add(pf.CHECKPOINT, unmet)
        check_manifest_revoked(signer.key.kid, report.tree_size, revoked, report)
        check_manifest_window(signer, report.tree_size, report)
        doc, cited = load_findings(files, manifest, report)
        if checkpoint is not None:
            size, root = checkpoint
            check_entries(files, manifest, size, root, cited, report)
            check_binding(doc, cited, manifest, report)
            proven = check_consistency(files, manifest, chain, size, root, report)
            for one in kept_all:
                check_kept(one, manifest, size, root, proven, report)
        elif kept_all:
            report.add("--trusted-checkpoint", "not compared: the pack's checkpoint is unproven")
        check_csv(files, doc, report)
        check_oscal(files, doc, report)
    except PackFileError as exc:
        report.add(exc.name, exc.message)
    finally:
        pack_helper.discard(files)
        files.close()
    return report


def _canonical(raw: bytes, value: Any) -> bool:
    """Whether ``raw`` is the RFC 8785 form of the JSON value parsed from it (this also
    refuses duplicate member names, which parsers resolve differently)."""
    try:
        return canonical_json(value) == raw
    except CanonicalError:
        return False


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
    if not isinstance(manifest, dict) or manifest.get("format") not in pf.FORMATS:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        report.add(pf.MANIFEST, f"format {found!r}, expected one of {list(pf.FORMATS)}")
        return None
    if not _canonical(payload, manifest):
        report.add(pf.MANIFEST, "is not canonical JSON (RFC 8785)")
    if manifest.get("tenant") is not None and not isinstance(manifest.get("tenant"), str):
        report.add(pf.MANIFEST, f"tenant {manifest.get('tenant')!r} is neither null nor a name")
        return None
    listed = _listed(files, manifest, report)
    for name in files.names():
        if name not in listed and name not in pf.SIGNATURE_FILES:
            report.add(name, "in the pack but not in the manifest")
    assessed = [name for name in pf.ASSESSMENT_FILES if name in listed]
    if manifest.get("findings") is None and assessed:
        report.add(pf.MANIFEST, f"findings is null but the pack lists {', '.join(assessed)}")
    elif manifest.get("findings") is not None and len(assessed) != len(pf.ASSESSMENT_FILES):
        missing = sorted(set(pf.ASSESSMENT_FILES) - set(assessed))
        report.add(pf.MANIFEST, f"an assessment's files come together: {missing} not listed")
    content = {k: v for k, v in manifest.items() if k not in ("evidence_digest", "manifest_key")}
    content["files"] = [f for f in manifest.get("files", []) if f.get("path") != pf.REPORT]
    digest = hashlib.sha256(canonical_json(content)).hexdigest()
    if digest != manifest.get("evidence_digest"):
        report.add(
            pf.MANIFEST,
            f"evidence_digest is {manifest.get('evidence_digest')}, the files hash to {digest}",
        )
    return manifest


def _listed(
    files: PackFiles, manifest: dict[str, Any], report: PackReport
) -> dict[str, dict[str, Any]]:
    """The manifest's ``files``: format files only, each once, sorted, each present with its
    SHA-256 and size. ``checkpoint`` alone is compared by content (``_check_checkpoint``): a
    witness may add cosignature lines to the note, which changes its bytes, not what it says."""
    listed: dict[str, dict[str, Any]] = {}
    entries = manifest.get("files")
    if not isinstance(entries, list):
        report.add(pf.MANIFEST, "files is not a list")
        return listed
    allowed, required, notes = _format_files(manifest, report)
    paths = []
    for i, f in enumerate(entries):
        if not isinstance(f, dict) or not isinstance(f.get("path"), str):
            report.add(pf.MANIFEST, f"files[{i}] is not a {{path, sha256, size}} object")
            continue
        name = f["path"]
        paths.append(name)
        if name not in allowed:
            report.add(
                pf.MANIFEST,
                f"files[{i}] lists {name!r}, which is not a file of the format "
                f"({', '.join(sorted(pf.LISTED))}"
                + (", p<k>.<name> of its parts" if len(allowed) > len(pf.LISTED) else "")
                + ")",
            )
            continue
        if name in listed:
            report.add(pf.MANIFEST, f"files[{i}] lists {name!r} a second time")
            continue
        listed[name] = f
    if paths != sorted(paths):
        report.add(pf.MANIFEST, "files is not sorted by path")
    for name in required:
        if name not in listed:
            report.add(pf.MANIFEST, f"does not list the required file {name}")
    for name, f in listed.items():
        if not files.has(name):
            report.add(name, "listed in the manifest but missing from the pack")
            continue
        digest, size = files.sha256(name)
        if name in notes and (digest, size) != (f.get("sha256"), f.get("size")):
            # its signed body is compared in _check_checkpoint
            if name == pf.CHECKPOINT:
                report.cosigned = True
            else:
                report.cosigned_parts.add(name.split(".", 1)[0])
        elif digest != f.get("sha256"):
            report.add(name, f"SHA-256 is {digest}, the manifest says {f.get('sha256')}")
        elif size != f.get("size"):
            report.add(name, f"size is {size} bytes, the manifest says {f.get('size')}")
    return listed


def _format_files(
    manifest: dict[str, Any], report: PackReport
) -> tuple[frozenset[str], list[str], frozenset[str]]:
    """(the files the manifest may list, those it must list, the checkpoint notes compared by
    content). A campus pack (/3) adds its parts' files, ``p<k>.<name>`` for k = 1 .. the
    number of ``logs`` items; a /1 or /2 manifest with ``logs`` is refused (fail closed)."""
    if manifest.get("format") != pf.FORMAT_V3:
        if "logs" in manifest:
            report.add(
                pf.MANIFEST,
                f"a {manifest.get('format')} manifest has logs: only a campus pack "
                f"({pf.FORMAT_V3}) has parts",
            )
        return pf.LISTED, list(pf.REQUIRED), frozenset({pf.CHECKPOINT})
    logs = manifest.get("logs")
    n = len(logs) if isinstance(logs, list) else 0
    parts = [pf.part_name(k) for k in range(1, n + 1)]
    required = [*pf.REQUIRED, *(f"{p}.{name}" for p in parts for name in pf.PART_REQUIRED)]
    notes = frozenset({pf.CHECKPOINT, *(f"{p}.{pf.CHECKPOINT}" for p in parts)})
    return pf.LISTED | pf.part_files(n), required, notes


def _check_checkpoint(
    files: PackFiles, manifest: dict[str, Any], chain: KeyChain, report: PackReport
) -> tuple[int, bytes] | None:
    if not files.has(pf.CHECKPOINT):
        return None
    try:
        cp = chain.verify_checkpoint(files.read(pf.CHECKPOINT), manifest.get("origin"))
    except NoteError as exc:
        report.add(pf.CHECKPOINT, str(exc))
        return None
    if (
        report.cosigned
        and (why := cosigned_note_problem(files.read(pf.CHECKPOINT), cp, chain)) is not None
    ):
        report.add(pf.CHECKPOINT, why)
    want = manifest.get("checkpoint") or {}
    if cp.size != want.get("tree_size") or cp.root.hex() != want.get("root_hash"):
        report.add(
            pf.CHECKPOINT,
            f"signed tree size {cp.size} root {cp.root.hex()}, the manifest says "
            f"{want.get('tree_size')} root {want.get('root_hash')}",
        )
    report.tree_size, report.root_hash = cp.size, cp.root.hex()
    return cp.size, cp.root
