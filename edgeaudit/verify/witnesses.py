"""Witness policy for verifiers: a C2SP trust policy file (c2sp.org/tlog-policy), and the
cosigned checkpoint notes a workspace keeps.

Policy file lines (``#`` starts a comment; fields separated by spaces or tabs)::

    witness NAME VKEY [URL]       # a trusted witness (cosignature/v1 verifier key)
    group NAME K|any|all MEMBER…  # at least K of the members (witnesses or groups) are met
    quorum NAME|none              # exactly once: the witness or group that must be met
    log VKEY [URL]                # accepted and ignored here (the log key comes from --key)

As a shorthand, ``quorum N`` (a number that names no witness or group) means at least N of all
the witnesses listed. Imports no signing code: ``verify`` and ``verify PACK`` use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgeaudit.errors import InputError, NoteError, VerificationError
from edgeaudit.note.verifier import CosignatureVerifier, parse_note
from edgeaudit.witness.policy import check_witness_policy

WITNESSED_DIR = "witnessed"  # in the workspace: <size>.note, the checkpoint with cosignatures


@dataclass(frozen=True)
class Group:
    name: str
    need: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    source: str
    witnesses: tuple[tuple[str, CosignatureVerifier], ...]
    groups: tuple[Group, ...]
    quorum: str | None  # a witness or group name; None: no cosignature required


def load_policy(path: str | os.PathLike[str]) -> WitnessPolicy:
    """Read and check a policy file; :class:`InputError` (exit 2) names the file and line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the witness policy: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the witness policy is not UTF-8") from None
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<policy>") -> WitnessPolicy:
    witnesses: dict[str, CosignatureVerifier] = {}
    groups: dict[str, Group] = {}
    quorum: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), 1):
        where = f"{source}:{number}"
        if any(ord(c) < 0x20 and c != "\t" for c in raw) or "\x7f" in raw:
            raise InputError(f"{where}: control characters are not allowed")
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        kind, args = fields[0], fields[1:]
        if kind == "log":
            if not 1 <= len(args) <= 2:
                raise InputError(f"{where}: expected `log VKEY [URL]`")
        elif kind == "witness":
            if not 2 <= len(args) <= 3:
                raise InputError(f"{where}: expected `witness NAME VKEY [URL]`")
            name, vkey = args[0], args[1]
            if name in witnesses or name in groups:
                raise InputError(f"{where}: the name {name!r} is defined twice")
            try:
                key = CosignatureVerifier.parse(vkey)
            except InputError as exc:
                raise InputError(f"{where}: witness {name}: {exc}") from None
            if any(k.verifier_key == key.verifier_key for k in witnesses.values()):
                raise InputError(f"{where}: witness {name}: the key of another witness")
            witnesses[name] = key
        elif kind == "group":
            if len(args) < 3:
                raise InputError(f"{where}: expected `group NAME K|any|all MEMBER...`")
            name, k, members = args[0], args[1], tuple(args[2:])
            if name in witnesses or name in groups:
                raise InputError(f"{where}: the name {name!r} is defined twice")
            for m in members:
                if m not in witnesses and m not in groups:
                    raise InputError(f"{where}: group {name}: {m!r} is not defined above")
            if len(set(members)) != len(members):
                raise InputError(f"{where}: group {name}: a member is listed twice")
            need = {"any": 1, "all": len(members)}.get(k)
            if need is None:
                if not k.isdigit() or not 1 <= int(k) <= len(members):
                    raise InputError(
                        f"{where}: group {name}: K must be any, all or 1..{len(members)}"
                    )
                need = int(k)
            groups[name] = Group(name, need, members)
        elif kind == "quorum":
            if len(args) != 1:
                raise InputError(f"{where}: expected `quorum NAME|none`")
            quorum.append((number, args[0]))
        else:
            raise InputError(f"{where}: unknown line type {kind!r} (log, witness, group, quorum)")
    if len(quorum) != 1:
        raise InputError(f"{source}: a witness policy needs exactly one `quorum` line")
    number, name = quorum[0]
    if name == "none":
        chosen: str | None = None
    elif name in witnesses or name in groups:
        chosen = name
    elif name.isdigit() and 1 <= int(name) <= len(witnesses):
        chosen = f"{name} of all witnesses"
        groups[chosen] = Group(chosen, int(name), tuple(witnesses))
    else:
        raise InputError(
            f"{source}:{number}: quorum {name!r} names no witness or group defined above "
            f"(nor is it a number 1..{len(witnesses)})"
        )
    return WitnessPolicy(source, tuple(witnesses.items()), tuple(groups.values()), chosen)


