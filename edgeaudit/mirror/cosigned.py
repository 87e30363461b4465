"""The witnesses' cosignatures a pod's checkpoint was served with, kept beside the store.

A pod's ``serve`` publishes its newest checkpoint with the cosignatures ``edgeaudit
checkpoint`` gathered (a signed note may carry extra signature lines; clients ignore keys
they do not know). The mirror accepts a checkpoint on the pod's log key alone and holds it in
the store as the log signed it; the other lines are kept in
``mirror/witnessed/<slug>/<size>.note``, and a later copy of the same checkpoint (same signed
body) adds its lines: for each key (name and key id) the newest line served wins, lines of
keys no longer served are kept. They are not checked here (the mirror knows no witness keys):
``verify --log ORIGIN --witness-policy FILE`` checks them (a line of a trusted witness that
does not verify fails it) and reads them through
:func:`edgeaudit.verify.witnesses.witnessed_note`.
"""

from __future__ import annotations

from edgeaudit.canonical import signature_line, signed_note
from edgeaudit.errors import NoteError
from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.verifier import MAX_SIGNATURES, parse_note
from edgeaudit.verify.keychain import KeyChain


def keep_cosigned(files: MirrorFiles, size: int, note: bytes, chain: KeyChain) -> bool:
    """Keep the lines of ``note`` (verified with ``chain``, of tree ``size``) that are not the
    log's, merged with those kept for the same checkpoint; whether the kept copy changed."""
    parsed = parse_note(note)
    log_keys = {(v.name, v.key_id) for v in chain.verifiers}
    if all((s.name, s.key_id) in log_keys for s in parsed.signatures):
        return False
    lines = [signature_line(s.name, s.key_id, s.signature) for s in parsed.signatures]
    seen = {(s.name, s.key_id) for s in parsed.signatures}
    path = files.witnessed_path(size)
    try:
        kept: bytes | None = path.read_bytes()
    except FileNotFoundError:
        kept = None
    if kept is not None:
        try:
            old = parse_note(kept)
        except NoteError:
            old = None  # damaged: replaced by the copy served now
        if old is not None and old.body == parsed.body:
            for s in old.signatures:
                if (s.name, s.key_id) not in seen and len(lines) < MAX_SIGNATURES:
                    lines.append(signature_line(s.name, s.key_id, s.signature))
    text = signed_note(parsed.body, lines)
    if text == kept:
        return False
    files.write_witnessed(size, text)
    return True
