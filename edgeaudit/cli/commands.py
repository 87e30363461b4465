"""One function per CLI command (the ones main.py dispatches here by name). Signing code is
imported only by commands that sign.

The commands are split by responsibility: the shared helpers in ``common``, checkpoint, proof
and verify of the store in ``proofs``, status and quarantine in ``status``, demo in ``demo``;
this module keeps init, key, db, append, evaluate, collect and probe, and re-exports the others
under the names it always had (main.py looks ``cmd_<command>`` up here; evaluate.py, probe.py
and the bench import helpers from here).
"""

from __future__ import annotations

import argparse

from edgeaudit.cli.common import _choice as _choice
from edgeaudit.cli.common import _emit as _emit
from edgeaudit.cli.common import _open as _open
from edgeaudit.cli.common import _origin as _origin
from edgeaudit.cli.common import _refuse_write as _refuse_write
from edgeaudit.cli.common import _workspace as _workspace
from edgeaudit.cli.demo import _demo_collect as _demo_collect
from edgeaudit.cli.demo import cmd_demo as cmd_demo
from edgeaudit.cli.proofs import _checkpoint_at as _checkpoint_at
from edgeaudit.cli.proofs import _checkpoint_dict as _checkpoint_dict
from edgeaudit.cli.proofs import _no_checkpoint_hint as _no_checkpoint_hint
from edgeaudit.cli.proofs import _verifier_texts as _verifier_texts
from edgeaudit.cli.proofs import _verifiers as _verifiers
from edgeaudit.cli.proofs import _witnessed as _witnessed
from edgeaudit.cli.proofs import cmd_checkpoint as cmd_checkpoint
from edgeaudit.cli.proofs import cmd_proof as cmd_proof
from edgeaudit.cli.proofs import cmd_verify as cmd_verify
from edgeaudit.cli.status import _size_text as _size_text
from edgeaudit.cli.status import cmd_quarantine as cmd_quarantine
from edgeaudit.cli.status import cmd_status as cmd_status
from edgeaudit.errors import ConfigError, InputError
from edgeaudit.store.engine import redact
from edgeaudit.workspace import config as cfg

MAX_ERRORS_SHOWN = 20


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

    The validated entries wait in a spool (``edgeaudit.collect.jsonl_spool``: up to 16 MB in
    memory, then an unnamed temporary file in the workspace), so memory does not grow with the
    input; a large input is validated by two processes (``edgeaudit.collect.jsonl``). Each batch
    of ``jsonl_spool.BATCH_SIZE`` (20 000) is one transaction: a call of at most that many
    events is stored completely or not at all, as before. If the store fails (or the user
    interrupts) after some batches were committed, the message says how many: running the same
    command again appends only the rest.
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from edgeaudit.cli.evaluate import run

    return run(args, _workspace(args))


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