def check_policy(note: bytes, policy: WitnessPolicy, now: float | None = None) -> tuple[str, ...]:
    """The policy names of the witnesses whose dated cosignature on ``note`` verifies; raise
    :class:`VerificationError` when the quorum is not met (and :class:`NoteError` when a
    trusted witness's line does not verify). Verify the log's signature first."""
    if policy.quorum is None:
        return ()
    keys = [k for _, k in policy.witnesses]
    try:
        labels = set(check_witness_policy(note, keys, 1, now)) if keys else set()
    except VerificationError as exc:
        if isinstance(exc, NoteError):
            raise
        labels = set()
    met = [name for name, key in policy.witnesses if key.label in labels]
    groups = {g.name: g for g in policy.groups}

    def ok(name: str) -> bool:
        group = groups.get(name)
        if group is None:
            return name in met
        return sum(ok(m) for m in group.members) >= group.need

    if not ok(policy.quorum):
        raise VerificationError(
            f"witness policy {policy.source} not met: quorum {policy.quorum} needs more "
            f"cosignatures than the checkpoint carries (cosigned by: {', '.join(met) or 'none'})"
        )
    return tuple(met)


def witnessed_path(root: Path, size: int) -> Path:
    return root / WITNESSED_DIR / f"{size}.note"


def witnessed_note(root: Path, note: str, size: int) -> str:
    """The workspace's cosigned copy of the checkpoint ``note`` (tree size ``size``), if it
    keeps one whose signed body is the same (its own log's, ``witnessed/<size>.note``, or, for
    a mirrored pod's log, the copy ``mirror sync`` keeps); else ``note`` itself."""
    from edgeaudit.mirror.state import MirrorFiles
    from edgeaudit.note.checkpoint import Checkpoint

    try:
        body = parse_note(note.encode()).body
        origin = Checkpoint.parse(body).origin
    except (NoteError, InputError):
        return note
    for path in (witnessed_path(root, size), MirrorFiles(root, origin).witnessed_path(size)):
        try:
            kept = path.read_text(encoding="utf-8")
            if parse_note(kept.encode()).body == body:
                return kept
        except (OSError, UnicodeDecodeError, NoteError):
            continue
    return note


def policy_problem(note: bytes | None, policy: WitnessPolicy) -> str | None:
    """Why ``note`` (already verified with the log key) fails ``policy``; None if it meets it."""
    if note is None:
        return f"witness policy {policy.source} not checked: the checkpoint is unproven"
    try:
        check_policy(note, policy)
    except VerificationError as exc:
        return str(exc)
    return None


def store_policy_problem(
    root: Path, note: str | None, size: int | None, policy: WitnessPolicy
) -> str | None:
    """For ``verify``: why the store's latest checkpoint (``note`` of tree ``size``, verified
    with the log key by the caller), with the cosignatures the workspace keeps for it, fails
    ``policy``; None if it meets it. The kept copy counts only if its signed body is the same."""
    if note is None or size is None:
        if policy.quorum is None:
            return None
        return f"witness policy {policy.source}: the store has no signed checkpoint"
    return policy_problem(witnessed_note(root, note, size).encode(), policy)
