"""report.pdf of a campus pack shows the figures of every log, not only the central part's:
each log's entries in the pack (counted here from each log's own store, up to the size the
pack proves it at), the campus's sum, the entries by kind per log, and in the exceptions
register and the evidence index the times of the pod entries a finding cites."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import ok_json
from tests.pack.helpers import record_assessment

START, END = "2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"
CITED = {"pod-a": 4, "pod-b": 9}  # the failing result cites these entries of two pods


@dataclass(frozen=True)
class Report:
    pack: Path
    text: str  # the PDF's text, whitespace collapsed
    manifest: dict[str, Any]
    doc: dict[str, Any]  # findings.json


def _seconds(time: str) -> float:
    return datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()


def _chosen(db_url: str, origin: str, size: int, cited: set[int]) -> Counter[str]:
    """Kinds of the entries a pack of the period holds of a log of ``size``: those of the
    period and those cited, read from the log's store."""
    start, end = _seconds(START), _seconds(END)
    kinds: Counter[str] = Counter()
    with Store.open(db_url) as store, store.log(origin).reader() as reader:
        for index, body, _leaf, _chain in reader.iter_entries(0):
            if index >= size:
                break
            entry = json.loads(body)
            if start <= _seconds(entry["time"]) < end or index in cited:
                kinds[entry["kind"]] += 1
    return kinds


def _entry_time(db_url: str, origin: str, index: int) -> tuple[str, str]:
    with Store.open(db_url) as store, store.log(origin).reader() as reader:
        i, body, leaf, _ = next(reader.iter_entries(index))
    assert i == index
    return str(json.loads(body)["time"]), bytes(leaf).hex()


def _assessment(ws: Path, campus: Campus) -> dict[str, Any]:
    """A campus assessment (the shape of ``evaluate --campus``'s) whose one failing result
    cites an entry of pod-a and one of pod-b, recorded in the central log."""
    config = cfg.load(ws)
    signed = ok_json("-w", str(ws), "checkpoint")
    logs = []
    with Store.open(config.db_url) as store:
        with store.log(config.origin).reader() as reader:
            root = reader.root(signed["tree_size"]).hex()
        logs.append({"origin": config.origin, "tree_size": signed["tree_size"], "root_hash": root})
        for origin in sorted(set(store.origins()) - {config.origin}):
            held = store.log(origin).latest_checkpoint()
            assert held is not None
            logs.append(
                {"origin": origin, "tree_size": held.tree_size, "root_hash": held.root_hash.hex()}
            )
    evidence = []
    for name, index in CITED.items():
        pod = campus.pods[name]
        _time, leaf = _entry_time(cfg.load(pod.path).db_url, pod.origin, index)
        evidence.append({"index": index, "leaf_hash": leaf, "origin": pod.origin})
    result = {
        "id": "R-" + "9" * 16,
        "rule": "leavers.no_activity",
        "title": "leaver active on two pods",
        "status": "fail",
        "severity": "high",
        "controls": ["iso27001-2022:a.5.18"],
        "scope": {"principal": "op4"},
        "reason": "op4 left and logged on to pod-a and pod-b",
        "evidence": evidence,
    }
    coverage = [
        {
            "origin": x["origin"],
            "state": "covered",
            "tree_size": x["tree_size"],
            "last_entry": None,
            "verified_at": END,
        }
        for x in logs[1:]
    ]
    doc = {
        "assessment": {
            "id": "campus-report-figures-1",
            "from": START,
            "to": END,
            "tenant": None,
            "frameworks": ["iso27001-2022"],
            "tree_size": signed["tree_size"],
            "evaluated_at": END,
            "logs": logs,
            "coverage": {"until": END, "pods": coverage},
        },
        "results": [result],
        "controls": [],
    }
    with Store.open(config.db_url) as store:
        record_assessment(store.log(config.origin), doc)
    return doc


