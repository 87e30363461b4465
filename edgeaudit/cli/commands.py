"""One function per CLI command. Signing code is imported only by commands that sign."""

from __future__ import annotations

import argparse
import base64
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgeaudit.errors import ConfigError, InputError, VerificationError
from edgeaudit.store import EvidenceLog, Store, StoredCheckpoint
from edgeaudit.store.engine import redact
from edgeaudit.workspace import config as cfg

MAX_ERRORS_SHOWN = 20


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)


def _workspace(args: argparse.Namespace) -> cfg.WorkspaceConfig:
    return cfg.load(cfg.find_root(args.workspace))


def _open(
    config: cfg.WorkspaceConfig,
    args: argparse.Namespace | None = None,
    *,
    writes: str | None = None,
) -> tuple[Store, EvidenceLog]:
    """The store and the log of ``--log`` (default: the workspace's own); a missing, damaged
    or replaced store is one error saying what the workspace remembers of it and how to
    restore it (workspace/state.py). ``writes``: the command (named in the message) writes
    into the log, so a mirrored pod's log or another log is refused (exit 2)."""
    from edgeaudit.workspace.state import open_log

    store, log, _ = open_log(config, _origin(args), writes=writes)
    return store, log


def _origin(args: argparse.Namespace | None) -> str | None:
    return getattr(args, "log", None) if args is not None else None


