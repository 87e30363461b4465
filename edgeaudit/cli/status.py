"""The status and quarantine commands: what the store holds."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from edgeaudit.cli.common import _choice, _emit, _open, _workspace


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
