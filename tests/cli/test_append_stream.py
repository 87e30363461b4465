"""``edgeaudit append`` streams: validate everything first, then append batch by batch from a
spool, never holding the input; the first pass may be split with a forked worker. The result is
the same entries in the same order, the same errors with the same line numbers, and nothing
written when a line is bad."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from edgeaudit.collect import jsonl, jsonl_spool
from edgeaudit.errors import StoreError
from edgeaudit.events import prepare
from edgeaudit.store import EvidenceLog
from tests.cli import Cli, stored_entries


def _events(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "time": f"2026-11-20T08:{(start + i) // 60 % 60:02d}:{(start + i) % 60:02d}Z",
            "kind": "auth.logon",
            "tenant": "fintech-a" if i % 2 else None,
            "actor": {"principal": f"user{start + i}", "at": "10:00"},
            "n": start + i,
        }
        for i in range(n)
    ]


def _write(path: Path, events: list[dict[str, Any]], bad: dict[int, bytes] | None = None) -> Path:
    lines = [orjson.dumps(e) + b"\n" for e in events]
    for number, raw in (bad or {}).items():
        lines[number - 1] = raw
    path.write_bytes(b"".join(lines))
    return path


def _size(cli: Cli) -> int:
    return int(cli.ok("status", "--json").json()["entries"])


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7, spool records of 3 and at most 100 bytes held: a 50-event file uses the
    temporary file and eight transactions."""
    monkeypatch.setattr(jsonl_spool, "BATCH_SIZE", 7)
    monkeypatch.setattr(jsonl_spool, "_RECORD", 3)
    monkeypatch.setattr(jsonl_spool, "_HELD_BYTES", 100)


@pytest.fixture
def split_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "SPLIT_MIN_BYTES", 1)
    monkeypatch.delenv(jsonl.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.5, 0.5))


def _canonical(events: list[dict[str, Any]]) -> list[bytes]:
    return [prepare(e).body for e in events]


@pytest.mark.usefixtures("small_batches")
def test_batches_store_everything_in_order(cli: Cli, tmp_path: Path) -> None:
    events = _events(50)
    path = _write(tmp_path / "e.jsonl", events)
    r = cli.ok("append", "--json", str(path))
    assert r.json() == {"appended": 50, "duplicates": 0, "first_index": 0, "tree_size": 50}
    assert stored_entries(cli) == _canonical(events)
    r = cli.ok("append", "--json", str(path), str(path))
    assert r.json() == {"appended": 0, "duplicates": 100, "first_index": None, "tree_size": 50}
    more = _write(tmp_path / "more.jsonl", events[:10] + _events(5, 1000))
    r = cli.ok("append", "--json", str(more))
    assert r.json() == {"appended": 5, "duplicates": 10, "first_index": 50, "tree_size": 55}
    assert cli.ok("verify").out.startswith("OK: 55 entries")
    assert not list(cli.root.rglob(".edgeaudit-append-*"))  # type: ignore[union-attr]


@pytest.mark.usefixtures("small_batches")
def test_repeats_across_batches_are_skipped_once(lite: Cli, tmp_path: Path) -> None:
    events = _events(10)
    path = _write(tmp_path / "e.jsonl", events + events + events[:3])
    r = lite.ok("append", "--json", str(path))
    assert r.json() == {"appended": 10, "duplicates": 13, "first_index": 0, "tree_size": 10}
    assert stored_entries(lite) == _canonical(events)


