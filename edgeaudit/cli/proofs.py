"""The store's checkpoint, proof and verify commands and their helpers (verifier keys,
checkpoints by size, kept cosignatures). Signing code is imported only by ``checkpoint sign``."""

from __future__ import annotations

import argparse
import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgeaudit.cli.common import _choice, _emit, _open, _refuse_write, _workspace
from edgeaudit.errors import ConfigError, InputError, VerificationError
from edgeaudit.store import EvidenceLog, StoredCheckpoint
from edgeaudit.workspace import config as cfg


def _checkpoint_dict(cp: StoredCheckpoint) -> dict[str, Any]:
    return {
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "signed_at": cp.signed_at,
        "note": cp.note,
    }


def _checkpoint_at(
    log: EvidenceLog, size: int | None, hint: str = "run `edgeaudit checkpoint`"
) -> StoredCheckpoint:
    checkpoints = log.checkpoints()
    if not checkpoints:
        raise ConfigError(f"no checkpoint of log {log.origin} is stored yet: {hint}")
    if size is None:
        return checkpoints[-1]
    for cp in checkpoints:
        if cp.tree_size == size:
            return cp
    sizes = ", ".join(str(c.tree_size) for c in checkpoints[-10:])
    raise InputError(f"no checkpoint was signed at size {size} (latest signed sizes: {sizes})")


