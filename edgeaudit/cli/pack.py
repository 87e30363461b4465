"""``edgeaudit pack key|rotate-key`` and ``edgeaudit verify PACK``; ``pack build`` is in
:mod:`edgeaudit.cli.pack_build`.

``verify PACK`` with ``--key`` and ``--manifest-key`` imports neither the store, nor signing
code, nor the PDF renderer: an auditor runs it with the light core alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError, VerificationError


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None


def cmd_pack(args: argparse.Namespace) -> int:
    from edgeaudit.workspace import config as cfg

    _refuse_unused(args)
    config = cfg.load(cfg.find_root(args.workspace))
    if args.action == "rotate-key":
        return _rotate_key(args, config)
    if args.action == "key":
        from edgeaudit.workspace.manifest_key import public_manifest_key

        key = public_manifest_key(config)
        if getattr(args, "jwk", False):  # the public JWK, as the pack format names the key
            text = json.dumps(key.jwk(), sort_keys=True) + "\n"
            if args.out:
                Path(args.out).write_text(text, encoding="ascii")
            _emit(args, {"kid": key.kid, "jwk": key.jwk()}, text.rstrip("\n"))
            return 0
        if args.out:
            Path(args.out).write_text(key.public_pem, encoding="ascii")
        _emit(
            args, {"kid": key.kid, "public_pem": key.public_pem}, f"kid {key.kid}\n{key.public_pem}"
        )
        return 0
    from edgeaudit.cli.pack_build import build

    return build(args, config)


# options only `pack build` reads, with their flags
_BUILD_ONLY = (
    ("quarter", "--quarter"),
    ("from_", "--from"),
    ("to", "--to"),
    ("tenant", "--tenant"),
    ("framework", "--framework"),
    ("findings", "--findings"),
    ("policies", "--policies"),
    ("inventory", "--inventory"),
    ("previous", "--previous"),
    ("checkpoint", "--checkpoint"),
    ("no_pdf", "--no-pdf"),
    ("raci", "--raci"),
    ("log", "--log"),  # key and rotate-key are about this workspace's manifest key
    ("campus", "--campus"),
)


def _refuse_unused(args: argparse.Namespace) -> None:
    """An option the action does not read is an error (exit 2), never silently ignored."""
    unused = [
        flag for dest, flag in _BUILD_ONLY if args.action != "build" and getattr(args, dest, None)
    ]
    if args.action != "key" and getattr(args, "jwk", False):
        unused.append("--jwk")
    if unused:
        raise InputError(f"pack {args.action} does not use {', '.join(unused)}")


def _rotate_key(args: argparse.Namespace, config: Any) -> int:
    """A new manifest key from the store's current size on, and the rollover statement."""
    from edgeaudit.store import Store
    from edgeaudit.workspace.manifest_rotation import rotate_manifest_key

    with Store.open(config.db_url) as store:
        size = store.log(config.origin).head()[0]
    statement, new = rotate_manifest_key(config, size)
    if args.out:
        Path(args.out).write_bytes(statement)
    _emit(
        args,
        {"kid": new.kid, "tree_size": size, "rollover": statement.decode("ascii")},
        f"new manifest key {new.kid} for packs from tree size {size} on; give auditors the "
        f"rollover statement{' ' + args.out if args.out else ''} (also kept in keys/) with "
        f"the new public key\n{new.public_pem}",
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``verify PACK``: the offline pack check."""
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.verify.pack import verify_pack
    from edgeaudit.verify.pack_key import ManifestKey

    if getattr(args, "log", None):
        raise InputError(
            "verify PACK does not take --log: the pack names its log; trust the pod's key "
            "with --key"
        )
    config = None
    if not (args.key or getattr(args, "keys", None)) or not args.manifest_key:
        from edgeaudit.workspace import config as cfg

        try:
            config = cfg.load(cfg.find_root(args.workspace))
        except Exception as exc:
            raise InputError(
                f"verify PACK needs --key VKEY and --manifest-key FILE outside a workspace ({exc})"
            ) from None
    keys = []
    for k in args.key or ([] if getattr(args, "keys", None) else [config.verifier_key]):  # type: ignore[union-attr]
        path = Path(k)
        keys.append(
            Verifier.parse(path.read_text(encoding="utf-8").strip() if path.is_file() else k)
        )
    from edgeaudit.cli.pack_campus import load_keys

    for f in getattr(args, "keys", None) or ():
        keys.extend(load_keys(f))
    if args.manifest_key:
        mkey = ManifestKey.load(args.manifest_key)
    else:
        from edgeaudit.workspace.manifest_key import MANIFEST_PUBLIC_PATH

        mkey = ManifestKey.load(str(config.root / MANIFEST_PUBLIC_PATH))  # type: ignore[union-attr]
    from edgeaudit.verify.keychain import load_revocations

    revoked = load_revocations(getattr(args, "revoked", None) or ())
    # verified by verify_pack with the pack's key chain (a kept note may be of a key the pack
    # rotated to), each with its origin's keys in a campus pack
    kept_notes = [
        (path, _read(path, "the kept checkpoint"))
        for path in getattr(args, "trusted_checkpoint", None) or ()
    ]
    rollovers = [
        (f, _read(f, "the manifest key rollover"))
        for f in getattr(args, "manifest_rollover", None) or ()
    ]
    policy = None
    if getattr(args, "witness_policy", None):
        from edgeaudit.verify.witnesses import load_policy

        policy = load_policy(args.witness_policy)
    report = verify_pack(
        args.pack, keys, mkey, None, revoked, rollovers, policy, kept_notes=kept_notes
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    elif report.ok:
        scope = f"tenant {report.tenant}" if report.tenant else "site"
        if report.parts or report.format == "edgeaudit-pack/3":
            scope = f"campus {scope}"  # the central log's figures, then each pod part's
        consistency = (
            f"; extends the previous pack's checkpoint of size {report.consistency_from}"
            if report.consistency_from is not None
            else ""
        )
        if report.kept_from is not None:
            consistency += (
                f"; extends your kept checkpoint of size {report.kept_from} (keep this pack's "
                "checkpoint file for the next one)"
            )
        if policy is not None:
            consistency += f"; witness policy {policy.source} met"
        bound = (
            f"{report.findings} results cite only proven entries and equal their proven "
            f"policy.result entries ({report.bound_by_outcome} of them redacted: kind and "
            "outcome)"
            if not report.warnings
            else f"{report.findings} results cite only proven entries"
        )
        print(
            f"OK: {scope} pack {args.pack}: manifest signature and every file hash verified; "
            f"checkpoint of size {report.tree_size} signed; {report.entries} entries proven "
            f"({report.redacted} redacted); {bound}{consistency}\nroot {report.root_hash}"
        )
        for part in report.parts:
            print(
                f"  {part['part']} {part['origin']}: checkpoint of size {part['tree_size']} "
                f"signed by its key; {part['entries']} entries proven ({part['redacted']} "
                "redacted)"
                + (
                    f"; extends your kept checkpoint of size {part['kept_from']}"
                    if part["kept_from"] is not None
                    else ""
                )
            )
        for warning in report.warnings:
            print(f"WARNING: {warning}")
    else:
        more = " (more not shown)" if report.truncated else ""
        print(f"FAILED: {len(report.problems)} problem(s) in pack {args.pack}{more}:")
        for p in report.problems:
            print(f"  {p}")
        for warning in report.warnings:
            print(f"WARNING: {warning}")
    return 0 if report.ok else VerificationError.exit_code
