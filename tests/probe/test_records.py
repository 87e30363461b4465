"""probe.* records: shape, scope, outcome, and re-appending a run adds nothing (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.probe.engine import Answer
from edgeaudit.probe.model import Probe
from edgeaudit.probe.records import RunInfo, append_events, missed_event, run_events
from edgeaudit.probe.verdict import decide
from edgeaudit.store import Store

TOPO = Path(__file__).parent / "data" / "topo"
INV = load_inventory(TOPO / "inventory.yaml")
PROBES = [
    Probe("198.18.3.30", "tcp", 22, "seg-c", "c-svc", "shared", "allow"),
    Probe("198.18.2.20", "tcp", 8443, "seg-b", "b-app", "tenant-b", "deny"),
    Probe("198.18.2.20", "icmp", None, "seg-b", "b-app", "tenant-b", "deny"),
]
INFO = RunInfo(
    run="3b0d7c52-6f7e-4c59-a1a4-0d7c5e0c1a11",
    plan="main",
    vantage="seg-v",
    matrix_version="lab-1",
    engine="edgeaudit-probe/1",
    params={"rate": 100, "tries": 3, "timeout": 0.5},
    started="2026-11-20T03:00:00.123456Z",
    finished="2026-11-20T03:00:02.5Z",
    trigger="schedule",
)


def events():  # type: ignore[no-untyped-def]
    answers = {
        ("198.18.3.30", "tcp", 22): [Answer("syn-ack", "198.18.3.30", 63)],
        ("198.18.2.20", "tcp", 8443): [Answer("syn-ack", "198.18.2.20", 63)],
    }
    sent = {(p.address, p.protocol, p.port): 1 for p in PROBES}
    results, ok = decide(PROBES, answers, sent, {})
    return run_events(INFO, results, ok, INV)


def test_event_shapes() -> None:
    run, *results = [e.to_record() for e in events()]
    assert run["kind"] == "probe.run"
    assert run["class_uid"] == 4001
    assert run["time"] == INFO.started
    assert run["outcome"] == "failure"
    assert run["scope"] == ["tenant-a", "tenant-b"]
    a = run["attrs"]
    assert a["counts"] == {"reachable": 2, "blocked": 1}
    assert (a["violations"], a["controls_ok"], a["trigger"]) == (1, True, "schedule")
    assert (a["matrix_version"], a["engine"], a["plan"]) == ("lab-1", "edgeaudit-probe/1", "main")
    assert a["finished"] == INFO.finished
    icmp = results[2]
    assert icmp["attrs"]["port"] is None
    assert icmp["attrs"]["reasons"] == ["no answer after 1 tries"]
    assert icmp["target"] == {"asset": "b-app", "owner": "tenant-b"}
    assert icmp["outcome"] == "success"
    assert results[0]["scope"] == ["tenant-a"]
    assert results[0]["attrs"]["control"] is True
    assert results[1]["outcome"] == "failure"


def test_reappending_a_run_adds_nothing(store: Store) -> None:
    log = store.log("test/probe", create=True)
    first = append_events(log, events())
    assert first.appended == 4
    again = append_events(log, events())
    assert (again.appended, again.duplicates) == (0, 4)
    with log.reader() as r:
        kinds = [json.loads(body)["kind"] for _, body, _, _ in r.iter_entries()]
    assert kinds == ["probe.run", "probe.result", "probe.result", "probe.result"]


def test_missed_run_record(store: Store) -> None:
    log = store.log("test/probe", create=True)
    e = missed_event("main", "seg-v", "2026-11-16T03:00:00Z", "2026-11-17T09:00:00Z", INV)
    rec = e.to_record()
    assert (rec["kind"], rec["outcome"], rec["scope"]) == ("probe.missed", "failure", ["tenant-a"])
    assert rec["attrs"] == {
        "plan": "main",
        "vantage": "seg-v",
        "due": "2026-11-16T03:00:00Z",
        "detected": "2026-11-17T09:00:00Z",
    }
    assert append_events(log, [e]).appended == 1
    later = missed_event("main", "seg-v", "2026-11-16T03:00:00Z", "2026-11-18T00:00:00Z", INV)
    assert append_events(log, [later]).appended == 0  # the same miss, detected again
