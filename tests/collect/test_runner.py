"""The collector runner: idempotent re-ingest, quarantine, resume offsets, bad files, crashes."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError
from edgeaudit.store import Store
from tests.collect.fakeparser import FakeParser

ORIGIN = "audit.example.net/collect-test"
ROOT = Path(__file__).resolve().parents[2]


def _collect(log, path: Path, **kw) -> CollectSummary:
    summary = CollectSummary()
    collect_file(log, FakeParser, path, ParseContext(source="t"), summary, **kw)
    return summary


def _lines(path: Path, first: int, count: int, mode: str = "w") -> None:
    with path.open(mode) as fh:
        for i in range(first, first + count):
            fh.write(f"ok {i}\n")


def test_same_file_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "a.log"
    _lines(f, 0, 120)
    first = _collect(log, f, batch_size=50)
    assert (first.read, first.events, first.appended) == (120, 120, 120)
    # A fresh resume point is stored, so the second run reads nothing new...
    second = _collect(log, f, batch_size=50)
    assert (second.read, second.appended) == (0, 0)
    # ...and even from the start (offsets lost), everything is a duplicate.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM source_offsets")
    third = _collect(log, f, batch_size=50)
    assert (third.read, third.appended, third.duplicates) == (120, 0, 120)
    assert log.size == 120


def test_resume_reads_only_what_was_added(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "grow.log"
    _lines(f, 0, 30)
    assert _collect(log, f).read == 30
    _lines(f, 30, 12, mode="a")
    again = _collect(log, f)
    assert (again.read, again.appended) == (12, 12)
    assert log.size == 42


def test_quarantine_keeps_bad_lines_once(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "mixed.log"
    f.write_text("ok 1\nbad one\nnoise\nok 2\nbad two\n")
    s = _collect(log, f)
    assert (s.appended, s.quarantined) == (2, 2)
    rows = log.quarantined()
    assert {(r.location, r.reason, r.raw) for _, _, r in rows} == {
        ("mixed.log:2", "bad line", b"bad one"),
        ("mixed.log:5", "bad line", b"bad two"),
    }
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM source_offsets")
    assert _collect(log, f).quarantined == 0  # already quarantined: not counted again
    assert log.quarantine_count() == 2


def test_a_parser_bug_is_quarantined_and_collection_goes_on(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "boom.log"
    f.write_text("ok 1\nboom\nok 2\n")
    s = _collect(log, f)
    assert s.appended == 2
    ((_, _, rec),) = log.quarantined()
    assert rec.location == "boom.log:2"
    assert "RuntimeError: parser bug" in rec.reason
    assert rec.raw == b"boom"


def test_binary_file_is_refused_with_its_name_and_offset(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "core.bin"
    f.write_bytes(b"ok 1\n\x7fELF\x00\x01")
    with pytest.raises(InputError, match=r"core\.bin: looks binary \(NUL byte at offset 9\)"):
        _collect(log, f)
    assert log.size == 0


def test_gzip_input(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "old.log.gz"
    f.write_bytes(gzip.compress(b"".join(b"ok %d\n" % i for i in range(25))))
    assert _collect(log, f).appended == 25


def test_follow_picks_up_growth_and_rotation(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "live.log"
    _lines(f, 0, 5)
    stop = threading.Event()
    summary = CollectSummary()
    t = threading.Thread(
        target=collect_file,
        args=(log, FakeParser, f, ParseContext(source="t"), summary),
        kwargs={"follow": True, "poll": 0.05, "stop": stop},
    )
    t.start()
    try:
        _wait(lambda: log.size == 5)
        with f.open("a") as fh:
            fh.write("ok 5\nok 6")  # the last line is still being written
        _wait(lambda: log.size == 6)
        time.sleep(0.2)
        assert log.size == 6  # the partial line is not read yet
        with f.open("a") as fh:
            fh.write("\n")
        _wait(lambda: log.size == 7)
        _lines(f, 100, 3)  # rotated: a new, shorter file under the same name
        _wait(lambda: log.size == 10)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()


def _wait(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


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
                 batch_size=200)
"""


def test_killed_collector_resumes_exactly(store: Store, db_url: str, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "big.log"
    _lines(f, 0, 60_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(f), ORIGIN], env=env)
    _wait(lambda: log.size >= 2_000, timeout=60)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 0 < log.size < 60_000, "the kill should land mid-file"
    # the resume in the default batches: 12 commits instead of ~290 (each waits for the
    # database's WAL flush, a minute in all on a busy PostgreSQL); the kill is what is tested
    resumed = _collect(log, f)
    assert log.size == 60_000
    assert resumed.duplicates == 0  # resumed at the committed offset: nothing re-read twice
    assert resumed.read == 60_000 - log.size + resumed.appended


def test_resumed_csv_gets_its_header_again(store: Store, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from edgeaudit.collect.parsers.badge_csv import BadgeCsvParser

    log = store.log(ORIGIN, create=True)
    f = tmp_path / "doors.csv"
    row = "2026-11-22 12:0{m}:00,{n},granted,DC-MAIN-IN,4001234{n},Ravi Kumar,Operator Co,\n"
    f.write_text(
        "time,log_id,event,door,card,holder,company,reason\n"
        + "".join(row.format(m=i, n=i) for i in range(1, 4))
    )
    ctx = ParseContext(source="doors", timezone=ZoneInfo("Asia/Kolkata"), hmac_key=b"k")

    def collect() -> CollectSummary:
        s = CollectSummary()
        collect_file(log, BadgeCsvParser, f, ctx, s)
        return s

    assert collect().appended == 3
    with f.open("a") as fh:
        fh.write(row.format(m=4, n=4) + row.format(m=5, n=5))
    again = collect()
    assert (again.read, again.appended, again.quarantined) == (2, 2, 0)
    assert log.quarantine_count() == 0


def test_progress_is_reported_after_each_batch(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    f = tmp_path / "p.log"
    _lines(f, 0, 250)
    calls: list[tuple[str, int, int]] = []
    collect_file(
        log,
        FakeParser,
        f,
        ParseContext(source="t"),
        CollectSummary(),
        batch_size=100,
        progress=lambda *a: calls.append(a),
    )
    size = f.stat().st_size
    assert len(calls) == 3  # two full batches and the end of the file
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert calls[-1] == ("p.log", size, size)
