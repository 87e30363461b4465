"""``edgeaudit mirror``: copy pods' logs (C2SP tlog-tiles) into this workspace's store.

``add URL --key VKEY``: register a pod log after fetching and verifying its checkpoint once;
``sync [ORIGIN]``: one pass over every mirror (or one), ``--follow`` to keep going;
``list``: per pod, the key it verifies with now, what is held, the last verified and the last
attempted pass (its error), a fork that stops it, the cosignatures kept (:mod:`.mirror_list`);
``resolve ORIGIN --keep-held``: settle a fork for the history the mirror holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from edgeaudit.errors import ConfigError, InputError


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("action", choices=["add", "sync", "list", "resolve"])
    c.add_argument(
        "target", nargs="?", metavar="URL|ORIGIN", help="add: URL; sync, resolve: ORIGIN"
    )
    c.add_argument("--key", metavar="VKEY", help="add: the pod's log verifier key")
    c.add_argument(
        "--token-env",
        metavar="VAR",
        help="add: environment variable holding an officer or auditor token of the pod "
        "(entry bundles need one)",
    )
    c.add_argument(
        "--name", metavar="ORIGIN", help="add: the origin expected (must be the key's name)"
    )
    c.add_argument(
        "--allow-plain-http",
        action="store_true",
        help="add: send the token over plain http:// to a host that is not loopback (a lab "
        "network; writes allow_plain_http = true)",
    )
    c.add_argument(
        "--keep-held",
        action="store_true",
        help="resolve: the history the mirror holds is the real one (archive the fork proof, "
        "record it, sync again)",
    )
    c.add_argument(
        "--accept-new",
        action="store_true",
        help="resolve: the pod's new history is the real one (refused: mirror it under a new "
        "origin and key)",
    )
    c.add_argument("--reason", metavar="TEXT", default="", help="resolve: why (recorded)")
    c.add_argument("--follow", action="store_true", help="sync: keep syncing every --interval")
    c.add_argument(
        "--interval", type=float, default=30.0, help="sync --follow: seconds between passes"
    )
    c.add_argument(
        "--rate", type=float, default=50.0, metavar="REQ/S", help="sync: requests per second"
    )
    c.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)


def cmd_mirror(args: argparse.Namespace) -> int:
    from edgeaudit.workspace import config as cfg

    config = cfg.load(cfg.find_root(args.workspace))
    for option in ("key", "token_env", "name", "allow_plain_http"):
        if args.action != "add" and getattr(args, option):
            raise InputError(f"--{option.replace('_', '-')} is for mirror add only")
    if args.action != "sync" and (args.follow or args.batch):
        raise InputError("--follow is for mirror sync only")
    if args.action != "resolve" and (args.keep_held or args.accept_new or args.reason):
        raise InputError("--keep-held, --accept-new and --reason are for mirror resolve only")
    if args.rate < 0 or args.interval <= 0 or args.batch < 0:
        raise InputError("--rate must be >= 0 (0: no limit) and --interval > 0")
    if args.action == "add":
        return _add(args, config)
    if args.action == "resolve":
        return _resolve(args, config)
    if args.action == "list":
        if args.target:
            raise InputError("mirror list takes no argument")
        from edgeaudit.cli.mirror_list import cmd_list

        return cmd_list(args, config)
    return _sync(args, config)


def _add(args: argparse.Namespace, config: object) -> int:
    import os
    from dataclasses import replace

    from edgeaudit.errors import NoteError
    from edgeaudit.mirror.http import PodClient, PodRefused, PodUnreachable
    from edgeaudit.mirror.keys import chain_of
    from edgeaudit.note.verifier import verify_checkpoint
    from edgeaudit.workspace.config import WorkspaceConfig
    from edgeaudit.workspace.mirrors import append_mirror, load_mirrors, make_source

    assert isinstance(config, WorkspaceConfig)
    if not args.target or not args.key:
        raise InputError("mirror add needs the pod's URL and --key VKEY (its log verifier key)")
    if "@" in args.target.split("://", 1)[-1].split("/", 1)[0]:  # not echoed: it may hold one
        raise InputError(
            "mirror add: the URL holds credentials (user:password@host), which would be "
            "written into edgeaudit.toml and fork proofs; give the pod's token with "
            "--token-env VAR instead. Nothing was written"
        )
    source = make_source(args.target, args.key, args.token_env, "mirror add")
    source = replace(source, allow_plain_http=args.allow_plain_http)
    if source.token_problem() is not None:
        raise InputError(
            f"mirror add {source.url}: the token (${args.token_env}) would be sent over plain "
            "http:// to a host that is not loopback, readable by anyone on the path; use "
            "https://, or --allow-plain-http for a lab network. Nothing was written"
        )
    if args.token_env is not None and not args.token_env.isidentifier():
        raise InputError(f"--token-env {args.token_env!r} is not an environment variable name")
    if args.name and args.name != source.origin:
        raise InputError(
            f"--name {args.name!r} is not the key's name {source.origin!r}: the key signs the "
            "log of its own name (check that this is the pod's key)"
        )
    if source.origin == config.origin:
        raise ConfigError(f"{source.origin!r} is this workspace's own log, not a pod to mirror")
    if any(m.origin == source.origin for m in load_mirrors(config)):
        raise ConfigError(f"{source.origin!r} is mirrored already; nothing was written")
    token = os.environ.get(args.token_env) if args.token_env else None
    client = PodClient(source.url, token=token, allow_plain_http=source.allow_plain_http)
    try:
        note = client.checkpoint()
        try:
            cp = verify_checkpoint(note, [source.verifier()], source.origin)
        except NoteError:  # the pod may have rotated its key since: follow its transitions
            cp = chain_of(source, client.transitions()).verify_checkpoint(note, source.origin)
        entries_checked = False
        if token and cp.size:
            width = min(cp.size, 256)
            client.bundle("tile/entries/000" + ("" if width == 256 else f".p/{width}"))
            entries_checked = True
    except (PodUnreachable, PodRefused) as exc:
        raise ConfigError(f"mirror add: {exc}; nothing was written") from None
    finally:
        client.close()
    warning = None
    if args.token_env and not token:
        warning = f"${args.token_env} is not set: set it before `mirror sync` (entries need it)"
    elif not args.token_env:
        warning = "no --token-env: entry bundles need an officer or auditor token of the pod"
    append_mirror(config, source)
    if args.json:
        data = {
            "origin": source.origin,
            "url": source.url,
            "checkpoint_size": cp.size,
            "entries_readable": entries_checked,
            "warning": warning,
        }
        print(json.dumps(data))
    else:
        print(
            f"mirroring {source.origin} from {source.url} (checkpoint of size {cp.size} verified)"
        )
    if warning:
        print(f"edgeaudit: warning: {warning}", file=sys.stderr)
    return 0


class _Progress:
    """One line on stderr per second at most, and one at the end of each pod."""

    def __init__(self) -> None:
        self.last = 0.0
        self.began = time.monotonic()  # one per pod and pass

    def __call__(self, origin: str, size: int, target: int, start: int) -> None:
        t = time.monotonic()
        if size < target and t - self.last < 1.0:
            return
        self.last = t
        rate = (size - start) / max(t - self.began, 1e-3)
        pct = 100.0 * size / target if target else 100.0
        print(
            f"mirror {origin}: {size:,} / {target:,} entries ({pct:.1f} %), {rate:,.0f}/s",
            file=sys.stderr,
            flush=True,
        )


def _sync(args: argparse.Namespace, config: object) -> int:
    from edgeaudit.mirror.http import TokenBucket
    from edgeaudit.mirror.sync import BATCH, SyncResult, sync_one
    from edgeaudit.workspace.config import WorkspaceConfig
    from edgeaudit.workspace.mirrors import load_mirrors
    from edgeaudit.workspace.state import open_store

    assert isinstance(config, WorkspaceConfig)
    sources = load_mirrors(config)
    if args.target:
        sources = tuple(m for m in sources if m.origin == args.target)
        if not sources:
            known = ", ".join(m.origin for m in load_mirrors(config)) or "none"
            raise InputError(f"{args.target!r} is not mirrored (mirrored: {known})")
    if not sources:
        raise ConfigError("no [[mirror]] in edgeaudit.toml: add one with `edgeaudit mirror add`")
    for source in sources:  # before any pod is synced: a token is never sent in the clear
        if (problem := source.token_problem()) is not None:
            raise ConfigError(f"{config.root / 'edgeaudit.toml'}: {problem}; nothing was synced")
    bucket = TokenBucket(args.rate)
    store, own_log = open_store(config)
    code = 0
    with store:
        while True:
            results: list[SyncResult] = []
            for source in sources:
                r = sync_one(
                    store, own_log, config.root, source, bucket, _Progress(), args.batch or BATCH
                )
                results.append(r)
                if not args.json:
                    print(_line(r), flush=True)
            code = _exit(results)
            if args.json:
                print(json.dumps({"mirrors": [r.to_dict() for r in results], "exit_code": code}))
                sys.stdout.flush()
            if not args.follow:
                return code
            time.sleep(args.interval)


def _resolve(args: argparse.Namespace, config: object) -> int:
    """Settle an open fork for the held history, then sync the origin once (its exit code)."""
    from edgeaudit.mirror.forks import resolve
    from edgeaudit.mirror.state import MirrorFiles
    from edgeaudit.store import LogNotFoundError
    from edgeaudit.workspace.config import WorkspaceConfig
    from edgeaudit.workspace.mirrors import load_mirrors
    from edgeaudit.workspace.state import open_store

    assert isinstance(config, WorkspaceConfig)
    source = next((m for m in load_mirrors(config) if m.origin == args.target), None)
    if source is None:
        known = ", ".join(m.origin for m in load_mirrors(config)) or "none"
        raise InputError(f"mirror resolve: {args.target!r} is not mirrored (mirrored: {known})")
    if args.accept_new == args.keep_held:
        raise InputError("mirror resolve needs one of --keep-held or --accept-new")
    if args.accept_new:
        raise InputError(
            f"mirror resolve --accept-new: refused. The central store is append-only and the "
            f"mirror of {source.origin} holds entries the pod's new history contradicts; they "
            "cannot be replaced, and the mirror never drops what it holds. Keep the proof, and "
            "mirror the pod's new history under a new origin and key (the pod: init a new "
            "workspace or origin; here: mirror add). Nothing was changed"
        )
    files = MirrorFiles(config.root, source.origin)
    if not files.forks():
        raise InputError(f"mirror resolve: {source.origin} has no open fork proof; nothing to do")
    if not args.reason.strip():
        raise InputError("mirror resolve --keep-held needs --reason TEXT (it is recorded)")
    store, own_log = open_store(config)
    with store:
        try:
            cp = store.mirror(source.origin).held()
        except LogNotFoundError:
            cp = None
        if cp is None:
            raise InputError(
                f"mirror resolve --keep-held: the mirror holds no checkpoint of {source.origin}"
            )
        moved = resolve(files, own_log, source, cp.tree_size, args.reason.strip())
    names = ", ".join(str(p.relative_to(config.root)) for p in moved)
    print(
        f"{source.origin}: fork settled for the held history (size {cp.tree_size}); proof "
        f"archived: {names}; recorded as mirror.fork_resolved. Syncing again:",
        file=sys.stderr,
    )
    args.target, args.follow = source.origin, False
    return _sync(args, config)


def _exit(results: Sequence[object]) -> int:
    codes = {getattr(r, "exit_code", 0) for r in results}
    return 1 if 1 in codes else 3 if 3 in codes else 0


def _line(r: object) -> str:
    from edgeaudit.mirror.sync import SyncResult

    assert isinstance(r, SyncResult)
    head = f"{r.origin}: {r.status}"
    if r.status in ("synced", "up-to-date"):
        head += f", holds {r.held_size:,}"
        if r.stored:
            head += f" (+{r.stored:,} in {r.seconds:.1f} s, {r.requests} requests)"
    elif r.stored:
        head += f" (+{r.stored:,} stored, {r.stored_size:,} held in the store)"
    return head + (f": {r.message}" if r.message else "")
