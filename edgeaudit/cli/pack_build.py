"""``edgeaudit pack build``: a pack of this workspace's own log, or of a mirrored pod's
(``--log POD``); ``--campus`` is in :mod:`edgeaudit.cli.pack_campus`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeaudit.cli.pack import _emit, _read
from edgeaudit.errors import InputError

LAST_PACK_CHECKPOINT = "packs/last-checkpoint"


def build(args: argparse.Namespace, config: Any) -> int:
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.pack import PackRequest, Period, build_pack
    from edgeaudit.pack.build import build_assessed_pack
    from edgeaudit.store import Store

    if args.quarter and (args.from_ or args.to):
        raise InputError("use --quarter or --from/--to, not both")
    if args.quarter:
        period = Period.quarter(args.quarter)
    elif args.from_ and args.to:
        period = Period.between(args.from_, args.to)
    else:
        raise InputError("pack build needs --quarter 2026Q3 or both --from and --to")
    if not args.out:
        raise InputError("pack build needs --out DIR or --out FILE.zip")
    if getattr(args, "campus", False):
        if getattr(args, "log", None):
            raise InputError("pack build --campus proves every log; it does not take --log")
        from edgeaudit.cli.pack_campus import build_campus

        return build_campus(args, config, period)
    if args.previous and len(args.previous) > 1:
        raise InputError("pack build takes one --previous (several only with --campus)")
    from edgeaudit.workspace.state import choose_log

    choice = choose_log(config, getattr(args, "log", None))
    if not choice.own:
        return _build_mirrored(args, config, choice, period)
    findings = None
    if args.findings:
        try:
            findings = json.loads(_read(args.findings, "findings"))
        except ValueError as exc:
            raise InputError(f"{args.findings}: not JSON: {exc}") from None
    # Without --findings the pack carries the period's site assessment of the policy directory,
    # built as the service's exports build theirs (build_assessed_pack), with that directory's
    # inventory and RACI unless --inventory / --raci say otherwise.
    policies = pack_policies(args, config) if findings is None else None
    defaults = config.root / "policies"  # a pack from --findings, or of a workspace without rules
    inventory = None
    if args.inventory:
        if not Path(args.inventory).is_file():
            raise InputError(f"{args.inventory}: no such inventory file")
        inventory = load_inventory(args.inventory)
    elif policies is None and (defaults / "inventory.yaml").is_file():
        inventory = load_inventory(defaults / "inventory.yaml")
    raci = None
    if args.raci or policies is None:
        raci_path = Path(args.raci) if args.raci else defaults / "raci.yaml"
        resolve = inventory or (policies.inventory if policies is not None else None)
        if resolve is not None and raci_path.is_file():
            from edgeaudit.pack.raci import raci_rows
            from edgeaudit.policy.raci import load_raci

            raci = raci_rows(load_raci(raci_path, resolve), args.tenant)
        elif args.raci:
            raise InputError(f"{args.raci}: no such RACI file (or no inventory to resolve it)")
    state = config.root / LAST_PACK_CHECKPOINT
    previous = None
    if args.previous:
        previous = _read(args.previous[0], "the previous pack's checkpoint")
    elif state.is_file():
        previous = state.read_bytes()
    note = None
    if getattr(args, "checkpoint", None):  # signed where the log key is; never signed here
        note = _read(args.checkpoint, "the signed checkpoint")
    request = PackRequest(
        checkpoint=note,
        period=period,
        out=Path(args.out),
        tenant=args.tenant,
        frameworks=tuple(args.framework or ()),
        findings=findings,
        inventory=inventory,
        previous=previous,
        pdf=not args.no_pdf,
        raci=raci,
    )
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        if policies is not None:
            result = build_assessed_pack(config, log, policies, request)
        else:
            result = build_pack(config, log, request)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(result.checkpoint, encoding="utf-8")
    who = f"tenant {args.tenant}" if args.tenant else "the site"
    _emit(
        args,
        result.to_dict(),
        f"wrote pack for {who}, {period.label}, to {result.out}: {result.entries} entries "
        f"({result.redacted} redacted), {result.findings} results, proven against the "
        f"checkpoint of size {result.tree_size}\nroot {result.root_hash}\n"
        f"manifest key {result.manifest_key}",
    )
    return 0


def _build_mirrored(args: argparse.Namespace, config: Any, choice: Any, period: Any) -> int:
    """``pack build --log POD``: a pack of a mirrored pod's log, written into nothing but OUT
    and the workspace's record of the last pack of that log. Proven against the pod's newest
    checkpoint the mirror holds (or ``--checkpoint FILE``, a note the pod's key signed), with
    the pod's recorded assessment of the period (or ``--findings FILE``, one the pod recorded);
    the manifest signed with this workspace's manifest key."""
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.pack import PackRequest, build_pack
    from edgeaudit.pack.given import given_checkpoint
    from edgeaudit.pack.mirrored import pod_site, recorded_assessment, state_name
    from edgeaudit.workspace.state import open_log

    if choice.mirror is None:
        open_log(config, choice.origin)[0].close()  # one the store does not hold: named
        raise InputError(
            f"pack build --log {choice.origin}: the log is {choice.describe()}; packs are built "
            "of this workspace's own log or of a mirrored pod's (its [[mirror]] key is the "
            "pack's log key)"
        )
    findings = None
    if args.findings:
        try:
            findings = json.loads(_read(args.findings, "findings"))
        except ValueError as exc:
            raise InputError(f"{args.findings}: not JSON: {exc}") from None
    policies = pack_policies(args, config)  # only to roll up and describe the pod's results
    inventory = None  # the pod's inventory: the central one describes another site
    if args.inventory:
        if not Path(args.inventory).is_file():
            raise InputError(f"{args.inventory}: no such inventory file")
        inventory = load_inventory(args.inventory)
    raci = None
    if args.raci:
        if inventory is None or not Path(args.raci).is_file():
            raise InputError(f"{args.raci}: no such RACI file (or no --inventory to resolve it)")
        from edgeaudit.pack.raci import raci_rows
        from edgeaudit.policy.raci import load_raci

        raci = raci_rows(load_raci(args.raci, inventory), args.tenant)
    state = config.root / "packs" / state_name(choice.origin)
    previous = None
    if args.previous:
        previous = _read(args.previous[0], "the previous pack's checkpoint")
    elif state.is_file():
        previous = state.read_bytes()
    note = _read(args.checkpoint, "the signed checkpoint") if args.checkpoint else None
    store, log, _ = open_log(config, choice.origin)  # read only: never written here
    with store:
        if note is None:
            latest = log.latest_checkpoint()
            if latest is None:
                raise InputError(
                    f"the mirror holds no checkpoint of {choice.origin} yet: run `edgeaudit "
                    "mirror sync`"
                )
            note = latest.note.encode("utf-8")
        # checked here too, so a bad note is named before the assessment is looked up
        where = "--checkpoint" if args.checkpoint else f"the checkpoint of {choice.origin}"
        held = given_checkpoint(log, note, [Verifier.parse(choice.verifier_key)], where)
        if findings is None:
            findings = recorded_assessment(log, period, held.tree_size, policies)
        result = build_pack(
            config,
            log,
            PackRequest(
                checkpoint=note,
                period=period,
                out=Path(args.out),
                tenant=args.tenant,
                frameworks=tuple(args.framework or ()),
                findings=findings,
                inventory=inventory,
                previous=previous,
                pdf=not args.no_pdf,
                raci=raci,
                supports_only=(
                    frozenset(c.ref for c in policies.catalogue.controls if c.supports_only)
                    if policies is not None
                    else None
                ),
                log_key=choice.verifier_key,
                site=pod_site(choice.origin),
            ),
        )
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(result.checkpoint, encoding="utf-8")
    who = f"tenant {args.tenant} of pod" if args.tenant else "the pod"
    _emit(
        args,
        {**result.to_dict(), "origin": choice.origin},
        f"wrote pack for {who} {choice.origin}, {period.label}, to {result.out}: "
        f"{result.entries} entries ({result.redacted} redacted), {result.findings} results "
        f"(the pod's recorded assessment), proven against the pod's checkpoint of size "
        f"{result.tree_size}\nroot {result.root_hash}\nlog key {choice.verifier_key}\n"
        f"manifest key {result.manifest_key}",
    )
    return 0


def pack_policies(args: argparse.Namespace, config: Any) -> Any:
    """The policy directory a pack's assessment judges by (--policies, default the workspace's
    policies/), or None when there is none (a pack without findings)."""
    from edgeaudit.policy.files import load_policies

    root = Path(args.policies) if args.policies else config.root / "policies"
    if not (root / "rules.yaml").is_file():
        if args.policies:
            raise InputError(f"{root}: no rules.yaml (not a policy directory)")
        return None
    return load_policies(root)
