"""Parsing in a second process (collect_file(pipeline=True)) stores exactly what the
in-process runner stores, reports every failure, and commits resume offsets with their batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.pipeline import MIN_BYTES, WORKERS_ENV, CollectError, worth_a_worker
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import StoreError
from edgeaudit.store import EvidenceLog, Store
from tests.collect.fakeparser import FakeParser
from tests.collect.test_runner import ROOT, _wait

ORIGIN = "audit.example.net/pipeline-test"


def _collect(log: EvidenceLog, path: Path, pipeline: bool, **kw: object) -> CollectSummary:
    summary = CollectSummary()
    collect_file(log, FakeParser, path, ParseContext(source="t"), summary, pipeline=pipeline, **kw)
    return summary


def _content(store: Store, log: EvidenceLog) -> tuple[object, ...]:
    with log.reader() as r:
        entries = [(e[1], e[2], e[3]) for e in r.iter_entries()]
    with store.engine.connect() as conn:
        offsets = conn.exec_driver_sql(
            "SELECT source_kind, byte_offset, head_sha256 FROM source_offsets"
        ).all()
    quarantine = sorted((r.location, r.reason, r.raw) for _, _, r in log.quarantined())
    return entries, [tuple(o) for o in offsets], quarantine, log.head()


def _mixed(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(f"ok {i}\n")
            if i % 97 == 5:
                fh.write(f"bad {i}\n")
            if i % 389 == 7:
                fh.write("boom\n")
            if i % 50 == 0:
                fh.write("noise\n")


def test_pipelined_collection_stores_the_same_as_in_process(db_url: str, tmp_path: Path) -> None:
    f = tmp_path / "mixed.log"
    _mixed(f, 3000)
    results = []
    for pipeline in (False, True):
        with Store.open(db_url, upgrade=True) as store:
            # one log per mode in the same database: entries, chain and tiles are per log
            log = store.log(f"{ORIGIN}-{'pipe' if pipeline else 'inline'}", create=True)
            summary = _collect(log, f, pipeline, batch_size=256)
            entries, offsets, quarantine, head = _content(store, log)
            results.append((summary.to_dict(), entries, offsets, quarantine, head[0]))
    (s1, e1, _, q1, n1), (s2, e2, o2, q2, n2) = results
    # both runs stored one resume point each, at the end of the file
    assert o2 == [("fake", f.stat().st_size, o2[0][2])] * 2
    assert s1 == s2
    assert (s1["events"], s1["appended"], s1["quarantined"]) == (3000, 3000, 31 + 8)
    assert e1 == e2
    assert n1 == n2 == 3000
    assert q1 == q2
    assert any("parser fake/1 failed: RuntimeError" in reason for _, reason, _ in q2)


def test_pipelined_resume_and_reingest(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "grow.log"
    _mixed(f, 500)
    first = _collect(log, f, True, batch_size=64)
    assert first.appended == 500
    with f.open("a") as fh:
        fh.write("".join(f"ok {i}\n" for i in range(500, 620)))
    again = _collect(log, f, True, batch_size=64)
    assert (again.read, again.appended, again.duplicates) == (120, 120, 0)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM source_offsets")
    third = _collect(log, f, True, batch_size=64)
    assert (third.appended, third.duplicates, third.quarantined) == (0, 620, 0)
    assert log.size == 620


def test_a_worker_that_dies_is_reported_and_what_was_committed_stays(
    store: Store, tmp_path: Path
) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "crash.log"
    f.write_text("".join(f"ok {i}\n" for i in range(300)) + "exit 3\n" + "ok 999\n")
    with pytest.raises(CollectError, match=r"crash\.log: the parser process ended .*exit code 3"):
        _collect(log, f, True, batch_size=100)
    assert log.size == 300  # the three full batches before the crash were committed
    f.write_text(f.read_text().replace("exit 3\n", "noise\n"))  # same length: same offsets
    resumed = _collect(log, f, True, batch_size=100)
    assert (resumed.appended, resumed.duplicates) == (1, 0)


def test_a_non_exception_failure_in_the_worker_reaches_the_caller(
    store: Store, tmp_path: Path
) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "halt.log"
    f.write_text("ok 1\nok 2\nhalt\nok 3\n")
    with pytest.raises(CollectError, match=r"halt\.log: the parser process failed: .*halt at"):
        _collect(log, f, True)
    with pytest.raises(SystemExit, match=r"halt at halt\.log:3"):  # in process: the same stop
        _collect(log, f, False)


def test_a_store_failure_stops_the_worker_and_is_raised(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "big.log"
    f.write_text("".join(f"ok {i}\n" for i in range(2000)))
    calls = []
    append = EvidenceLog.append

    def failing(self: EvidenceLog, *a: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise StoreError("disk full (test)")
        return append(self, *a, **kw)  # type: ignore[arg-type]

    for pipeline, committed in ((True, 200), (False, 400)):
        calls.clear()
        EvidenceLog.append = failing  # type: ignore[method-assign]
        try:
            with pytest.raises(StoreError, match="disk full"):
                _collect(log, f, pipeline, batch_size=100)
        finally:
            EvidenceLog.append = append  # type: ignore[method-assign]
        assert log.quarantine_count() == 0  # not mistaken for a parser bug
        assert log.size == committed  # two batches per run, each with its resume point
    resumed = _collect(log, f, True, batch_size=100)
    assert (resumed.appended, resumed.duplicates) == (1600, 0)


CHILD = """
import sys
from pathlib import Path
from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.store import Store
from tests.collect.fakeparser import FakeParser
with Store.open(sys.argv[1]) as store:
    log = store.log(sys.argv[3])
    collect_file(log, FakeParser, Path(sys.argv[2]), ParseContext(source="t"), CollectSummary(),
                 batch_size=200, pipeline=True)
"""


def test_killed_pipelined_collector_resumes_exactly(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "big.log"
    f.write_text("".join(f"ok {i}\n" for i in range(30_000)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(f), ORIGIN], env=env)
    _wait(lambda: log.size >= 2_000, timeout=60)
    child.send_signal(signal.SIGKILL)  # the collecting process; its worker sees a broken pipe
    child.wait()
    assert 0 < log.size < 30_000, "the kill should land mid-file"
    # the resume in the default batches: 6 commits, not ~140 each waiting for PostgreSQL's WAL
    # flush (19 s on the loaded machine); the kill is what is tested
    resumed = _collect(log, f, True)
    assert log.size == 30_000
    assert resumed.duplicates == 0


def test_the_worker_rule_and_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker only with a large file and an idle CPU (measured, see the rule); the setting
    turns it off, or on whatever the load and the CPUs."""
    load = [0.5]
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert worth_a_worker(MIN_BYTES)
    assert not worth_a_worker(MIN_BYTES - 1)  # a small file is parsed in-process
    load[0] = 1.5
    assert not worth_a_worker(1 << 30)  # no idle CPU: a wash in time, more CPU in all
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert worth_a_worker(1 << 30)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    load[0] = 0.0
    assert not worth_a_worker(1 << 30)  # one CPU: the worker would only add its cost
    monkeypatch.setenv(WORKERS_ENV, "2")
    load[0] = 50.0
    assert worth_a_worker(MIN_BYTES)
    assert not worth_a_worker(MIN_BYTES - 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    load[0] = 0.0
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert not worth_a_worker(1 << 30)
