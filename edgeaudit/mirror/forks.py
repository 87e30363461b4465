"""A fork: the pod's key signed a checkpoint that contradicts what the mirror holds.

The mirror never stores over what it holds. It keeps both signed notes, the proof that the
pod's key signed two histories, as a file (``mirror/forks/<slug>-<size>.txt``, mode 600) and as
a ``mirror.fork`` alert entry appended to the central workspace's own log (the normal append
path, so the proof is itself tamper-evident and exported with the log), and stops syncing the
origin until an operator settles it: ``mirror resolve ORIGIN --keep-held``
(:func:`resolve`) or by moving the file to ``mirror/forks/resolved/`` by hand.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from edgeaudit.events import prepare
from edgeaudit.mirror.state import MirrorFiles, now
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace.mirrors import MirrorSource

FORK_KIND = "mirror.fork"
RESOLVED_KIND = "mirror.fork_resolved"


def advice(files: MirrorFiles, proofs: list[Path]) -> str:
    names = ", ".join(str(p.relative_to(files.root)) for p in proofs)
    return (
        f"the mirror of {files.origin} is stopped by a fork proof ({names}; also in this "
        f"workspace's log as a {FORK_KIND} entry): two checkpoints signed by the pod's key "
        "contradict each other, so the pod's history was rewritten or its key is misused. "
        "The mirror keeps what it holds. Investigate with the pod's operator; once the held "
        f"history is established as the real one, `edgeaudit mirror resolve {files.origin} "
        "--keep-held --reason TEXT` archives the proof in mirror/forks/resolved/ and syncs "
        "again (a pod whose history was really replaced is mirrored under a new origin and key)"
    )


def record_fork(
    files: MirrorFiles,
    own_log: EvidenceLog,
    source: MirrorSource,
    held_note: bytes,
    held_size: int,
    new_note: bytes,
    new_size: int,
    reason: str,
) -> Path:
    """Keep the proof file and append the alert entry; the proof file's path."""
    seen = now()
    text = (
        "edgeaudit mirror: fork proof\n"
        f"origin: {source.origin}\n"
        f"url: {source.url}\n"
        f"pod key: {source.verifier_key}\n"
        f"seen: {seen}\n"
        f"reason: {reason}\n"
        "\n"
        f"--- checkpoint the mirror holds (size {held_size}):\n"
        f"{held_note.decode('utf-8')}"
        f"--- checkpoint the pod serves now (size {new_size}):\n"
        f"{new_note.decode('utf-8')}"
    )
    path = files.keep_fork(new_size, text)
    event = {
        "time": seen,
        "kind": FORK_KIND,
        "source": "mirror",
        "origin": source.origin,
        "url": source.url,
        "reason": reason,
        "held_size": held_size,
        "held_note": held_note.decode("utf-8"),
        "new_size": new_size,
        "new_note": new_note.decode("utf-8"),
        "proof_file": str(path.relative_to(files.root)),
    }
    own_log.append([prepare(event)])
    return path


def record_missing(
    files: MirrorFiles, own_log: EvidenceLog, source: MirrorSource, proofs: list[Path]
) -> int:
    """Append the ``mirror.fork`` entry of a proof file that has none (the mirror stopped
    between keeping the file and appending its entry); how many were appended. The entry
    carries the whole proof file, both signed notes included."""
    names = {str(p.relative_to(files.root)) for p in proofs}
    with own_log.reader() as reader:
        size, _ = reader.head()
        for _idx, body, _leaf in reader.select([FORK_KIND], None, None, size):
            rec = orjson.loads(body)
            if rec.get("origin") == source.origin:
                names.discard(rec.get("proof_file"))
    for name in sorted(names):
        event = {
            "time": now(),
            "kind": FORK_KIND,
            "source": "mirror",
            "origin": source.origin,
            "url": source.url,
            "reason": "a fork proof kept without its entry (the mirror stopped in between)",
            "proof_file": name,
            "proof": (files.root / name).read_text("utf-8", errors="replace"),
        }
        own_log.append([prepare(event)])
    return len(names)


def resolve(
    files: MirrorFiles,
    own_log: EvidenceLog,
    source: MirrorSource,
    held_size: int,
    reason: str,
) -> list[Path]:
    """Settle the origin's open fork proofs for the held history: append one
    ``mirror.fork_resolved`` entry naming them (after the ``mirror.fork`` entries they may
    lack), then move them to ``forks/resolved/`` (never over a file there); the new paths.
    Nothing in the store changes."""
    proofs = files.forks()
    record_missing(files, own_log, source, proofs)
    names = [str(p.relative_to(files.root)) for p in proofs]
    done: set[str] = set()
    with own_log.reader() as reader:
        size, _ = reader.head()
        for _idx, body, _leaf in reader.select([RESOLVED_KIND], None, None, size):
            rec = orjson.loads(body)
            if rec.get("origin") == source.origin and isinstance(rec.get("proof_files"), list):
                done.update(str(n) for n in rec["proof_files"])
    if any(n not in done for n in names):  # a resolve stopped before the move is not repeated
        event = {
            "time": now(),
            "kind": RESOLVED_KIND,
            "source": "mirror",
            "origin": source.origin,
            "url": source.url,
            "decision": "keep-held",
            "held_size": held_size,
            "reason": reason,
            "proof_files": names,
        }
        own_log.append([prepare(event)])
    folder = files.base / "forks" / "resolved"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    moved = []
    for path in proofs:
        target = folder / path.name
        n = 0
        while target.exists():
            n += 1
            target = folder / f"{path.stem}.{n}{path.suffix}"
        path.rename(target)
        moved.append(target)
    return moved
