"""``edgeaudit collect``: build the parse context from the workspace and run the collector."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
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

        def work(path: Path = path, ctx: ParseContext = ctx) -> None:
            collect_file(
                log,
                cls,
                path,
                ctx,
                summary,
                batch_size=args.batch_size,
                follow=args.follow,
                poll=args.poll,
                stop=stop,
                progress=_progress if sys.stderr.isatty() and not args.follow else None,
            )

        if args.follow and len(paths) > 1:
            t = threading.Thread(target=work, name=f"follow {path}", daemon=True)
            t.start()
            threads.append(t)
        else:
            work()
    for t in threads:
        t.join()
    for part in parts:
        for name, value in part.to_dict().items():
            setattr(summary, name, getattr(summary, name) + value)
    return summary
