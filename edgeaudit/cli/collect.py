"""``edgeaudit collect``: build the parse context from the workspace and run the collector.

One collector per source at a time: before reading anything, the command takes an advisory lock
(``flock``) per source kind and file under ``<workspace>/locks/collect/``. A second collector
of the same source is refused at once (:class:`SourceBusyError`, exit status 75, EX_TEMPFAIL)
with a message naming the source and the holder (pid, host, since when, following or not);
nothing of the second command is collected. The kernel drops the lock when its holder ends, a
killed one included, so a stale lock file never blocks.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edgeaudit.collect.interface import ParseContext, Parser, declared_options, declared_uses
from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.collect.registry import kinds, parser_class
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import ConfigError, EdgeauditError, InputError
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace.config import WorkspaceConfig

LOCK_DIR = Path("locks") / "collect"
CARD_KEY_ENV: Final = "EDGEAUDIT_CARD_HASH_KEY"  # default of --card-key-env


class SourceBusyError(EdgeauditError):
    """Another collector is collecting the same source (kind and file) right now."""

    exit_code = 75  # EX_TEMPFAIL: nothing was done; try again once the other one has ended


def _lock_name(kind: str, path: str) -> str:
    return hashlib.sha256(f"{kind}\0{path}".encode()).hexdigest()[:32] + ".lock"


def _holder(fd: int) -> str:
    """Who holds a lock, as its holder wrote it (it may not have written yet)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, host, since = info["pid"], info["host"], info["since"]
    except (OSError, ValueError, KeyError, TypeError):
        return "another collector (which has not recorded itself yet)"
    how = "`edgeaudit collect --follow`" if info.get("follow") else "`edgeaudit collect`"
    return f"{how}, pid {pid} on {host}, since {since}"


@contextmanager
def _source_lock(lock_dir: Path, kind: str, path: str, follow: bool) -> Iterator[None]:
    lock = lock_dir / _lock_name(kind, path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the collector lock {lock}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceBusyError(
                f"{kind} source {path} is being collected by {_holder(fd)}; two collectors of "
                "one source would race for its resume point, so nothing was collected: run "
                "again once that one has ended (or stop it)"
            ) from None
        info = {
            "kind": kind,
            "path": path,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "follow": follow,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the lock is free again: no stale holder to report
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def source_locks(
    root: Path, kind: str, paths: Sequence[Path], follow: bool = False
) -> Iterator[None]:
    """Hold the lock of every source (``kind`` and the file's resolved path) for the
    duration, or raise :class:`SourceBusyError` (holding none) if another collector has one."""
    lock_dir = root / LOCK_DIR
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {lock_dir} for collector locks: {exc.strerror}") from None
    with ExitStack() as stack:
        for path in sorted({str(p.resolve()) for p in paths}):
            stack.enter_context(_source_lock(lock_dir, kind, path, follow))
        yield


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
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--option {pair!r}: expected KEY=VALUE")
        if key in out and out[key] != value:
            raise InputError(f"--option {key} is given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


# the collect flags that set a parse-context field, and that field
_CONTEXT_FLAGS: Final = (
    ("--timezone", "timezone"),
    ("--year", "year"),
    ("--card-key-env", "hmac_key"),
)


def _users(test: Callable[[type[Parser]], bool]) -> str:
    """The source kinds whose parser passes ``test``, for messages (broken plugins left out)."""
    found = []
    for kind in kinds():
        try:
            if test(parser_class(kind)):
                found.append(kind)
        except EdgeauditError:
            continue
    return ", ".join(found) or "no installed collector"


def _using(field: str) -> Callable[[type[Parser]], bool]:
    return lambda c: field in declared_uses(c)


def check_usage(cls: type[Parser], args: argparse.Namespace) -> dict[str, str]:
    """The ``--option`` values for ``cls``; an :class:`InputError` (exit 2, before anything is
    read) for every option the collector would ignore: an ``--option`` key it does not know,
    and a flag it does not use (``--vantage``, ``--timezone``, ``--year``, ``--card-key-env``;
    ``--poll`` and ``--settle`` without ``--follow``; ``--follow`` on a whole-file format)."""
    kind = cls.name
    options = _options(args.option)
    if args.vantage is not None:
        if options.get("vantage", args.vantage) != args.vantage:
            raise InputError("--vantage and --option vantage= name different segments")
        options["vantage"] = args.vantage
    known = declared_options(cls)
    problems = []
    flagged = args.vantage is not None and "vantage" not in known
    if flagged:
        problems.append(
            f"--vantage is not used by {kind} collectors (it is for: "
            f"{_users(lambda c: 'vantage' in declared_options(c))})"
        )
    unknown = sorted(k for k in options if k not in known and not (flagged and k == "vantage"))
    if unknown:
        problems.append(
            f"unknown --option {', '.join(unknown)} (known: {', '.join(known)})"
            if known
            else f"unknown --option {', '.join(unknown)} ({kind} takes no --option)"
        )
    uses = declared_uses(cls)
    for flag, field in _CONTEXT_FLAGS:
        if getattr(args, flag[2:].replace("-", "_")) is not None and field not in uses:
            users = _users(_using(field))
            problems.append(f"{flag} is not used by {kind} collectors (it is for: {users})")
    if not args.follow:
        for flag in ("--poll", "--settle"):
            if getattr(args, flag[2:]) is not None:
                problems.append(f"{flag} is only used with --follow")
    elif cls.framing == "file":
        problems.append(
            f"--follow reads growing line-oriented logs; {kind} reads each file as one document"
        )
    if problems:
        raise InputError(f"collect {kind}: " + "; ".join(problems) + "; nothing was collected")
    return options


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
    options = check_usage(cls, args)
    card_key = os.environ.get(args.card_key_env or CARD_KEY_ENV)
    stop = threading.Event()
    if args.follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    paths = [Path(p) for p in args.paths]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    with source_locks(config.root, cls.name, paths, args.follow):
        return _collect_all(args, log, cls, paths, inventory, zone, options, card_key, stop)


def _collect_all(
    args: argparse.Namespace,
    log: EvidenceLog,
    cls: Callable[[], Parser],
    paths: list[Path],
    inventory: Inventory,
    zone: ZoneInfo | None,
    options: dict[str, str],
    card_key: str | None,
    stop: threading.Event,
) -> CollectSummary:
    summary = CollectSummary()
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
                poll=args.poll if args.poll is not None else 1.0,
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
        summary.add(part)
    return summary


def summary_text(summary: CollectSummary) -> str:
    """The collect summary for people: every count on one line, then each skip reason."""
    counts = "  ".join(f"{k} {v}" for k, v in summary.to_dict().items() if not isinstance(v, dict))
    reasons = sorted(summary.skip_reasons.items(), key=lambda rc: (-rc[1], rc[0]))
    return "\n".join([counts, *(f"  skipped {n:>7}  {reason}" for reason, n in reasons)])
