"""A pack's consistency proofs and the auditor's kept checkpoint (docs/pack-format.md,
"consistency.json and consistency.jsonl" and "Kept checkpoints").

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError, NoteError, ProofError
from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import KeyChain
from edgeaudit.verify.pack_files import PackFiles, PackReport, lines

_MEMBERS = frozenset({"new_size", "old_checkpoint", "old_size", "proof"})


def _canonical(raw: bytes, value: Any) -> bool:
    try:
        return canonical_json(value) == raw
    except CanonicalError:
        return False


def _proof(
    doc: Any,
    chain: KeyChain,
    origin: Any,
    size: int,
    root: bytes,
    report: PackReport,
    name: str,
    line: int | None,
) -> Checkpoint | None:
    """One ``{new_size, old_checkpoint, old_size, proof}`` object: the old checkpoint it proves
    the pack's tree extends, or None (the problem reported). Its note must be signed by a key
    of ``chain`` valid at its size: an earlier key up to its transition, not a revoked key
    beyond the size it is revoked at, never a key outside the chain."""
    if not isinstance(doc, dict) or set(doc) != _MEMBERS:
        report.add(name, f"expected exactly the members {sorted(_MEMBERS)}", line)
        return None
    try:
        note = str(doc["old_checkpoint"]).encode("utf-8")
        old = chain.verify_checkpoint(note, origin if isinstance(origin, str) else None)
    except NoteError as exc:
        report.add(name, f"old_checkpoint: {exc}", line)
        return None
    proof = doc["proof"]
    hashes = [pf.b64decode_strict(h) for h in proof] if isinstance(proof, list) else [None]
    if doc["new_size"] != size or doc["old_size"] != old.size:
        report.add(
            name,
            f"sizes {doc['old_size']!r} -> {doc['new_size']!r}, expected {old.size} (its "
            f"old_checkpoint) -> {size} (the pack's)",
            line,
        )
        return None
    if not 0 < old.size < size:
        report.add(
            name,
            f"a consistency proof from size {old.size} to {size}: RFC 9162 defines them only "
            "for 0 < old size < new size",
            line,
        )
        return None
    if any(h is None or len(h) != pf.HASH_SIZE for h in hashes):
        report.add(name, "proof is not a list of base64 32-byte hashes", line)
        return None
    try:
        verify_consistency(old.size, size, old.root, root, [h for h in hashes if h is not None])
    except ProofError as exc:
        report.add(name, f"from the checkpoint of size {old.size}: {exc}", line)
        return None
    return old


def check_consistency(
    files: PackFiles,
    manifest: dict[str, Any],
    chain: KeyChain,
    size: int,
    root: bytes,
    report: PackReport,
) -> dict[int, bytes]:
    """Every proof the pack carries, verified: {old size: old root} of the checkpoints it
    proves the log grew from, each old checkpoint signed by a key of the log key ``chain``
    valid at its size."""
    origin = manifest.get("origin")
    proven: dict[int, bytes] = {}
    if files.has(pf.CONSISTENCY):
        raw = files.read(pf.CONSISTENCY)
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            report.add(pf.CONSISTENCY, f"not JSON ({exc})")
            doc = None
        if doc is not None:
            if not _canonical(raw, doc):
                report.add(pf.CONSISTENCY, "is not canonical JSON (RFC 8785)")
            old = _proof(doc, chain, origin, size, root, report, pf.CONSISTENCY, None)
            if old is not None:
                proven[old.size] = old.root
                report.consistency_from = old.size
    if files.has(pf.CONSISTENCY_LOG):
        last = 0
        for number, raw in lines(files, pf.CONSISTENCY_LOG):
            try:
                doc = orjson.loads(raw)
            except ValueError as exc:
                report.add(pf.CONSISTENCY_LOG, f"not JSON ({exc})", number)
                continue
            if not raw.endswith(b"\n") or not _canonical(raw[:-1], doc):
                report.add(pf.CONSISTENCY_LOG, "line is not canonical JSON (RFC 8785)", number)
                continue
            old = _proof(doc, chain, origin, size, root, report, pf.CONSISTENCY_LOG, number)
            if old is None:
                continue
            if old.size <= last:
                report.add(
                    pf.CONSISTENCY_LOG,
                    f"old size {old.size} does not follow {last} (sizes must ascend)",
                    number,
                )
            last = max(last, old.size)
            if proven.get(old.size, old.root) != old.root:
                report.add(
                    pf.CONSISTENCY_LOG,
                    f"two checkpoints of size {old.size} with different roots",
                    number,
                )
            proven[old.size] = old.root
            report.proven_from += 1
    return proven


def check_kept(
    kept: Checkpoint,
    manifest: dict[str, Any],
    size: int,
    root: bytes,
    proven: dict[int, bytes],
    report: PackReport,
) -> None:
    """The auditor's kept checkpoint: the pack is at or beyond it and proves, from exactly
    that checkpoint, that the log only grew (else a rollback or a split view)."""
    where = "--trusted-checkpoint"
    if kept.origin != manifest.get("origin"):
        report.add(
            where,
            f"the kept checkpoint is of log {kept.origin!r}, "
            f"the pack of {manifest.get('origin')!r}",
        )
        return
    if kept.size > size:
        report.add(
            where,
            f"rollback: the pack's checkpoint has size {size}, older than the kept checkpoint "
            f"of size {kept.size}",
        )
        return
    if kept.size == size:
        if kept.root != root:
            report.add(
                where,
                f"split view: the pack's checkpoint and the kept one both have size {size} but "
                f"different roots ({root.hex()}, kept {kept.root.hex()})",
            )
            return
    elif kept.size not in proven:
        sizes = ", ".join(map(str, sorted(proven))) or "none"
        report.add(
            where,
            f"the pack carries no consistency proof from the kept checkpoint of size "
            f"{kept.size} (it proves from sizes: {sizes}); a proof from another checkpoint "
            "does not show the log grew from the one you kept",
        )
        return
    elif proven[kept.size] != kept.root:
        report.add(
            where,
            f"split view: the pack proves growth from a checkpoint of size {kept.size} with root "
            f"{proven[kept.size].hex()}, the kept one has root {kept.root.hex()}",
        )
        return
    report.kept_from = kept.size
