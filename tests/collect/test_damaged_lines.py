"""Over-long lines: a line over the limit (reading.MAX_RECORD, 4 MiB) is quarantined whole as one
record (raw cut to RAW_MAX, the true length in the reason), never buffered whole, and every
later line keeps its true line number: on the first read, after a resume, and whatever the read
size."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.collect import reading
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.store import EvidenceLog, Store
from tests.collect.test_damaged_regions import (
    ORIGIN,
    collect,
    events,
    good,
    numbered,
    quarantine,
)


@pytest.fixture
def log(store: Store) -> EvidenceLog:
    return store.log(ORIGIN, create=True)


def _reason(n: int, limit: int, kept: int) -> str:
    return (
        f"line of {n} bytes is longer than the limit of {limit} bytes; its first {kept} bytes "
        "are kept here"
    )


def test_an_over_long_line_is_one_record_and_later_lines_keep_their_numbers(
    log: EvidenceLog, tmp_path: Path
) -> None:
    n = reading.MAX_RECORD + 12345
    long = b"{" + b"x" * (n - 1)
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 3) + long + b"\n" + good(3, 3))
    s = collect(log, f)
    (rec,) = quarantine(log)
    assert rec.location == "app.log:4"
    assert rec.reason == _reason(n, reading.MAX_RECORD, reading.RAW_MAX)
    assert rec.raw == long[: reading.RAW_MAX]
    assert events(log) == {
        **{0: "app.log:1", 1: "app.log:2", 2: "app.log:3"},
        **{3: "app.log:5", 4: "app.log:6", 5: "app.log:7"},
    }
    assert (s.read, s.appended, s.quarantined) == (6, 6, 1)


def test_a_line_at_the_limit_is_a_line_and_one_byte_more_is_not(
    log: EvidenceLog, tmp_path: Path
) -> None:
    """The limit counts a line's bytes without its newline (a CR before it counts)."""
    at_limit = b"bad" + b"x" * (reading.MAX_RECORD - 3)
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 1) + at_limit + b"\n" + at_limit + b"\r\n" + good(1, 1))
    collect(log, f)
    first, second = quarantine(log)
    assert (first.location, first.reason, first.raw) == ("app.log:2", "bad line", at_limit)
    assert (second.location, second.reason) == (
        "app.log:3",
        _reason(reading.MAX_RECORD + 1, reading.MAX_RECORD, reading.RAW_MAX),
    )
    assert events(log) == {0: "app.log:1", 1: "app.log:4"}


CASES = {
    # name: (file bytes, [(line, true length)] of the over-long lines)
    "first line": (b"y" * 250 + b"\n" + good(0, 5), [(1, 250)]),
    "middle": (good(0, 5) + b"y" * 101 + b"\n" + good(5, 5), [(6, 101)]),
    "last line, no newline": (good(0, 5) + b"y" * 3000, [(6, 3000)]),
    "two in a row": (
        good(0, 2) + b"y" * 200 + b"\n" + b"z" * 300 + b"\n" + good(2, 2),
        [(3, 200), (4, 300)],
    ),
    "crlf": (good(0, 2).replace(b"\n", b"\r\n") + b"y" * 150 + b"\r\n" + b"ok 2\r\n", [(3, 151)]),
    "over-long then blank lines": (good(0, 2) + b"y" * 500 + b"\n\n\n" + good(2, 2), [(3, 500)]),
}


@pytest.mark.parametrize("read_size", [1, 13, 64, 1 << 20])
@pytest.mark.parametrize("case", sorted(CASES))
def test_over_long_lines_at_any_place_and_read_size(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, read_size: int
) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD", 100)
    monkeypatch.setattr(reading, "RAW_MAX", 32)
    monkeypatch.setattr(reading, "READ_SIZE", read_size)
    data, long = CASES[case]
    f = tmp_path / "app.log"
    f.write_bytes(data)
    log = store.log(ORIGIN, create=True)
    s = collect(log, f)
    lines = data.split(b"\n")
    assert [(r.location, r.reason, r.raw) for r in quarantine(log)] == sorted(
        (f"app.log:{no}", _reason(n, 100, 32), lines[no - 1][:32]) for no, n in long
    )
    assert events(log) == numbered(data, "app.log")
    assert s.quarantined == len(long)


def test_resume_after_an_over_long_line_keeps_numbers(
    log: EvidenceLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD", 100)
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 3) + b"y" * 1000 + b"\n")
    first = collect(log, f)
    assert (first.appended, first.quarantined) == (3, 1)
    with f.open("ab") as fh:
        fh.write(good(3, 2) + b"z" * 500 + b"\n" + good(5, 1))
    again = collect(log, f)
    assert (again.read, again.appended, again.quarantined) == (3, 3, 1)
    assert events(log) == numbered(f.read_bytes(), "app.log")
    assert [r.location for r in quarantine(log)] == ["app.log:4", "app.log:7"]


def test_an_unfinished_over_long_line_is_not_taken_while_following(
    log: EvidenceLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Following, an over-long line still being written is quarantined once, when complete."""
    import threading
    import time

    from edgeaudit.collect.interface import ParseContext
    from tests.collect.fakeparser import FakeParser

    monkeypatch.setattr(reading, "MAX_RECORD", 100)
    f = tmp_path / "live.log"
    f.write_bytes(good(0, 2) + b"y" * 500)
    stop = threading.Event()
    t = threading.Thread(
        target=collect_file,
        args=(log, FakeParser, f, ParseContext(source="t"), CollectSummary()),
        kwargs={"follow": True, "poll": 0.05, "stop": stop},
    )
    t.start()
    try:
        deadline = time.monotonic() + 15
        while log.size < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert log.quarantine_count() == 0
        with f.open("ab") as fh:
            fh.write(b"y" * 500 + b"\n" + good(2, 1))
        while log.size < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        t.join(10)
    (rec,) = quarantine(log)
    assert (rec.location, rec.reason) == ("live.log:3", _reason(1000, 100, 1000))
    assert events(log)[2] == "live.log:4"


def test_an_over_long_line_before_a_real_parser(log: EvidenceLog, tmp_path: Path) -> None:
    """Through a real parser: the header piece is no longer fed to it, nothing is lost, and the
    next record's location is its true line."""
    from zoneinfo import ZoneInfo

    from edgeaudit.collect.interface import ParseContext
    from tests.collect.parsers.harness import inventory

    accepted = (
        b"Nov 20 08:07:02 fa-web-01 sshd[4242]: Accepted publickey for ravi from 10.0.0.9 "
        b"port 51122 ssh2: ED25519 SHA256:q1w2e3r4t5y6u7i8o9p0\n"
    )
    long = b"Nov 20 08:07:03 fa-web-01 sshd[4243]: " + b"A" * (reading.MAX_RECORD + 10)
    f = tmp_path / "auth.log"
    f.write_bytes(accepted + long + b"\n" + accepted.replace(b"4242", b"4244"))
    ctx = ParseContext("fa-web-01", inventory(), timezone=ZoneInfo("UTC"), year=2026)
    s = CollectSummary()
    collect_file(log, SyslogAuthParser, f, ctx, s)
    (rec,) = quarantine(log)
    assert rec.location == "auth.log:2"
    assert f"line of {len(long)} bytes" in rec.reason
    assert (s.read, s.appended, s.quarantined) == (2, 2, 1)
    import json

    with log.reader() as r:
        locations = [json.loads(b)["provenance"]["location"] for _, b, _, _ in r.iter_entries()]
    assert locations == ["auth.log:1", "auth.log:3"]
