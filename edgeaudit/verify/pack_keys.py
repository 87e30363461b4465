"""Which keys a pack is verified with: the log key chain and revoked keys (docs/pack-format.md,
"Keys: separation, rotation, revocation").

The log key chain starts at the keys the auditor trusts and follows the transition checkpoints
the pack carries (its checkpoint and the earlier checkpoints of its consistency files); the
manifest key chain starts at the trusted manifest key and follows rollover statements the
auditor is given. Verify side: no signing code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson
from jose import jws
from jose.exceptions import JOSEError

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError, InputError, NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.transition import transition_keys
from edgeaudit.note.verifier import Verifier, verify_note
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.keychain import KeyChain, Revocation, revoked_at
from edgeaudit.verify.pack_files import PackFileError, PackFiles, PackReport, lines
from edgeaudit.verify.pack_key import ManifestKey

ROLLOVER_TYPE: Final = "edgeaudit manifest key rollover"
ROLLOVER_JWS_TYPE: Final = "edgeaudit-key-rollover+jws"


def _old_note(doc: object) -> bytes | None:
    note = doc.get("old_checkpoint") if isinstance(doc, dict) else None
    return note.encode("utf-8") if isinstance(note, str) else None


def log_chain(
    files: PackFiles, log_keys: Sequence[Verifier], origin: object, revoked: Sequence[Revocation]
) -> KeyChain:
    """The log key chain of this pack; malformed notes are skipped here (the checks of the
    files they are in report them)."""
    notes: list[bytes] = []
    try:
        if files.has(pf.CHECKPOINT):
            notes.append(files.read(pf.CHECKPOINT))
        if files.has(pf.CONSISTENCY):
            with contextlib.suppress(ValueError):
                notes.append(_old_note(json.loads(files.read(pf.CONSISTENCY))) or b"")
        if files.has(pf.CONSISTENCY_LOG):
            for _, raw in lines(files, pf.CONSISTENCY_LOG):
                try:
                    notes.append(_old_note(orjson.loads(raw)) or b"")
                except ValueError:
                    continue
    except PackFileError:
        pass  # reported by the file checks
    return KeyChain.from_notes(
        log_keys, [n for n in notes if n], origin if isinstance(origin, str) else None, revoked
    )


def cosigned_note_problem(note: bytes, cp: Checkpoint, chain: KeyChain) -> str | None:
    """Why the pack's ``checkpoint`` ``note`` (verified through ``chain`` as ``cp``), whose
    bytes differ from the note the manifest lists, is refused; None when it is accepted.

    A witness may add cosignature lines: that changes the file, not what the log signed. The
    manifest binds the checkpoint's origin, size and root, so the signed text of such a copy
    must be just those, or else a key transition of that size: exactly the ``prev-key`` and
    ``next-key`` lines, with valid signatures of both keys they name, one of them a key of the
    chain. Those lines state nothing but a hand-over each named key signed, which the chain
    follows by its own rules. Any other extension line is text the manifest does not bind, and
    is refused."""
    if not cp.extensions:
        return None
    refused = (
        "differs from the note the manifest lists, and its signed text is not just origin, "
        "size and root"
    )
    try:
        named = transition_keys(cp)
    except NoteError as exc:
        return f"{refused}: {exc}"
    if named is None or len(cp.extensions) != 2:
        return f"{refused} (nor a key transition: extension lines {list(cp.extensions)!r})"
    known = {v.verifier_key for v in chain.verifiers}  # whole keys: a 4-byte id can collide
    if not known & {k.verifier_key for k in named}:
        return f"{refused}: a key transition between keys outside the log key chain"
    for key in named:
        try:
            verify_note(note, [key])
        except NoteError:
            return f"{refused}: a key transition that {key.label}, a key it names, did not sign"
    return None


def check_manifest_revoked(
    kid: str, size: int | None, revoked: Sequence[Revocation], report: PackReport
) -> None:
    """A manifest signed by a key revoked as of size N is refused for a checkpoint beyond N
    (and when the pack's checkpoint is unproven, so its size is unknown)."""
    limit = revoked_at(kid, (), revoked)
    if limit is None:
        return
    if size is None:
        report.add(
            pf.MANIFEST_JWS,
            f"signed by manifest key {kid}, revoked as of tree size {limit}, and the pack's "
            "checkpoint is unproven",
        )
    elif size > limit:
        report.add(
            pf.MANIFEST_JWS,
            f"signed by manifest key {kid}, revoked as of tree size {limit}; this pack's "
            f"checkpoint has size {size}",
        )


@dataclass(frozen=True)
class ManifestChainKey:
    """A manifest key and the checkpoint sizes of the packs it may sign (``last`` None: no
    end)."""

    key: ManifestKey
    first: int = 0
    last: int | None = None


def _rollover(text: bytes, where: str) -> tuple[str, str, dict[str, Any]]:
    """The (previous kid, next kid, payload) of a rollover statement whose two JWS are
    well-formed and over the same canonical payload; signatures are checked by the caller."""
    try:
        tokens = text.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a rollover statement (not ASCII)") from None
    if len(tokens) != 3 or tokens[2] != "":
        raise InputError(f"{where}: a rollover statement is two JWS lines")
    kids = []
    payloads = []
    for token in tokens[:2]:
        try:
            header = jws.get_unverified_header(token)
            payloads.append(jws.get_unverified_claims(token))
        except JOSEError as exc:
            raise InputError(f"{where}: not a compact JWS ({exc})") from None
        if header.get("alg") not in pf.ALGORITHMS or header.get("typ") != ROLLOVER_JWS_TYPE:
            raise InputError(
                f"{where}: expected alg ES256 and typ {ROLLOVER_JWS_TYPE}, found "
                f"{header.get('alg')!r} and {header.get('typ')!r}"
            )
        kids.append(str(header.get("kid")))
    try:
        doc = json.loads(payloads[0])
        ok = payloads[0] == payloads[1] and canonical_json(doc) == payloads[0]
    except (ValueError, CanonicalError):
        ok, doc = False, None
    if not ok or not isinstance(doc, dict) or doc.get("type") != ROLLOVER_TYPE:
        raise InputError(f"{where}: the two signatures are not over one canonical rollover")
    return kids[0], kids[1], doc


def manifest_chain(
    anchor: ManifestKey, statements: Sequence[tuple[str, bytes]], report: PackReport
) -> tuple[ManifestChainKey, ...]:
    """The manifest keys trusted from ``anchor`` through the rollover statements the auditor
    was given (``(where, bytes)``), by tree size. A statement not signed by a key of the chain
    valid at its size and by the next key it names is not followed, and reported."""
    chain = [ManifestChainKey(anchor)]
    parsed = []
    for where, text in statements:
        previous, following, doc = _rollover(text, where)
        size = doc.get("tree_size")
        if type(size) is not int or size < 0:
            raise InputError(f"{where}: tree_size {size!r} is not a tree size")
        parsed.append((size, where, text, previous, following, doc))
    for size, where, text, previous, following, doc in sorted(parsed, key=lambda t: t[0]):
        held = [
            k
            for k in chain
            if k.key.kid == previous
            and k.first <= size
            and (k.last is None or size <= k.last)
            and doc.get("previous") == previous
        ]
        try:
            nxt = ManifestKey.parse(json.dumps(doc.get("next")), f"{where}: next")
            if not held or nxt.kid != following or doc["next"].get("kid") != nxt.kid:
                raise JOSEError("not signed by a trusted manifest key valid at its size")
            tokens = text.decode("ascii").split("\n")
            jws.verify(tokens[0], held[0].key.public_pem, algorithms=list(pf.ALGORITHMS))
            jws.verify(tokens[1], nxt.public_pem, algorithms=list(pf.ALGORITHMS))
        except (JOSEError, InputError, AttributeError) as exc:
            report.add(where, f"manifest key rollover at tree size {size} not followed: {exc}")
            continue
        chain = [replace(k, last=size) if k in held else k for k in chain]
        chain.append(ManifestChainKey(nxt, first=size))
    return tuple(chain)


def signing_key(files: PackFiles, chain: Sequence[ManifestChainKey]) -> ManifestChainKey:
    """The key of the chain the manifest says signed it (the anchor when none: the manifest
    check then reports the unknown key id)."""
    try:
        kid = jws.get_unverified_header(files.read(pf.MANIFEST_JWS).strip()).get("kid")
    except (JOSEError, PackFileError):
        return chain[0]
    return next((k for k in chain if k.key.kid == kid), chain[0])


def check_manifest_window(key: ManifestChainKey, size: int | None, report: PackReport) -> None:
    """A manifest key signs packs only within its rollovers: from the one that made it, up to
    the one that replaced it."""
    if size is None or (key.first <= size and (key.last is None or size <= key.last)):
        return
    when = (
        f"was replaced by the rollover at tree size {key.last}"
        if key.last is not None and size > key.last
        else f"is trusted only from the rollover at tree size {key.first}"
    )
    report.add(
        pf.MANIFEST_JWS,
        f"signed by manifest key {key.key.kid}, which {when}; this pack's checkpoint has size "
        f"{size}",
    )
