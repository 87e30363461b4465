"""A probe run as evidence: one ``probe.run`` event and one ``probe.result`` per probe (and
``probe.missed`` for a scheduled run that did not happen), appended like any collector's.

Fingerprints are the run id + target/protocol/port, so appending a run twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.model import Event, Provenance, Target
from edgeaudit.probe.reference import Seen, seen_from
from edgeaudit.probe.verdict import VERDICTS, Result

if TYPE_CHECKING:  # the store is imported by whoever opens it, not to load plans
    from edgeaudit.events import PreparedEntry
    from edgeaudit.store import AppendResult, EvidenceLog

PARSER_VERSION = "1"


@dataclass(frozen=True)
class RunInfo:
    run: str  # uuid
    plan: str
    vantage: str  # segment id
    matrix_version: str
    engine: str  # edgeaudit-probe/1, nmap/7.93
    params: dict[str, Any]
    started: str  # RFC 3339 UTC
    finished: str
    trigger: str  # manual / schedule / change:<ref>
    source_kind: str = "probe"  # or "nmap"


def _tenants(inventory: Inventory, segments: Iterable[str]) -> tuple[str, ...]:
    owners = {s.id: s.owner for s in inventory.segments}
    return tuple(sorted({owners[s] for s in segments if owners.get(s, "shared") != "shared"}))


def _provenance(info: RunInfo, native_id: str, attrs: dict[str, Any]) -> Provenance:
    raw = json.dumps(attrs, sort_keys=True, separators=(",", ":")).encode()
    return Provenance(
        source_kind=info.source_kind,
        source=info.vantage,
        location=f"run:{info.run}",
        parser_version=PARSER_VERSION,
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        native_id=native_id,
    )


def _attrs(d: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(d.items()))


def summary(results: Sequence[Result], controls_ok: bool) -> dict[str, Any]:
    counts = Counter(r.verdict for r in results)
    return {
        "controls_ok": controls_ok,
        "counts": {v: counts[v] for v in VERDICTS if counts[v]},
        "violations": sum(1 for r in results if r.violation),
    }


def run_events(
    info: RunInfo, results: Sequence[Result], controls_ok: bool, inventory: Inventory
) -> list[Event]:
    """The ``probe.run`` event followed by every ``probe.result``."""
    s = summary(results, controls_ok)
    segments = {info.vantage, *(r.probe.segment for r in results)}
    run_attrs = {
        "run": info.run,
        "plan": info.plan,
        "vantage": info.vantage,
        "matrix_version": info.matrix_version,
        "engine": info.engine,
        "params": info.params,
        "started": info.started,
        "finished": info.finished,
        "trigger": info.trigger,
        **s,
    }
    outcome = "failure" if s["violations"] else "success" if controls_ok else "unknown"
    events = [
        Event(
            kind="probe.run",
            time=info.started,
            time_text=info.started,
            provenance=_provenance(info, info.run, run_attrs),
            outcome=outcome,
            scope=_tenants(inventory, segments),
            attrs=_attrs(run_attrs),
        )
    ]
    for r in results:
        p = r.probe
        attrs: dict[str, Any] = {
            "run": info.run,
            "plan": info.plan,
            "vantage": info.vantage,
            "segment": p.segment,
            "address": p.address,
            "protocol": p.protocol,
            "port": p.port,
            "expected": p.expected,
            "verdict": r.verdict,
            "control": p.control,
            "reasons": list(r.reasons),
            "tries": r.tries,
        }
        if p.payloads:
            attrs["payloads"] = list(p.payloads)
        if r.reference is not None:
            attrs["reference"] = r.reference.to_dict()
        native = f"{info.run}:{p.address}:{p.protocol}:{p.port if p.port is not None else '-'}"
        events.append(
            Event(
                kind="probe.result",
                time=info.started,
                time_text=info.started,
                provenance=_provenance(info, native, attrs),
                target=Target(asset=p.asset, owner=p.owner),
                outcome=r.outcome,
                scope=_tenants(inventory, {info.vantage, p.segment}),
                attrs=_attrs(attrs),
            )
        )
    return events


def missed_event(plan: str, vantage: str, due: str, detected: str, inventory: Inventory) -> Event:
    attrs = {"plan": plan, "vantage": vantage, "due": due, "detected": detected}
    raw = f"{plan}|{due}".encode()  # detecting the same miss twice is one record
    return Event(
        kind="probe.missed",
        time=due,
        time_text=due,
        provenance=Provenance(
            source_kind="probe",
            source=vantage,
            location=f"schedule:{plan}",
            parser_version=PARSER_VERSION,
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            native_id=f"missed:{plan}:{due}",
        ),
        outcome="failure",
        scope=_tenants(inventory, {vantage}),
        attrs=_attrs(attrs),
    )


def prepared(events: Iterable[Event]) -> list[PreparedEntry]:
    """The entries the store appends for ``events``, each prepared on the collectors' fast
    path (its time was validated when the event was built; the bytes are those of
    :func:`edgeaudit.events.prepare`)."""
    return [e.prepared() for e in events]


def append_events(log: EvidenceLog, events: Sequence[Event]) -> AppendResult:
    """Append ``events`` in one transaction."""
    return log.append(prepared(events))


def recorded_references(log: EvidenceLog, start: float, end: float) -> list[Seen]:
    """Reachable, allowed UDP results of runs that started in [start, end], from the store."""
    since = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = datetime.fromtimestamp(end + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    with log.reader() as r:
        size = r.head()[0]
        for index, body, _ in r.select(["probe.result"], since, until, size):
            seen = seen_from(json.loads(body), index)
            if seen is not None and start <= seen.t <= end:
                out.append(seen)
    return out