@pytest.mark.usefixtures("small_batches")
def test_a_bad_line_after_many_batches_writes_nothing(lite: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", _events(60), {58: b'{"time":"x","kind":"a"}\n'})
    r = lite("append", str(path))
    assert r.code == 2
    assert f"{path}:58: field 'time'" in r.err
    assert "nothing was appended" in r.err
    assert _size(lite) == 0


@pytest.mark.usefixtures("small_batches")
def test_stdin_is_spooled_too(lite: Cli, tmp_path: Path) -> None:
    events = _events(30)
    data = _write(tmp_path / "e.jsonl", events).read_bytes()
    r = lite.ok("append", "--json", "-", stdin=data)
    assert r.json()["appended"] == 30
    assert stored_entries(lite) == _canonical(events)


@pytest.mark.usefixtures("small_batches")
def test_a_store_failure_after_committed_batches_says_what_was_stored(
    lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = EvidenceLog.append
    calls: list[int] = []

    def fail_third(self: EvidenceLog, entries: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise StoreError("the database refused the write (test)")
        return real(self, entries, **kw)

    monkeypatch.setattr(EvidenceLog, "append", fail_third)
    events = _events(30)
    path = _write(tmp_path / "e.jsonl", events)
    r = lite("append", str(path))
    assert r.code == 2
    assert "the database refused the write (test)" in r.err
    assert "14 event(s) of the first 14 of 30 were appended" in r.err
    assert "again adds only the rest" in r.err
    monkeypatch.setattr(EvidenceLog, "append", real)
    assert stored_entries(lite) == _canonical(events[:14])
    r = lite.ok("append", "--json", str(path))
    assert (r.json()["appended"], r.json()["duplicates"]) == (16, 14)
    assert stored_entries(lite) == _canonical(events)


@pytest.mark.usefixtures("small_batches")
def test_an_interruption_after_committed_batches_says_what_was_stored(
    lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = EvidenceLog.append
    calls: list[int] = []

    def interrupt_second(self: EvidenceLog, entries: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, entries, **kw)

    monkeypatch.setattr(EvidenceLog, "append", interrupt_second)
    r = lite("append", str(_write(tmp_path / "e.jsonl", _events(30))))
    assert r.code == 130
    assert "7 event(s) of the first 7 of 30 were appended" in r.err
    monkeypatch.setattr(EvidenceLog, "append", real)
    assert _size(lite) == 7


def test_the_first_batch_failing_is_reported_as_before(
    lite: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: EvidenceLog, entries: Any, **kw: Any) -> Any:
        raise StoreError("the database refused the write (test)")

    monkeypatch.setattr(EvidenceLog, "append", fail)
    r = lite("append", str(_write(tmp_path / "e.jsonl", _events(5))))
    assert r.code == 2
    assert "the database refused the write (test)" in r.err
    assert "were appended" not in r.err


# -- the first pass split with a forked worker ---------------------------------------------


def _spooled(paths: list[str], workers: int) -> tuple[list[str], list[bytes] | None]:
    with jsonl.spool_events(paths, workers=workers, batch_size=7) as spool:
        errors = [str(e) for e in spool.errors]
        bodies = None if errors else [e.body for b in spool.batches() for e in b]
    return errors, bodies


@pytest.mark.usefixtures("split_always", "small_batches")
@pytest.mark.parametrize(
    "layout",
    [
        "one file",
        "three files",
        "same file twice",
        "small first file",  # the middle falls in the second file
        "empty file between",
    ],
)
@pytest.mark.parametrize("with_errors", [False, True])
def test_split_first_pass_is_the_one_process_pass(
    tmp_path: Path, layout: str, with_errors: bool
) -> None:
    bad = (
        {2: b"nope\n", 26: b'{"a":1,"a":2}\n', 40: b'{"time":"x","kind":"a"}\n'}
        if with_errors
        else {}
    )
    a = str(_write(tmp_path / "a.jsonl", _events(40), bad))
    b = str(_write(tmp_path / "b.jsonl", _events(17, 100), {5: b"   \n"}))
    tiny = str(_write(tmp_path / "tiny.jsonl", _events(1, 300)))
    empty = str(_write(tmp_path / "empty.jsonl", []))
    paths = {
        "one file": [a],
        "three files": [b, a, b],
        "same file twice": [a, a],
        "small first file": [tiny, a],
        "empty file between": [a, empty, b],
    }[layout]
    split = jsonl._split(paths)
    assert split is not None
    if layout == "small first file":
        assert split[0][-1].name == a
        assert split[1][0].name == a
    one = _spooled(paths, workers=1)
    two = _spooled(paths, workers=2)
    assert two == one
    if with_errors:
        assert any(":26: not valid JSON: member 'a' appears more than once" in e for e in one[0])
        assert any(e.endswith(":40: field 'time': 'x' is not an RFC 3339 timestamp "
                              "(expected e.g. 2026-11-22T10:15:00Z)") for e in one[0])  # fmt: skip
    else:
        assert one[1]


@pytest.mark.usefixtures("split_always")
def test_split_cut_is_at_a_line_start(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    for n in range(1, 12):  # every position of the middle byte relative to the lines
        events = _events(n)
        _write(path, events, {n: orjson.dumps(events[-1]) + b"   \n"} if n % 2 else None)
        assert _spooled([str(path)], workers=2) == _spooled([str(path)], workers=1)
        for k in range(1, n + 1):
            _write(path, events, {k: b"{bad\n"})
            assert _spooled([str(path)], workers=2) == _spooled([str(path)], workers=1)


@pytest.mark.usefixtures("split_always")
def test_split_append_end_to_end(cli: Cli, tmp_path: Path) -> None:
    events = _events(40)
    path = _write(tmp_path / "e.jsonl", events)
    r = cli.ok("append", "--json", str(path))
    assert r.json()["appended"] == 40
    assert stored_entries(cli) == _canonical(events)
    bad = _write(tmp_path / "bad.jsonl", _events(40, 500), {33: b"[1]\n"})
    r = cli("append", str(bad))
    assert r.code == 2
    assert f"{bad}:33: expected a JSON object" in r.err
    assert _size(cli) == 40


@pytest.mark.usefixtures("split_always")
def test_an_unreadable_file_in_the_workers_half(lite: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", _events(40))
    missing = tmp_path / "missing.jsonl"
    r = lite("append", str(path), str(missing))
    assert r.code == 2
    assert f"{missing}: cannot read" in r.err
    assert _size(lite) == 0


@pytest.mark.usefixtures("split_always")
def test_a_worker_that_dies_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def die(*args: object) -> None:
        raise MemoryError("the worker ran out")  # the child exits 1 without a message

    path = _write(tmp_path / "e.jsonl", _events(40), {30: b"nope\n"})
    expected = _spooled([str(path)], workers=1)
    monkeypatch.setattr(jsonl, "_work", die)
    assert _spooled([str(path)], workers=2) == expected
    good = _write(tmp_path / "good.jsonl", _events(40))
    assert _spooled([str(good)], workers=2) == _spooled([str(good)], workers=1)


def test_no_split_for_stdin_small_input_a_busy_machine_or_when_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(_write(tmp_path / "e.jsonl", _events(40)))
    load = [0.5]
    monkeypatch.delenv(jsonl.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    assert jsonl._split([path]) is None  # below SPLIT_MIN_BYTES
    monkeypatch.setattr(jsonl, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert jsonl._split([path]) is not None
    assert jsonl._split([path, "-"]) is None
    load[0] = 1.5  # no idle CPU: measured slower with the worker
    assert jsonl._split([path]) is None
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert jsonl._split([path]) is not None
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    load[0] = 0.0
    assert jsonl._split([path]) is None
    monkeypatch.setenv(jsonl.WORKERS_ENV, "2")
    load[0] = 50.0
    assert jsonl._split([path]) is not None
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv(jsonl.WORKERS_ENV, "1")
    assert jsonl._split([path]) is None


def test_spool_memory_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past _HELD_BYTES the records go to the file; at most one record is in memory."""
    monkeypatch.setattr(jsonl_spool, "_HELD_BYTES", 4096)
    path = _write(tmp_path / "e.jsonl", _events(5000))
    with jsonl.spool_events([str(path)], workers=1, spool_dir=tmp_path) as spool:
        assert spool._file is not None
        assert spool._held == []
        assert len(spool._rows) < jsonl_spool._RECORD
        assert [p.name for p in tmp_path.iterdir()] == ["e.jsonl"]  # unnamed: nothing to leak
        sizes = [len(b) for b in spool.batches()]
    assert sum(sizes) == 5000
    assert max(sizes) == jsonl_spool.BATCH_SIZE or sizes == [5000]


def test_read_events_still_returns_everything(tmp_path: Path) -> None:
    events = _events(12)
    path = _write(tmp_path / "e.jsonl", events)
    entries, errors = jsonl.read_events([str(path)])
    assert errors == []
    assert [e.body for e in entries] == _canonical(events)
    _write(path, events, {3: b"x\n"})
    entries, errors = jsonl.read_events([str(path)])
    assert entries == []
    assert [str(e) for e in errors] == [
        f"{path}:3: not valid JSON: Expecting value: line 1 column 1 (char 0)"
    ]
    assert json.loads(json.dumps([e.line for e in errors])) == [3]
