"""Damaged gzip input (a truncated S3 object, a corrupt member, garbage after the end): what
decompressed is collected, the damaged tail is one quarantine record naming the file, the byte
offset where decompression failed and the error, and the command goes on with its next file
and exits 0, its summary counting the quarantined record."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from edgeaudit.collect import reading
from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.parsers.cloudtrail import CloudTrailParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError, StoreError
from edgeaudit.store import EvidenceLog, Store
from tests.cli import make_workspace
from tests.collect.test_damaged_regions import ORIGIN, collect, events, good, quarantine

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
LINES = good(0, 4000, 30)  # ~150 KiB: several deflate blocks
PACKED = gzip.compress(LINES, mtime=0)
EOF_ERROR = "EOFError: compressed file ended before the end-of-stream marker was reached"


@pytest.fixture
def log(store: Store) -> EvidenceLog:
    return store.log(ORIGIN, create=True)


def _recoverable(cut: bytes) -> bytes:
    """All that zlib can decompress of a truncated gzip stream (the test's oracle)."""
    d = zlib.decompressobj(31)
    return d.decompress(cut) + d.flush()


CUTS = {
    "in the magic": 1,  # not recognizably gzip
    "after the header": 10,
    "first block": 1000,
    "a third": len(PACKED) // 3,
    "half": len(PACKED) // 2,
    "trailer missing": len(PACKED) - 8,
    "trailer cut": len(PACKED) - 3,
}


@pytest.mark.parametrize("where", list(CUTS))
def test_a_truncated_gzip_keeps_what_decompressed(
    log: EvidenceLog, tmp_path: Path, where: str
) -> None:
    cut = CUTS[where]
    f = tmp_path / "part.log.gz"
    data = PACKED[:cut]
    f.write_bytes(data)
    s = collect(log, f)
    if cut < 2:  # not even the magic: a one-byte text file (one stray control character)
        assert (s.read, s.appended, s.quarantined) == (1, 0, 0)
        return
    out = _recoverable(data)
    complete, _, partial = out.rpartition(b"\n")
    n = complete.count(b"\n") + 1 if complete else 0
    assert events(log) == {i: f"part.log.gz:{i + 1}" for i in range(n)}
    (rec,) = quarantine(log)
    assert rec.location == f"part.log.gz@{cut}"
    assert rec.reason.startswith(
        f"damaged gzip: decompression failed at byte {cut} of {cut} ({EOF_ERROR}); the "
        f"{len(out)} bytes decompressed before it were read, the rest of the file cannot be"
    )
    assert rec.raw == partial  # the incomplete last line, never fed to the parser
    if partial:
        assert rec.reason.endswith(
            f"; the incomplete line {n + 1} ({len(partial)} bytes) is this record's raw data"
        )
    assert (s.files, s.read, s.appended, s.quarantined) == (1, n, n, 1)
    # collected again (gzip has no resume point): nothing new
    again = collect(log, f)
    assert (again.appended, again.duplicates, again.quarantined) == (0, n, 0)


def test_corruption_inside_the_stream_is_located(log: EvidenceLog, tmp_path: Path) -> None:
    """Two members, the second with a damaged block: the first member is collected whole, and
    the record names the byte where inflating failed. (What a damaged block yields before
    inflate notices is handed on like any line: deflate cannot tell sooner.)"""
    second = bytearray(gzip.compress(good(4000, 2000, 30), mtime=0))
    second[200:260] = b"\xff" * 60
    f = tmp_path / "two.log.gz"
    f.write_bytes(PACKED + bytes(second))
    collect(log, f)
    (rec,) = [r for r in quarantine(log) if "@" in r.location]
    name, _, at = rec.location.partition("@")
    assert name == "two.log.gz"
    assert len(PACKED) + 200 <= int(at) < len(PACKED) + len(second)
    assert "zlib.error: Error -3 while decompressing data" in rec.reason
    evs = events(log)
    assert all(evs[i] == f"two.log.gz:{i + 1}" for i in range(4000))  # the first member whole


def test_a_wrong_checksum_is_quarantined_after_the_data(log: EvidenceLog, tmp_path: Path) -> None:
    bad = bytearray(PACKED)
    bad[-8] ^= 0xFF  # the member's CRC-32
    f = tmp_path / "crc.log.gz"
    f.write_bytes(bytes(bad))
    collect(log, f)
    (rec,) = quarantine(log)
    assert len(PACKED) - 8 <= int(rec.location.partition("@")[2]) < len(PACKED) - 4
    assert "incorrect data check" in rec.reason
    assert len(events(log)) == 4000  # a CRC is checked at the member's end, after its data


def test_members_padding_and_trailing_garbage(log: EvidenceLog, tmp_path: Path) -> None:
    f = tmp_path / "cat.log.gz"
    f.write_bytes(PACKED + b"\x00" * 512 + gzip.compress(good(4000, 10)) + b"\x00" * 100)
    s = collect(log, f)
    assert (s.appended, s.quarantined) == (4010, 0)  # NUL padding is no damage (as in gzip)
    f.write_bytes(PACKED + b"not gzip at all\n")
    s = collect(log, f)
    (rec,) = quarantine(log)
    assert rec.location == f"cat.log.gz@{len(PACKED) + 1}"
    assert "incorrect header check" in rec.reason


def test_the_file_after_a_damaged_one_is_collected(log: EvidenceLog, tmp_path: Path) -> None:
    damaged, after = tmp_path / "a.log.gz", tmp_path / "b.log"
    damaged.write_bytes(PACKED[: len(PACKED) // 2])
    after.write_bytes(good(9000, 10))
    collect(log, damaged)
    collect(log, after)
    assert {n: loc for n, loc in events(log).items() if n >= 9000} == {
        9000 + i: f"b.log:{i + 1}" for i in range(10)
    }


def test_the_last_batch_and_the_damage_are_stored_together(
    log: EvidenceLog, tmp_path: Path
) -> None:
    """The damage record is committed in the same transaction as the last records before it:
    if that fails, neither is stored, and a rerun stores both."""
    f = tmp_path / "part.log.gz"
    f.write_bytes(PACKED[: len(PACKED) // 2])
    append = EvidenceLog.append

    def failing(self: EvidenceLog, *a: object, **kw: object) -> object:
        if kw.get("quarantine"):
            raise StoreError("disk full (test)")
        return append(self, *a, **kw)  # type: ignore[arg-type]

    EvidenceLog.append = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(StoreError, match="disk full"):
            collect(log, f, batch_size=500)
    finally:
        EvidenceLog.append = append  # type: ignore[method-assign]
    assert log.quarantine_count() == 0
    n = _recoverable(PACKED[: len(PACKED) // 2]).count(b"\n")
    assert log.size == n - n % 500  # the full batches before it
    again = collect(log, f, batch_size=500)
    assert (log.size, log.quarantine_count(), again.quarantined) == (n, 1, 1)


def test_pipelined_and_in_process_agree(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "part.log.gz"
    f.write_bytes(PACKED[: len(PACKED) * 2 // 3])
    got = []
    for pipeline in (False, True):
        log = store.log(f"{ORIGIN}-{pipeline}", create=True)
        s = collect(log, f, pipeline=pipeline, batch_size=128)
        got.append(
            (s.to_dict(), events(log), [(r.location, r.reason, r.raw) for r in quarantine(log)])
        )
    assert got[0] == got[1]


def test_a_truncated_whole_file_document_is_one_record(log: EvidenceLog, tmp_path: Path) -> None:
    """CloudTrail (one JSON document per file): half a document cannot be parsed, so it is one
    record holding what decompressed; the parser never sees it. An intact file after it is
    collected."""
    doc = (DATA / "cloudtrail" / "assumed_role_decrypt.json").read_bytes()
    packed = gzip.compress(doc)
    cut = len(packed) * 2 // 3
    damaged, intact = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    damaged.write_bytes(packed[:cut])
    intact.write_bytes(packed)
    ctx = ParseContext("aws", timezone=None)
    first, second = CollectSummary(), CollectSummary()
    collect_file(log, CloudTrailParser, damaged, ctx, first)
    collect_file(log, CloudTrailParser, intact, ctx, second)
    (rec,) = quarantine(log)
    assert rec.location == f"a.json.gz@{cut}"
    assert "a whole-file cloudtrail document cannot be parsed in part" in rec.reason
    assert doc.startswith(rec.raw)
    assert 0 < len(rec.raw) < len(doc)
    assert (first.files, first.read, first.events, first.quarantined) == (1, 0, 0, 1)
    assert (second.read, second.quarantined) == (1, 0)
    assert second.events + second.skipped > 0


# -- the command -----------------------------------------------------------------------------

ACCEPTED = (
    "Nov 20 08:{m:02d}:{s:02d} fa-web-01 sshd[{p}]: Accepted publickey for ravi from 10.0.0.9 "
    "port {p} ssh2: ED25519 SHA256:q1w2e3r4t5y6u7i8o9p0\n"
)


def _auth(first: int, count: int) -> bytes:
    return "".join(
        ACCEPTED.format(m=i // 60 % 60, s=i % 60, p=1000 + i) for i in range(first, first + count)
    ).encode()


def test_collect_goes_on_after_a_damaged_gzip_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """The real command, in its own process: exit 0, the next file collected, the summary
    counting the quarantined record, a warning on stderr and no traceback."""
    cli = make_workspace(capsys, monkeypatch, tmp_path / "ws", db_url)
    packed = gzip.compress(_auth(0, 2000))
    cut = len(packed) // 2
    damaged, after = tmp_path / "auth.log.1.gz", tmp_path / "auth.log"
    damaged.write_bytes(packed[:cut])
    after.write_bytes(_auth(5000, 10))
    kept = _recoverable(packed[:cut]).count(b"\n")
    r = subprocess.run(
        [
            sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(tmp_path / "ws"),
            "collect", "syslog", str(damaged), str(after), "--inventory",
            str(ROOT / "policies" / "inventory.yaml"), "--timezone", "UTC", "--year", "2026",
            "--json",
        ],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "files": 2,
        "read": kept + 10,
        "events": kept + 10,
        "appended": kept + 10,
        "duplicates": 0,
        "quarantined": 1,
        "skipped": 0,
        "redacted": 0,
        "skip_reasons": {},
    }
    assert (
        f"edgeaudit: WARNING: auth.log.1.gz@{cut}: damaged gzip: decompression failed at byte "
        f"{cut} of {cut}" in r.stderr
    )
    assert "Traceback" not in r.stderr
    (rec,) = cli.ok("quarantine", "list", "--json").json()["records"]
    assert (rec["location"], rec["source_kind"]) == (f"auth.log.1.gz@{cut}", "syslog")
    assert EOF_ERROR in rec["reason"]
    status = cli.ok("status", "--json").json()
    assert (status["entries"], status["quarantined"]) == (kept + 10, 1)
    cli.ok("checkpoint")
    cli.ok("verify")


def test_reading_error_is_an_input_error_not_a_traceback(tmp_path: Path) -> None:
    class Failing:
        def read(self, n: int) -> bytes:
            raise OSError(5, "Input/output error")

    stream = reading.PlainStream(Failing(), tmp_path / "x.log", 123)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"x\.log: read error at byte 123: Input/output error"):
        stream.read(10)
