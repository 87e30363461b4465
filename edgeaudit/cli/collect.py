"""``edgeaudit collect``: build the parse context from the workspace and run the collector."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.collect.registry import parser_class
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace.config import WorkspaceConfig


def _inventory(args: argparse.Namespace, config: WorkspaceConfig) -> Inventory:
    if args.inventory:
        return load_inventory(args.inventory)
    default = config.root / "policies" / "inventory.yaml"
    if default.is_file():
        return load_inventory(default)
    print(
        "edgeaudit: warning: no inventory (policies/inventory.yaml); identities, assets and "
        "keys stay unresolved",
        file=sys.stderr,
    )
    return Inventory.empty()


def _progress(name: str, done: int, total: int) -> None:
    """A one-line progress display on stderr (only when it is a terminal)."""
    pct = 100 * done // total if total else 100
    end = "\n" if done >= total else ""
    print(f"\r{name}: {done >> 20} / {total >> 20} MiB ({pct}%)", end=end, file=sys.stderr)


def _reporting(
    work: Callable[[], None],
    path: Path,
    failures: list[tuple[Path, BaseException]],
    stop: threading.Event,
) -> None:
    """Run one follower thread; a failure is kept for the CLI and stops the other followers
    (a thread's exception would otherwise only be printed, and the command go on)."""
    try:
        work()
    except BaseException as exc:  # reported by run_collect after every thread has ended
        failures.append((path, exc))
        stop.set()


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--option {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def run_collect(
    args: argparse.Namespace, config: WorkspaceConfig, log: EvidenceLog
) -> CollectSummary:
    cls = parser_class(args.kind)
    inventory = _inventory(args, config)
    zone_name = args.timezone or inventory.timezone
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {zone_name!r}") from None
    card_key = os.environ.get(args.card_key_env)
    options = _options(args.option)
    stop = threading.Event()
    if args.follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    summary = CollectSummary()
    paths = [Path(p) for p in args.paths]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    threads = []
    failures: list[tuple[Path, BaseException]] = []
    parts: list[CollectSummary] = []
    for path in paths:
        part = CollectSummary()  # one per file: follow threads never share counters
        parts.append(part)
        ctx = ParseContext(
            source=args.source or path.name,
            inventory=inventory,
            timezone=zone,
            year=args.year,
            options=options,
            hmac_key=card_key.encode("utf-8") if card_key else None,
        )

        def work(path: Path = path, ctx: ParseContext = ctx, part: CollectSummary = part) -> None:
            collect_file(
                log,
                cls,
                path,
                ctx,
                part,
                batch_size=args.batch_size,
                follow=args.follow,
                poll=args.poll,
                settle=getattr(args, "settle", None),
                stop=stop,
                progress=_progress if sys.stderr.isatty() and not args.follow else None,
            )

        if args.follow and len(paths) > 1:
            t = threading.Thread(
                target=_reporting, args=(work, path, failures, stop), name=f"follow {path}"
            )
            t.daemon = True
            t.start()
            threads.append(t)
        else:
            work()
    for t in threads:
        t.join()
    if failures:  # every follower has stopped: report each failure, naming its file
        raise InputError("; ".join(f"following {p}: {exc}" for p, exc in failures)) from (
            failures[0][1]
        )
    for part in parts:
        for name, value in part.to_dict().items():
            setattr(summary, name, getattr(summary, name) + value)
    return summary