@pytest.fixture(scope="module")
def report(campus: Campus, mirrored: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("campus-report")
    mirrored.sync()  # whatever earlier tests left, the mirror holds some checkpoint of each pod
    findings = root / "findings.json"
    findings.write_text(json.dumps(_assessment(mirrored.ws, campus)))
    out = root / "pack"
    ok_json(
        "-w", str(mirrored.ws), "pack", "build", "--campus", "--from", START, "--to", END,
        "--findings", str(findings), "--out", str(out),
    )  # fmt: skip
    pages = [p.extract_text() for p in PdfReader(out / pf.REPORT).pages]
    return Report(
        out,
        " ".join(" ".join(pages).split()),
        json.loads((out / pf.MANIFEST).read_text()),
        json.loads((out / pf.FINDINGS_JSON).read_text()),
    )


def _kinds_per_log(report: Report, campus: Campus, ws: Path) -> list[tuple[str, Counter[str]]]:
    """(site, kinds of the entries the pack holds), the central log first, then each part,
    counted from each log's store."""
    central = cfg.load(ws)
    records = {int(r["record"]["index"]) for r in report.doc["results"]}
    size = report.manifest["checkpoint"]["tree_size"]
    out = [("central", _chosen(central.db_url, central.origin, size, records))]
    by_origin = {pod.origin: pod for pod in campus.pods.values()}
    cited = {campus.pods[name].origin: {i} for name, i in CITED.items()}
    for item in report.manifest["logs"]:
        pod = by_origin[item["origin"]]
        size = item["checkpoint"]["tree_size"]
        kinds = _chosen(cfg.load(pod.path).db_url, pod.origin, size, cited.get(pod.origin, set()))
        out.append((pod.name, kinds))
    return out


def test_the_figures_count_every_pods_entries(
    report: Report, campus: Campus, mirrored: Mirror
) -> None:
    logs = _kinds_per_log(report, campus, mirrored.ws)
    assert [site for site, _ in logs] == ["central", "pod-a", "pod-b", "pod-c"]
    parts = {x["origin"]: x["part"] for x in report.manifest["logs"]}
    assert all(sum(kinds.values()) > 0 for _, kinds in logs)
    for site, kinds in logs:
        part = "central log" if site == "central" else parts[campus.pods[site].origin]
        assert f"{site} ({part}) {sum(kinds.values())} 0 " in report.text, site
    total = sum(sum(k.values()) for _, k in logs)
    assert f"campus (every log) {total} 0 " in report.text
    # entries by kind: the campus's count, then each log's, in the order of the parts
    every = sorted({kind for _, k in logs for kind in k})
    for kind in every:
        row = [sum(k[kind] for _, k in logs)] + [k[kind] for _, k in logs]
        assert f"{kind} {' '.join(map(str, row))}" in report.text, kind
    assert "auth.logon" in every


def test_the_register_dates_the_cited_pod_entries(report: Report, campus: Campus) -> None:
    times = {}
    for name, index in CITED.items():
        pod = campus.pods[name]
        times[name] = _entry_time(cfg.load(pod.path).db_url, pod.origin, index)[0]
    first, last = sorted(times.values())
    # the register's "when": from the earliest cited entry to the latest, each of its pod
    assert f"{first[:19]}Z to {last[:19]}Z" in report.text
    # the evidence index: each cited pod entry with its time
    for name, index in CITED.items():
        assert f"{name} E-{index} {times[name]}" in report.text, name


def test_campus_figures_sum_the_logs_and_keep_each_sites_segments_apart() -> None:
    """Two pods that both probe ``cde -> guest`` are two pairs of the campus (a segment is
    one site's); key uses and kinds sum over the logs, each log's share stated."""
    from edgeaudit.pack.evidence import Stats
    from edgeaudit.pack.report_campus import LogFigures, campus_stats, context

    def stats(state: str, uses: int) -> Stats:
        s = Stats()
        s.kinds.update({"probe.result": 1, "key.use": uses})
        s.probes[("cde", "guest")] = state
        s.key_use[("fintech-a", "media-b", "success")] = uses
        s.times[3] = "2026-11-02T00:00:03Z"
        return s

    a, b = stats("open", 2), stats("blocked", 5)
    logs = [LogFigures("p1", "campus.example.org/pod-a", a), LogFigures("p2", "x/pod-b", b)]
    total = campus_stats(logs)
    assert total.probes == {
        ("pod-a: cde", "pod-a: guest"): "open",
        ("pod-b: cde", "pod-b: guest"): "blocked",
    }
    assert total.kinds == {"probe.result": 2, "key.use": 7}
    assert total.times == {}  # indices of different logs are never looked up in the sum
    assert a.probes == {("cde", "guest"): "open"}  # each log's figures are left as they were
    assert a.kinds["key.use"] == 2
    ctx = context(logs)
    assert ctx["key_rows_by_log"] == [(("fintech-a", "media-b", "success"), 7, "pod-a 2; pod-b 5")]
    assert ctx["kinds_by_log"] == [("key.use", 7, [2, 5]), ("probe.result", 2, [1, 1])]
    assert [r["entries"] for r in ctx["per_log"]] == [3, 6, 9]
