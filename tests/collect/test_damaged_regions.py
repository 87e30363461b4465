"""Binary regions inside text logs (crash residue: NUL runs, binary noise): each is quarantined as
one record at its first line, the rest is collected with true line numbers, and the outcome does
not depend on where the damage falls (start, middle, end, across a read buffer). Only a file
that is mostly binary is refused, wherever its text lies.

The helpers here are shared by the other test_damaged_* modules."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import threading
import time
from pathlib import Path

import pytest

from edgeaudit.collect import reading
from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError
from edgeaudit.store import EvidenceLog, QuarantineRecord, Store
from tests.collect.fakeparser import FakeParser

ORIGIN = "audit.example.net/damaged-test"
PAD = 40  # FakeParser reads "ok N" with any spaces after N: lines of a known, larger size


# -- helpers (shared) ------------------------------------------------------------------------


def good(first: int, count: int, pad: int = 0) -> bytes:
    """``count`` good FakeParser lines ``ok N`` (N from ``first``), padded with spaces."""
    return b"".join(b"ok %d%s\n" % (i, b" " * pad) for i in range(first, first + count))


def collect(log: EvidenceLog, path: Path, **kw: object) -> CollectSummary:
    summary = CollectSummary()
    collect_file(log, FakeParser, path, ParseContext(source="t"), summary, **kw)  # type: ignore[arg-type]
    return summary


def events(log: EvidenceLog) -> dict[int, str]:
    """FakeParser events as {N: location}."""
    out = {}
    with log.reader() as r:
        for _, body, _, _ in r.iter_entries():
            rec = json.loads(body)
            out[rec["attrs"]["n"]] = rec["provenance"]["location"]
    return out


def quarantine(log: EvidenceLog) -> list[QuarantineRecord]:
    return sorted((r for _, _, r in log.quarantined(10_000)), key=lambda r: r.location)


def numbered(data: bytes, name: str) -> dict[int, str]:
    """Where each good line ``ok N`` of ``data`` is: {N: "name:line"}, by physical line."""
    out = {}
    for no, line in enumerate(data.split(b"\n"), 1):
        text = line.rsplit(b"\x00", 1)[-1].rstrip(b"\r").rstrip(b" ")  # after a NUL run too
        if text.startswith(b"ok ") and text[3:].isdigit():
            out[int(text[3:])] = f"{name}:{no}"
    return out


def noise(size: int, seed: int = 7) -> bytes:
    """NUL-free binary noise that starts and ends with a binary byte, with binary bytes never
    GAP or more apart: one cluster, whatever its size."""
    rnd = random.Random(seed)
    while True:
        data = b"\x01" + rnd.randbytes(size - 2).replace(b"\x00", b"\x03") + b"\x02"
        at = [i for i, b in enumerate(data) if b in reading.BINARY_BYTES]
        if all(b - a < reading.GAP for a, b in itertools.pairwise(at)):
            return data


@pytest.fixture
def log(store: Store) -> EvidenceLog:
    return store.log(ORIGIN, create=True)


# -- one region, wherever it falls -----------------------------------------------------------

LINES = 300  # lines of PAD + ~6 bytes: ~14 KiB
BUFFER = reading.READ_SIZE


def _with_damage(kind: str, at_line: int, total: int = LINES, pad: int = PAD) -> tuple[bytes, int]:
    """``total`` good lines with damage after line ``at_line``; (file bytes, region size)."""
    before, after = good(0, at_line, pad), good(at_line, total - at_line, pad)
    if kind == "nul-run":  # NULs where lost data was, the next write right after them
        return before + b"\x00" * 700 + after, 700
    if kind == "nul-mid-line":  # ... and the block began inside a line: its head is damaged
        head, rest = after.split(b"\n", 1)
        return before + head[:4] + b"\x00" * 700 + rest, 704
    assert kind == "noise"  # binary noise on its own line(s)
    junk = noise(900)
    return before + junk + b"\n" + after, len(junk) + 1


@pytest.mark.parametrize("kind", ["nul-run", "nul-mid-line", "noise"])
@pytest.mark.parametrize("where", ["start", "middle", "end", "buffer-boundary"])
def test_a_binary_region_is_one_record_wherever_it_falls(
    log: EvidenceLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, where: str
) -> None:
    at_line = {"start": 0, "middle": LINES // 2, "end": LINES, "buffer-boundary": 100}[where]
    if kind == "nul-mid-line" and where == "end":
        at_line -= 1  # the NULs replace the end of the last line
    data, size = _with_damage(kind, at_line)
    if where == "buffer-boundary":
        # the damage straddles the end of the first read
        offset = len(good(0, at_line, PAD)) + size // 2
        monkeypatch.setattr(reading, "READ_SIZE", offset)
    f = tmp_path / "app.log"
    f.write_bytes(data)
    s = collect(log, f)
    (rec,) = quarantine(log)
    region_start = len(good(0, at_line, PAD))
    assert rec.reason == f"binary region of {size} bytes"
    assert rec.location == f"app.log:{at_line + 1}"  # the region's first line
    assert rec.raw == data[region_start : region_start + size]
    lost = {at_line} if kind == "nul-mid-line" and at_line < LINES else set()
    want = {n: loc for n, loc in numbered(data, "app.log").items() if n not in lost}
    assert events(log) == want  # every good line, at its true line number
    assert len(want) == LINES - len(lost)
    assert (s.quarantined, s.appended, s.read) == (1, len(want), len(want))
    # nothing twice on a second run, and the same from a fresh start
    assert collect(log, f).read == 0
    with log._engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM source_offsets")
    again = collect(log, f)
    assert (again.appended, again.quarantined, again.duplicates) == (0, 0, len(want))


def test_the_outcome_does_not_depend_on_the_read_size(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "app.log"
    junk = noise(3000, seed=3)
    f.write_bytes(
        good(0, 50, 120)
        + b"\x00" * 5000
        + good(50, 50, 120)
        + junk
        + b"\n"
        + good(100, 50, 120)
        + b"part\x00\x00\x00\x00of a line\n"
        + good(150, 20, 120)
    )
    results = []
    for i, size in enumerate([1, 7, 100, 4096, 1 << 20]):
        monkeypatch.setattr(reading, "READ_SIZE", size)
        log = store.log(f"{ORIGIN}-{i}", create=True)
        collect(log, f)
        results.append((events(log), [(r.location, r.reason, r.raw) for r in quarantine(log)]))
    assert all(r == results[0] for r in results)
    evs, q = results[0]
    part = 101 + junk.count(b"\n") + 1 + 50
    assert sorted((loc, reason) for loc, reason, _ in q) == sorted(
        [
            ("app.log:51", "binary region of 5000 bytes"),
            ("app.log:101", f"binary region of {len(junk) + 1} bytes"),
            (f"app.log:{part}", "binary region of 8 bytes"),  # "part", 4 NULs; then a line
        ]
    )
    assert evs == numbered(f.read_bytes(), "app.log")
    assert len(evs) == 170


def test_a_region_longer_than_a_line_may_be(log: EvidenceLog, tmp_path: Path) -> None:
    """5 MiB of NULs without a newline: one region (its raw cut, its true size stated), and
    the line written after them is read, as after a short run."""
    size = reading.MAX_RECORD + (1 << 20)
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 6000, 1000) + b"\x00" * size + good(6000, 10, PAD))
    collect(log, f)
    (rec,) = quarantine(log)
    assert (rec.location, rec.reason) == ("app.log:6001", f"binary region of {size} bytes")
    assert rec.raw == b"\x00" * reading.RAW_MAX
    assert events(log)[6000] == "app.log:6001"  # after the NULs, on their physical line
    assert len(events(log)) == 6010


def test_stray_control_characters_stay_in_their_line(log: EvidenceLog, tmp_path: Path) -> None:
    """Fewer than MIN_BINARY NUL-free control bytes are no damage: the parser judges the line."""
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 5) + b"bad: a bell \x07 and a backspace \x08 here\n" + good(5, 5))
    s = collect(log, f)
    (rec,) = quarantine(log)  # FakeParser quarantines "bad..." lines: it saw the whole line
    assert (rec.location, rec.reason) == ("app.log:6", "bad line")
    assert rec.raw == b"bad: a bell \x07 and a backspace \x08 here"
    assert (s.read, s.appended) == (11, 10)
    assert events(log)[5] == "app.log:7"


def test_regions_apart_are_two_records_and_close_ones_one(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    near = b"\x00\x00\n" + b"ok 1000\n" + b"\x00\x00\n"  # NULs less than GAP bytes apart
    far = b"\x00\x00\n" + good(2000, 20) + b"\x00\x00\n"
    f.write_bytes(good(0, 10) + near + good(10, 10, PAD) + far + good(20, 10, PAD))
    collect(log, f)
    assert [(r.location, r.reason) for r in quarantine(log)] == [
        ("app.log:11", "binary region of 14 bytes"),  # ok 1000 went with them
        ("app.log:24", "binary region of 3 bytes"),
        ("app.log:45", "binary region of 3 bytes"),
    ]
    evs = events(log)
    assert 1000 not in evs
    assert len(evs) == 50
    assert evs[2000] == "app.log:25"


def test_crlf_lines_and_a_region_at_the_very_end(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(good(10, 100) + b"ok 1\r\nok 2\r\n" + b"\x00" * 100)  # ends in the damage
    collect(log, f)
    assert [(r.location, r.reason) for r in quarantine(log)] == [
        ("app.log:103", "binary region of 100 bytes")
    ]
    assert (events(log)[1], events(log)[2]) == ("app.log:101", "app.log:102")


def test_a_region_in_a_gzipped_log_is_the_same(store: Store, tmp_path: Path) -> None:
    data, _ = _with_damage("noise", 120)
    plain, packed = tmp_path / "a" / "app.log", tmp_path / "b" / "app.log"
    plain.parent.mkdir()
    packed.parent.mkdir()
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    got = []
    for i, f in enumerate((plain, packed)):
        log = store.log(f"{ORIGIN}-{i}", create=True)
        collect(log, f)
        got.append((events(log), [(r.location, r.reason, r.raw) for r in quarantine(log)]))
    assert got[0] == got[1]
    assert len(got[0][1]) == 1


def test_a_region_appended_later_is_found_on_resume(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(good(0, 100, PAD))
    collect(log, f)
    with f.open("ab") as fh:  # a crash, a restart, and more lines
        fh.write(b"\x00" * 4096 + good(100, 10, PAD))
    again = collect(log, f)
    assert (again.read, again.appended, again.quarantined) == (10, 10, 1)
    (rec,) = quarantine(log)
    assert (rec.location, rec.reason) == ("app.log:101", "binary region of 4096 bytes")
    assert events(log) == numbered(f.read_bytes(), "app.log")


def test_a_followed_file_gets_its_region_quarantined(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "live.log"
    f.write_bytes(good(0, 5))
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
        with f.open("ab") as fh:
            fh.write(b"\x00" * 300)  # crash residue: for now, the start of a line
        time.sleep(0.3)
        assert log.quarantine_count() == 0
        with f.open("ab") as fh:
            fh.write(good(5, 3))  # the first lines after the restart
        _wait(lambda: log.quarantine_count() == 1 and log.size == 8)
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    (rec,) = quarantine(log)
    assert (rec.location, rec.reason) == ("live.log:6", "binary region of 300 bytes")
    assert events(log)[5] == "live.log:6"  # the first line after the NULs


def test_pipelined_collection_quarantines_the_same(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(
        _with_damage("nul-mid-line", 500, total=2000)[0] + noise(600) + b"\n" + good(5000, 30)
    )
    got = []
    for pipeline in (False, True):
        log = store.log(f"{ORIGIN}-{pipeline}", create=True)
        s = collect(log, f, pipeline=pipeline, batch_size=64)
        got.append((s.to_dict(), events(log), [(r.location, r.reason) for r in quarantine(log)]))
    assert got[0] == got[1]
    assert len(got[0][2]) == 2


# -- mostly binary: refused, wherever the text is --------------------------------------------


@pytest.mark.parametrize("text_first", [True, False])
def test_a_mostly_binary_file_is_refused_and_nothing_stored(
    log: EvidenceLog, tmp_path: Path, text_first: bool
) -> None:
    text, junk = good(0, 100, PAD), noise(len(good(0, 100, PAD)) * 2 + 1000)
    f = tmp_path / "dump.bin"
    f.write_bytes(text + junk if text_first else junk + text)
    at = len(text) if text_first else 0
    with pytest.raises(
        InputError, match=rf"dump\.bin: looks binary \(control byte 0x01 at offset {at}\); 6\d%"
    ):
        collect(log, f)
    assert (log.size, log.quarantine_count()) == (0, 0)
    # a third of it binary: read, the binary part quarantined
    f.write_bytes(text + noise(len(text) // 2) + b"\n" + good(100, 100, PAD))
    collect(log, f)
    assert log.quarantine_count() == 1
    assert log.size == 200


def test_a_binary_file_names_its_first_nul(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "core"
    f.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    with pytest.raises(InputError, match=r"core: looks binary \(NUL byte at offset 4\); 100% of"):
        collect(log, f)
    f.write_bytes(gzip.compress(f.read_bytes()))  # gzipped, the same
    with pytest.raises(InputError, match=r"core: looks binary \(NUL byte at offset 4\)"):
        collect(log, f)


def _wait(cond: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)