def _no_checkpoint_hint(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> str:
    choice = _choice(args, config)
    if choice.own:
        return "run `edgeaudit checkpoint`"
    return "the pod signs them; run `edgeaudit mirror sync` to fetch them"


def cmd_checkpoint(args: argparse.Namespace) -> int:
    config = _workspace(args)
    writes = "checkpoint sign" if args.action == "sign" else None
    if writes:
        _refuse_write(args, config, writes)
    store, log = _open(config, args, writes=writes)
    with store:
        if args.action == "list":
            if args.size is not None:
                raise InputError("`checkpoint list` lists every checkpoint; drop SIZE")
            if getattr(args, "out", None):
                raise InputError("`checkpoint list` writes no note; drop --out")
            cps = log.checkpoints()
            _emit(
                args,
                {"checkpoints": [_checkpoint_dict(c) for c in cps]},
                "\n".join(f"{c.tree_size}\t{c.root_hash.hex()}\t{c.signed_at}" for c in cps)
                or (
                    "no checkpoints signed yet"
                    if log.origin == config.origin
                    else f"no checkpoint of log {log.origin} is stored yet"
                ),
            )
            return 0
        outcomes: tuple[Any, ...] = ()
        if args.action == "show":
            from edgeaudit.verify.witnesses import witnessed_note

            cp = _checkpoint_at(log, args.size, _no_checkpoint_hint(args, config))
            cp = replace(cp, note=witnessed_note(config.root, cp.note, cp.tree_size))
        else:
            if args.size is not None:
                raise InputError("`checkpoint sign` always signs the current tree; drop SIZE")
            from edgeaudit.witness.gather import cosign
            from edgeaudit.workspace.signing import sign_checkpoint

            cp, outcomes = cosign(config, log, sign_checkpoint(config, log))
    if getattr(args, "out", None):  # the exact note, e.g. for pack build --checkpoint elsewhere
        Path(args.out).write_bytes(cp.note.encode("utf-8"))
    data = _checkpoint_dict(cp)
    text = cp.note.rstrip("\n")
    if config.witnesses and args.action != "show":
        data["witnesses"] = [o.to_dict() for o in outcomes]
        done = sum(o.cosigned for o in outcomes)
        text += f"\ncosigned by {done} of {len(outcomes)} witness(es):" + "".join(
            f"\n  {o.name}: " + ("cosigned" if o.cosigned else f"no cosignature ({o.error})")
            for o in outcomes
        )
    _emit(args, data, text)
    return 0


def _verifier_texts(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> list[str]:
    """The verifier keys to trust: ``--key`` values (a key or a file holding one), else the
    log's: the workspace's own, or for ``--log`` a mirrored pod's, its ``[[mirror]]`` key."""
    if getattr(args, "key", None):
        keys = args.key
    else:
        choice = _choice(args, config)
        default = config.verifier_key if choice.own else choice.verifier_key
        if default is None:
            from edgeaudit.workspace.state import open_log

            open_log(config, choice.origin)[0].close()  # one the store does not hold: named
            raise ConfigError(
                f"log {choice.origin} is {choice.describe()}: no verifier key is known for "
                "it; pass --key VKEY"
            )
        keys = [default]
    out = []
    for k in keys:
        path = Path(k)
        out.append(path.read_text(encoding="utf-8").strip() if path.is_file() else k)
    return out


def _verifiers(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> list[Any]:
    from edgeaudit.note.verifier import Verifier

    return [Verifier.parse(text) for text in _verifier_texts(args, config)]


def cmd_proof(args: argparse.Namespace) -> int:
    from edgeaudit.canonical import leaf_hash
    from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
    from edgeaudit.verify.keychain import KeyChain, load_revocations

    config = _workspace(args)
    verifiers = _verifiers(args, config)
    revoked = load_revocations(getattr(args, "revoked", None) or ())
    policy = None
    if getattr(args, "witness_policy", None):
        from edgeaudit.verify.witnesses import load_policy

        policy = load_policy(args.witness_policy)
    store, log = _open(config, args)
    with store:
        # checkpoints signed before a key rotation: follow the store's transitions (a key of
        # the chain signs only the sizes it was the log's key for; a revoked key, none beyond
        # the size it is revoked at)
        chain = KeyChain.from_notes(
            verifiers, [c.note.encode("utf-8") for c in log.checkpoints()], log.origin, revoked
        )
        if args.kind == "inclusion":
            if len(args.sizes) != 1:
                raise InputError("usage: edgeaudit proof inclusion INDEX")
            (index,) = args.sizes
            hint = _no_checkpoint_hint(args, config)
            cp = _checkpoint_at(log, None, hint)
            if not 0 <= index < cp.tree_size:
                raise InputError(
                    f"index {index} is not covered by the latest checkpoint of log "
                    f"{log.origin} (size {cp.tree_size}); {hint} first"
                )
            with log.reader() as reader:
                body, _ = reader.entry(index)
                proof = reader.inclusion_proof(index, cp.tree_size)
            signed = chain.verify_checkpoint(cp.note.encode(), log.origin)
            verify_inclusion(leaf_hash(body), index, cp.tree_size, proof, signed.root)
            cp = _witnessed(config, cp, policy)
            data: dict[str, Any] = {
                "index": index,
                "tree_size": cp.tree_size,
                "entry": base64.b64encode(body).decode("ascii"),
                "leaf_hash": leaf_hash(body).hex(),
                "proof": [h.hex() for h in proof],
                "checkpoint": cp.note,
            }
            text = (
                f"entry {index} is in the tree of size {cp.tree_size}\n"
                f"leaf hash {data['leaf_hash']}\nproof:\n"
                + "".join(f"  {h}\n" for h in data["proof"])
                + cp.note
            )
        else:
            if len(args.sizes) != 2:
                raise InputError("usage: edgeaudit proof consistency OLD_SIZE NEW_SIZE")
            old_size, new_size = args.sizes
            hint = _no_checkpoint_hint(args, config)
            old, new = _checkpoint_at(log, old_size, hint), _checkpoint_at(log, new_size, hint)
            with log.reader() as reader:
                proof = reader.consistency_proof(old_size, new_size)
            old_cp = chain.verify_checkpoint(old.note.encode(), log.origin)
            new_cp = chain.verify_checkpoint(new.note.encode(), log.origin)
            verify_consistency(old_size, new_size, old_cp.root, new_cp.root, proof)
            new = _witnessed(config, new, policy)
            data = {
                "old_size": old_size,
                "new_size": new_size,
                "proof": [h.hex() for h in proof],
                "old_checkpoint": old.note,
                "new_checkpoint": new.note,
            }
            text = (
                f"the tree of size {new_size} extends the tree of size {old_size}\nproof:\n"
                + "".join(f"  {h}\n" for h in data["proof"])
            )
    _emit(args, data, text.rstrip("\n"))
    return 0


def _witnessed(config: cfg.WorkspaceConfig, cp: StoredCheckpoint, policy: Any) -> StoredCheckpoint:
    """``cp`` (its log signature verified) with the cosignatures the workspace keeps for it;
    :class:`VerificationError` if ``policy`` (a witness policy, or None) is not met."""
    from edgeaudit.verify.witnesses import policy_problem, witnessed_note

    cp = replace(cp, note=witnessed_note(config.root, cp.note, cp.tree_size))
    if policy is not None and (why := policy_problem(cp.note.encode(), policy)) is not None:
        raise VerificationError(why)
    return cp


def cmd_verify(args: argparse.Namespace) -> int:
    from edgeaudit.verify import verify_log

    if args.manifest_key is not None:
        raise InputError("--manifest-key is for `verify PACK`; the store has no manifest")
    if getattr(args, "manifest_rollover", None):
        raise InputError("--manifest-rollover is for `verify PACK`; the store has no manifest")
    config = _workspace(args)
    verifiers = _verifiers(args, config)
    from edgeaudit.verify.keychain import load_revocations

    revoked = load_revocations(getattr(args, "revoked", None) or ())
    trusted = None
    if getattr(args, "keys", None):
        raise InputError("--keys is for `verify PACK`; give the store's key with --key")
    if args.trusted_checkpoint:
        if len(args.trusted_checkpoint) > 1:  # repeatable for a campus pack's logs only
            raise InputError("verify of a store takes one --trusted-checkpoint")
        (kept_path,) = args.trusted_checkpoint
        try:
            trusted = Path(kept_path).read_bytes()
        except OSError as exc:
            raise InputError(f"{kept_path}: cannot read: {exc.strerror}") from None
    from edgeaudit.errors import TamperError
    from edgeaudit.store import StoreDamagedError
    from edgeaudit.verify import witnesses

    policy = witnesses.load_policy(args.witness_policy) if args.witness_policy else None
    try:
        store, log = _open(config, args)
        with store:
            store.check_pages()  # SQLite quick_check: also pages the stream never reads
            report = verify_log(log, verifiers, trusted=trusted, revoked=revoked)
            if policy is not None:  # the latest checkpoint, with the cosignatures kept for it
                latest = log.latest_checkpoint()
                why = witnesses.store_policy_problem(
                    config.root,
                    latest.note if latest else None,
                    latest.tree_size if latest else None,
                    policy,
                )
                if why is not None:
                    from edgeaudit.verify.report import Problem

                    report = replace(report, problems=(*report.problems, Problem("witness", why)))
    except StoreDamagedError as exc:  # a damaged store fails verification: exit 1
        raise TamperError(str(exc)) from exc
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    elif report.ok:
        trusted_text = (
            f", extends trusted checkpoint of size {report.trusted_checkpoint}"
            if report.trusted_checkpoint is not None
            else ""
        )
        print(
            f"OK: {report.entries_checked} entries, chain and tree intact; "
            f"{report.checkpoints_checked} signed checkpoint(s) verified{trusted_text}"
            + (f"; witness policy {policy.source} met" if policy is not None else "")
            + f"\nroot {report.root_hash}"
        )
    else:
        print(f"FAILED: {len(report.problems)} problem(s) in log {report.origin}:")
        for p in report.problems:
            print(f"  [{p.code}] {p}")
    return 0 if report.ok else VerificationError.exit_code
