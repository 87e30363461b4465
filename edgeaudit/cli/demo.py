"""The demo command: generate a campus of raw source logs, or collect one into the store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeaudit.cli.common import _emit, _open, _workspace
from edgeaudit.errors import InputError


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
