"""``edgeaudit checkpoint`` with witnesses: ask the ``[[witness]]`` tables of edgeaudit.toml to
cosign the checkpoint just signed, and keep the cosigned note in the workspace.

The store's checkpoints table is append-only (the log-signed note as signed), so the note with
the cosignatures is kept beside it, ``witnessed/<size>.note``, written atomically; cosignatures
gathered at an earlier run for the same size are kept. ``verify --witness-policy`` and
``pack build`` read it (edgeaudit.verify.witnesses).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgeaudit.canonical import signature_line, signed_note
from edgeaudit.note.verifier import CosignatureVerifier, parse_note
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.verify.witnesses import witnessed_note, witnessed_path
from edgeaudit.witness.cosign import Witness, collect_cosignatures
from edgeaudit.workspace.config import WorkspaceConfig


@dataclass(frozen=True)
class WitnessOutcome:
    name: str
    url: str
    cosigned: bool
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "cosigned": self.cosigned, "error": self.error}


def cosign(
    config: WorkspaceConfig, log: EvidenceLog, cp: StoredCheckpoint
) -> tuple[StoredCheckpoint, tuple[WitnessOutcome, ...]]:
    """``cp`` with the cosignatures kept and those the configured witnesses give now, and each
    witness's outcome. Witnesses that are down or refuse are reported, never fatal."""
    kept = witnessed_note(config.root, cp.note, cp.tree_size)
    if not config.witnesses or cp.tree_size == 0:
        return replace(cp, note=kept), ()

    def proof(old: int, new: int) -> list[bytes]:
        with log.reader() as reader:
            return list(reader.consistency_proof(old, new))

    timeout = max(w.timeout for w in config.witnesses)
    ws = [Witness(w.url, CosignatureVerifier.parse(w.key)) for w in config.witnesses]
    result = collect_cosignatures(cp.note.encode(), ws, proof, timeout=timeout)
    outcomes = tuple(
        WitnessOutcome(w.name, w.url, bool(a.lines), a.error)
        for w, a in zip(config.witnesses, result.answers, strict=True)
    )
    parsed = parse_note(result.note)
    lines = [signature_line(s.name, s.key_id, s.signature) for s in parsed.signatures]
    for s in parse_note(kept.encode()).signatures:  # cosignatures from earlier runs
        line = signature_line(s.name, s.key_id, s.signature)
        if line not in lines and not any(x.name == s.name for x in parsed.signatures):
            lines.append(line)
    note = signed_note(parsed.body, lines).decode()
    if note != cp.note:
        _write(witnessed_path(config.root, cp.tree_size), note)
    return replace(cp, note=note), outcomes


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
