"""``edgeaudit pack build --campus`` and ``verify PACK --keys FILE``.

``load_keys`` is imported by ``verify PACK``: it imports no store and no signing code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note.verifier import Verifier


def load_keys(path: str) -> list[Verifier]:
    """A file of C2SP verifier keys, one a line; blank lines and ``#`` comments ignored. A
    line that is not a verifier key is exit 2 naming the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the keys file: {exc}") from None
    keys = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            keys.append(Verifier.parse(line))
        except (NoteError, InputError, ValueError) as exc:
            raise InputError(f"{path}:{number}: not a verifier key: {exc}") from None
    if not keys:
        raise InputError(f"{path}: no verifier key in the file")
    return keys


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None


def build_campus(args: argparse.Namespace, config: Any, period: Any) -> int:
    """A campus pack of the central log and every ``[[mirror]]`` pod's log: the central log's
    checkpoint signed here (or ``--checkpoint FILE``), each pod's the one the mirror holds."""
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.pack.campus import CampusRequest, build_campus_pack
    from edgeaudit.store import Store

    findings = None
    if args.findings:
        try:
            findings = json.loads(_read(args.findings, "findings"))
        except ValueError as exc:
            raise InputError(f"{args.findings}: not JSON: {exc}") from None
    policies = None
    if findings is None:  # the campus assessment of the period by the policy directory
        from edgeaudit.cli.pack_build import pack_policies

        policies = pack_policies(args, config)
    inventory = None
    if args.inventory:
        if not Path(args.inventory).is_file():
            raise InputError(f"{args.inventory}: no such inventory file")
        inventory = load_inventory(args.inventory)
    elif policies is None and (config.root / "policies" / "inventory.yaml").is_file():
        inventory = load_inventory(config.root / "policies" / "inventory.yaml")
    previous = tuple(_read(p, "the previous pack's checkpoint") for p in args.previous or ())
    note = _read(args.checkpoint, "the signed checkpoint") if args.checkpoint else None
    request = CampusRequest(
        period=period,
        out=Path(args.out),
        tenant=args.tenant,
        frameworks=tuple(args.framework or ()),
        findings=findings,
        inventory=inventory,
        previous=previous,
        checkpoint=note,
        pdf=not args.no_pdf,
        policies=policies,
    )
    with Store.open(config.db_url) as store:
        result = build_campus_pack(config, store, request)
    data = result.to_dict()
    who = f"tenant {args.tenant}" if args.tenant else "the campus"
    parts = "".join(
        f"\n  {p.part} {p.origin}: {p.entries} entries ({p.redacted} redacted), the pod's "
        f"checkpoint of size {p.tree_size}"
        for p in result.parts
    ) + "".join(
        f"\n  {origin}: never synced by the mirror, no part (nothing of it can be proven)"
        for origin in result.unsynced
    )
    text = (
        f"wrote campus pack for {who}, {period.label}, to {result.out}: central log "
        f"{config.origin}: {result.entries} entries ({result.redacted} redacted), "
        f"{result.findings} results, checkpoint of size {result.tree_size}{parts}\n"
        f"manifest key {result.manifest_key}"
    )
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)
    return 0