def _choice(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> Any:
    from edgeaudit.workspace.state import choose_log

    return choose_log(config, _origin(args))


def _refuse_write(args: argparse.Namespace, config: cfg.WorkspaceConfig, what: str) -> None:
    """Exit 2 before anything is read or written when ``--log`` names a mirrored pod's log
    (another origin is refused once the store is opened, naming the logs it holds)."""
    from edgeaudit.workspace.state import refuse_write

    choice = _choice(args, config)
    if choice.mirror is not None:
        refuse_write(choice, what)


def cmd_init(args: argparse.Namespace) -> int:
    from edgeaudit.workspace.setup import init_workspace

    root = cfg.find_root(args.workspace)
    config = init_workspace(
        root,
        site=args.site,
        origin=args.origin,
        db_url=args.db,
        passphrase_env=args.passphrase_env,
    )
    data = {
        "workspace": str(config.root),
        "site": config.site,
        "origin": config.origin,
        "store": redact(config.db_url),
        "verifier_key": config.verifier_key,
    }
    _emit(
        args,
        data,
        f"initialized workspace {config.root}\n  site:     {config.site}\n"
        f"  origin:   {config.origin}\n  store:    {redact(config.db_url)}\n"
        f"  key:      {config.verifier_key}",
    )
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    config = _workspace(args)
    if args.action == "rotate":  # docs/pack-format.md, "Keys: separation, rotation, revocation"
        from edgeaudit.workspace.rotation import rotate

        _refuse_write(args, config, "key rotate")
        store, log = _open(config, args, writes="key rotate")
        with store:
            done = rotate(config, log)
        _emit(
            args,
            {
                "previous_key": done.previous,
                "verifier_key": done.following,
                "transition_size": done.tree_size,
                "key_file": str(done.key_file),
            },
            f"rotated the log key at the transition checkpoint of size {done.tree_size}\n"
            f"  new key:  {done.following}\n  previous: {done.previous}\n"
            f"the previous key {done.retired_file} is no longer used: destroy it or lock it "
            "away; auditors who trust the previous key follow the transition",
        )
        return 0
    choice = _choice(args, config)
    vkey = config.verifier_key if choice.own else choice.verifier_key
    if vkey is None:
        raise ConfigError(f"log {choice.origin} is {choice.describe()}: no key is known for it")
    _emit(args, {"verifier_key": vkey}, vkey)  # its name is the log's origin
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from edgeaudit.store import migrate
    from edgeaudit.store.engine import open_engine

    config = _workspace(args)
    engine = open_engine(config.db_url)
    try:
        if args.action == "upgrade":
            migrate.upgrade(engine)
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    _emit(
        args,
        {"revision": current, "head": head},
        f"schema revision {current} (newest: {head})",
    )
    return 0


def cmd_append(args: argparse.Namespace) -> int:
    """Validate every line first (nothing is written if one is bad), then append in batches.

    The validated entries wait in a spool (``edgeaudit.collect.jsonl``: up to 16 MB in memory,
    then an unnamed temporary file in the workspace), so memory does not grow with the input;
    a large input is validated by two processes. Each batch of ``jsonl.BATCH_SIZE`` (20 000) is
    one transaction: a call of at most that many events is stored completely or not at all, as
    before. If the store fails (or the user interrupts) after some batches were committed, the
    message says how many: running the same command again appends only the rest.
    """
    import sys

    from edgeaudit.collect.jsonl import spool_events
    from edgeaudit.errors import EdgeauditError

    config = _workspace(args)
    _refuse_write(args, config, "append")
    with spool_events(args.files, spool_dir=config.root) as spool:
        errors = spool.errors
        if errors:
            shown = "\n".join(f"  {e}" for e in errors[:MAX_ERRORS_SHOWN])
            more = len(errors) - MAX_ERRORS_SHOWN
            raise InputError(
                f"{len(errors)} bad line(s); nothing was appended:\n{shown}"
                + (f"\n  ... and {more} more" if more > 0 else "")
            )
        store, log = _open(config, args, writes="append")
        appended = duplicates = 0
        first_index: int | None = None
        tree_size = 0
        with store:
            for batch in spool.batches():
                try:
                    result = log.append(batch)
                except (EdgeauditError, KeyboardInterrupt) as exc:
                    if appended or duplicates:
                        done = (
                            f"{appended} event(s) of the first {appended + duplicates} of "
                            f"{spool.count} were appended (and {duplicates} found already "
                            "stored) before this; appending the same input again adds only "
                            "the rest"
                        )
                        if isinstance(exc, KeyboardInterrupt) or len(exc.args) != 1:
                            print(f"edgeaudit: {done}", file=sys.stderr)
                        else:
                            exc.args = (f"{exc.args[0]}\n{done}",)
                    raise
                appended += result.appended
                duplicates += result.duplicates
                if first_index is None:
                    first_index = result.first_index
                tree_size = result.tree_size
    data = {
        "appended": appended,
        "duplicates": duplicates,
        "first_index": first_index,
        "tree_size": tree_size,
    }
    _emit(
        args,
        data,
        f"appended {appended} event(s), skipped {duplicates} already stored; "
        f"the log now has {tree_size} entries",
    )
    return 0


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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from edgeaudit.cli.evaluate import run

    return run(args, _workspace(args))


def cmd_status(args: argparse.Namespace) -> int:
    from edgeaudit.workspace.state import held_logs

    config = _workspace(args)
    store, log = _open(config, args)
    with store:
        size, _ = log.head()
        latest = log.latest_checkpoint()
        kinds: Counter[str] = Counter()
        tenants: Counter[str] = Counter()
        for kind, tenant, n in log.counts():
            kinds[kind] += n
            tenants[tenant or "(site-wide)"] += n
        quarantined = log.quarantine_count()
        logs = held_logs(config, store)
    role = next(h.role for h in logs if h.origin == log.origin)
    data = {
        "workspace": str(config.root),
        "origin": log.origin,
        "role": role,
        "logs": [h.to_dict() for h in logs],
        "backend": store.backend,
        "quarantined": quarantined,
        "entries": size,
        "latest_checkpoint": latest.tree_size if latest else None,
        "unsigned_entries": size - (latest.tree_size if latest else 0),
        "kinds": dict(sorted(kinds.items())),
        "tenants": dict(sorted(tenants.items())),
    }
    lines = [
        f"workspace  {config.root}",
        f"origin     {log.origin} ({store.backend})"
        + ("" if role == "own" else f": {_choice(args, config).describe()}"),
        f"entries    {size}",
        f"quarantine {quarantined} record(s) could not be parsed",
        f"checkpoint {latest.tree_size if latest else 'none'}"
        + (f" ({data['unsigned_entries']} entries not yet covered)" if latest else ""),
        "by kind:",
        *(f"  {k:<24} {n}" for k, n in sorted(kinds.items())),
        "by tenant:",
        *(f"  {k:<24} {n}" for k, n in sorted(tenants.items())),
        f"logs in the store ({len(logs)}): origin, entries, latest checkpoint, role",
        *(
            f"  {h.origin:<32} {h.entries:>9} {_size_text(h.checkpoint_size):>9}  {h.role}"
            + (f" of {h.url}" if h.url else "")
            for h in logs
        ),
    ]
    _emit(args, data, "\n".join(lines))
    return 0


def _size_text(size: int | None) -> str:
    return "none" if size is None else str(size)


def cmd_collect(args: argparse.Namespace) -> int:
    from edgeaudit.cli.collect import run_collect, summary_text

    config = _workspace(args)
    _refuse_write(args, config, "collect")
    store, log = _open(config, args, writes="collect")
    with store:
        summary = run_collect(args, config, log)
    _emit(args, summary.to_dict(), summary_text(summary))
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from edgeaudit.cli import probe

    config = _workspace(args)
    _refuse_write(args, config, f"probe {args.action}")
    if args.action == "schedule" and args.systemd and _choice(args, config).own:
        return probe.write_systemd(args, config)  # units that run probes into the own log
    store, log = _open(config, args, writes=f"probe {args.action}")
    with store:
        if args.action == "schedule":
            return probe.schedule(args, config, log)
        return probe.run_probe(args, config, log)


def cmd_quarantine(args: argparse.Namespace) -> int:
    config = _workspace(args)
    store, log = _open(config, args)
    with store:
        rows = log.quarantined(args.limit)
        total = log.quarantine_count()
    items: list[dict[str, Any]] = [
        {
            "id": qid,
            "created_at": created,
            "source_kind": r.source_kind,
            "source": r.source,
            "location": r.location,
            "reason": r.reason,
            "raw": r.raw.decode("utf-8", "backslashreplace"),
        }
        for qid, created, r in rows
    ]
    text = "\n".join(
        f"{i['location']}  [{i['source_kind']}] {i['reason']}\n    {i['raw'][:160]}" for i in items
    )
    _emit(args, {"total": total, "records": items}, f"{total} quarantined record(s)\n{text}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from edgeaudit.demo import generate_campus

    shaping = [
        flag for flag in ("--events", "--seed", "--start") if getattr(args, flag[2:]) is not None
    ]
    if args.action == "collect":
        if shaping or args.clean:
            unused = ", ".join([*shaping, *(["--clean"] if args.clean else [])])
            raise InputError(f"demo collect does not use {unused} (they shape `demo campus`)")
        return _demo_collect(args)
    events = 50_000 if args.events is None else args.events
    seed, start = (1 if args.seed is None else args.seed), (args.start or "2026-07-01")
    began = time.perf_counter()
    manifest = generate_campus(Path(args.out), events, seed, start, clean=args.clean)
    seconds = time.perf_counter() - began
    totals = manifest["totals"]
    data = {
        "out": args.out,
        "files": len(manifest["files"]),
        "totals": totals,
        "planted": manifest["planted"],
        "seconds": round(seconds, 3),
        "events_per_second": round(totals["events"] / seconds) if seconds else None,
    }
    planted = ", ".join(f"{k} {v}" for k, v in manifest["planted"].items())
    _emit(
        args,
        data,
        f"wrote {len(manifest['files'])} files to {args.out} (manifest.json): "
        f"{totals['records']} records, {totals['events']} events expected, "
        f"{totals['quarantined']} to quarantine, in {seconds:.1f}s\n  planted: {planted}",
    )
    return 0


def _demo_collect(args: argparse.Namespace) -> int:
    """Collect every file a campus manifest lists, with the kind and options it names."""
    import os

    from edgeaudit.cli.collect import run_collect
    from edgeaudit.cli.main import parser
    from edgeaudit.collect.jsonl import read_events

    campus = Path(args.out)
    try:
        manifest = json.loads((campus / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{campus}/manifest.json: cannot read a campus manifest: {exc}") from None
    card_env = manifest.get("card_key_env") or "EDGEAUDIT_CARD_HASH_KEY"
    if not os.environ.get(card_env):
        os.environ[card_env] = "edgeaudit-demo-card-key"  # demo data only: real keys come from env
    config = _workspace(args)
    store, log = _open(config)
    rows = []
    with store:
        for f in manifest["files"]:
            argv = [
                "collect",
                f["kind"],
                str(campus / f["path"]),
                "--inventory",
                str(campus / "inventory.yaml"),
                *f["args"],
            ]
            if f["kind"] == "nmap" and manifest.get("isolation"):
                # scans are judged against the campus's own isolation matrix
                argv += ["--option", f"isolation={campus / manifest['isolation']}"]
            summary = run_collect(parser().parse_args(argv), config, log)
            rows.append({"path": f["path"], "kind": f["kind"], **summary.to_dict()})
        for f in manifest.get("appends", []):
            # records a person or a tool appends (e.g. the probe scheduler's missed runs)
            entries, errors = read_events([str(campus / f["path"])])
            if errors:
                raise InputError(f"{campus / f['path']}: {errors[0]}")
            result = log.append(entries)
            rows.append(
                {
                    "path": f["path"],
                    "kind": "append",
                    "read": len(entries),
                    "events": len(entries),
                    "appended": result.appended,
                    "quarantined": 0,
                }
            )
        size = log.size
        quarantined = log.quarantine_count()
    totals = {k: sum(r[k] for r in rows) for k in ("read", "events", "appended", "quarantined")}
    text = "\n".join(
        f"  {r['kind']:<15} {r['path']:<60} read {r['read']:>7}  appended {r['appended']:>7}"
        f"  quarantined {r['quarantined']:>3}"
        for r in rows
    )
    _emit(
        args,
        {"files": rows, "totals": totals, "entries": size, "quarantined": quarantined},
        f"collected {len(rows)} files from {campus}:\n{text}\n"
        f"  total: read {totals['read']}, appended {totals['appended']}, "
        f"quarantined {totals['quarantined']}; the log now has {size} entries",
    )
    return 0
