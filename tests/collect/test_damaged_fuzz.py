"""Fuzzing the collectors with damaged input: NUL runs, binary noise, stray control characters,
over-long lines and truncated gzip streams, anywhere (mid-line too), read in any buffer size.

The reader's items must account for every byte exactly once, in order, with true line numbers,
hand out no damaged byte as a line, and be the same whatever the read size; the mostly-binary
test must agree with them. Through the runner and the real parsers (seeded with their own
fixtures), collection must not fail, must store exactly the reader's damage, and a second run
must add nothing."""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect import reading
from edgeaudit.collect.interface import ParseContext, RawRecord, Skipped
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.auditd import AuditdParser
from edgeaudit.collect.parsers.journald import JournaldParser
from edgeaudit.collect.parsers.sudo_json import SudoJsonParser
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.parsers.teleport import TeleportParser
from edgeaudit.collect.parsers.vault import VaultAuditParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError
from edgeaudit.store import Store
from tests.collect.parsers.harness import inventory

LIMIT = 120  # the line limit in these tests (reading.MAX_RECORD is 4 MiB)
DATA = Path(__file__).resolve().parent / "data"

# -- inputs ----------------------------------------------------------------------------------

text_line = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if c not in reading.BINARY_BYTES and c != 10)
)
segment = st.one_of(
    text_line.map(lambda b: b + b"\n"),
    text_line.map(lambda b: b + b"\r\n"),
    st.integers(1, 300).map(lambda n: b"\x00" * n),  # a NUL run (no newline: mid-line)
    st.binary(min_size=1, max_size=400),  # noise, newlines and all
    st.integers(LIMIT + 1, 3 * LIMIT).map(lambda n: b"L" * n + b"\n"),  # over-long
    st.sampled_from([b"bell\x07\n", b"two \x08\x08 bs\n", b"\x1b[31mred\x1b[0m\n", b"\n"]),
)
documents = st.lists(segment, max_size=25).map(b"".join)


def _items(data: bytes, read_size: int, follow: bool = False) -> list[reading.Item]:
    reader = reading.LineReader(
        reading.PlainStream(io.BytesIO(data), Path("f")),  # type: ignore[arg-type]
        "f",
        limit=LIMIT,
        read_size=read_size,
        follow=follow,
    )
    out: list[reading.Item] = []
    for items in reader.items():
        if items is None:
            break
        out += items
    return out


def _account(data: bytes, items: list[reading.Item]) -> int:
    """Check that ``items`` cover ``data`` byte by byte; return the bytes in binary regions."""
    at, region_bytes = 0, 0
    for item in items:
        if isinstance(item, reading.Damage):
            piece = data[at : item.end]
            assert item.raw == piece[: len(item.raw)]
            name, _, where = item.location.partition(":")
            assert name == "f"
            assert int(where) == data[:at].count(b"\n") + 1  # the true line number
            if item.reason.startswith("binary region"):
                assert item.reason == f"binary region of {len(piece)} bytes"
                assert reading._BIN.search(piece) is not None
                region_bytes += len(piece)
            else:
                n = len(piece.removesuffix(b"\n"))
                assert item.reason.startswith(f"line of {n} bytes")
                assert n > LIMIT
                assert item.raw == piece.removesuffix(b"\n")[: reading.RAW_MAX]
            at = item.end
            continue
        line, number, end = item
        piece = data[at:end]
        assert line == piece.removesuffix(b"\n").rstrip(b"\r")
        assert b"\n" not in line
        assert number == data[:at].count(b"\n") + 1
        assert b"\x00" not in line  # no damaged byte is ever handed out as a line
        assert len(line) <= LIMIT
        assert len(line) - len(line.translate(None, reading.BINARY_BYTES)) < reading.MIN_BINARY
        at = end
    assert at == len(data)  # everything accounted for
    return region_bytes


@settings(max_examples=400, deadline=None)
@given(documents, st.sampled_from([1, 2, 5, 64, 333]))
def test_fuzz_every_byte_is_accounted_for_whatever_the_read_size(data: bytes, size: int) -> None:
    reference = _items(data, 1 << 20)
    _account(data, reference)
    assert _items(data, size) == reference


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(0, 10_000), st.sampled_from([1, 7, 4096]))
def test_fuzz_truncated_gzip(data: bytes, cut_at: int, size: int) -> None:
    packed = gzip.compress(data, mtime=0)
    cut = 2 + cut_at % (len(packed) - 1)  # at least the magic, at most the whole file
    truncated = packed[:cut]
    stream = reading.GzipStream(io.BytesIO(truncated), Path("f"), len(truncated))  # type: ignore[arg-type]
    reader = reading.LineReader(stream, "f", limit=LIMIT, read_size=size)
    items = [i for batch in reader.items() if batch is not None for i in batch]
    d = zlib.decompressobj(31)
    recovered = d.decompress(truncated) + d.flush()
    if cut == len(packed):
        assert stream.damage is None
        assert items == _items(data, 1 << 20)
        return
    *kept, damage = items
    assert isinstance(damage, reading.Damage)
    assert damage.location == f"f@{cut}"
    assert damage.end == len(recovered)
    assert damage.reason.startswith(f"damaged gzip: decompression failed at byte {cut} of {cut}")
    # the items before it account for what decompressed up to the unfinished line, which is
    # the damage record's raw data
    done = _end(kept)
    _account(recovered[:done], kept)
    unfinished = recovered[done:]
    assert b"\n" not in unfinished
    assert damage.raw == unfinished[: len(damage.raw)]
    assert len(damage.raw) in (len(unfinished), reading.RAW_MAX)


def _end(items: list[reading.Item]) -> int:
    if not items:
        return 0
    last = items[-1]
    return last.end if isinstance(last, reading.Damage) else last[2]


@settings(max_examples=300, deadline=None)
@given(documents)
def test_fuzz_the_mostly_binary_test_agrees_with_the_regions(data: bytes) -> None:
    region_bytes = _account(data, _items(data, 1 << 20))
    mostly = 2 * region_bytes > len(data)
    for size in (None, len(data)):
        stream = reading.PlainStream(io.BytesIO(data), Path("f"))  # type: ignore[arg-type]
        if mostly:
            with pytest.raises(InputError, match=r"^f: looks binary \((NUL|control) byte"):
                reading.refuse_binary("f", stream, size)
        else:
            reading.refuse_binary("f", stream, size)


@settings(max_examples=200, deadline=None)
@given(documents, st.integers(0, 25))
def test_fuzz_following_a_growing_file_accounts_for_every_byte(data: bytes, split: int) -> None:
    """Read in two polls (follow mode), the file cut anywhere between them: a line being
    written is not taken before its end, every byte is accounted for once, lines keep their
    numbers and no NUL is handed out. (A cluster of binary bytes is decided at the end of a
    poll, so one region may become two there.)"""
    cut = len(data) * split // 25
    buf = io.BytesIO(data[:cut])
    reader = reading.LineReader(
        reading.PlainStream(buf, Path("f")),
        "f",
        limit=LIMIT,
        follow=True,  # type: ignore[arg-type]
    )
    got: list[reading.Item] = []
    polls = reader.items()
    for batch in polls:
        if batch is None:
            break
        got += batch
    pos = buf.tell()
    buf.seek(0, 2)
    buf.write(data[cut:])
    buf.seek(pos)
    reader.follow = False
    for batch in polls:
        if batch is None:
            break
        got += batch
    _account(data, got)


# -- through the runner, with the real parsers ------------------------------------------------

PARSERS: dict[str, tuple[type, ParseContext]] = {
    "syslog": (SyslogAuthParser, ParseContext("auth.log", inventory(), ZoneInfo("UTC"), 2026)),
    "journald": (JournaldParser, ParseContext("journal-host", inventory())),
    "auditd": (AuditdParser, ParseContext("audit-host", inventory())),
    "sudo_json": (SudoJsonParser, ParseContext("sudo.json", inventory())),
    "teleport": (TeleportParser, ParseContext("teleport-auth", inventory())),
    "vault": (VaultAuditParser, ParseContext("vault-1", inventory())),
}


def _seeds(kind: str) -> list[bytes]:
    return [
        line + b"\n"
        for f in sorted((DATA / kind).iterdir())
        if f.suffix in (".log", ".jsonl")
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]


damage = st.one_of(
    st.integers(1, 3000).map(lambda n: b"\x00" * n),
    st.binary(min_size=4, max_size=600),
    st.integers(1, 3).map(lambda k: b"X" * (9000 * k) + b"\n"),  # over 8 KiB: see below
)


@pytest.fixture(scope="module")
def fuzz_store() -> Iterator[Store]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{tmp}/s.db", upgrade=True) as s,
    ):
        yield s


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_fuzz_real_parsers_through_the_runner(
    kind: str, fuzz_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD", 8192)  # above every fixture line (auditd: 8085)
    parser, ctx = PARSERS[kind]
    seeds = _seeds(kind)
    counter = iter(range(10**9))

    @settings(
        max_examples=50,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        st.lists(st.sampled_from(seeds), min_size=1, max_size=30),
        st.lists(st.tuples(st.integers(0, 10**6), damage), max_size=3),
        st.sampled_from(["plain", "gzip", "truncated gzip"]),
        st.integers(0, 10**6),
    )
    def check(lines: list[bytes], hits: list[tuple[int, bytes]], how: str, cut: int) -> None:
        data = bytearray(b"".join(lines))
        for at, junk in hits:  # anywhere, mid-line too
            at %= len(data) + 1
            data[at:at] = junk
        text = bytes(data)
        body = text
        if how != "plain":
            body = gzip.compress(text, mtime=0)
            if how == "truncated gzip":
                body = body[: 2 + cut % (len(body) - 2)]
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "input.log"
            f.write_bytes(body)
            log = fuzz_store.log(f"fuzz.example/{kind}-{next(counter)}", create=True)
            try:
                reading.refuse_binary_file(f)
            except InputError:
                with pytest.raises(InputError, match="looks binary"):
                    collect_file(log, parser, f, ctx, CollectSummary())
                assert (log.size, log.quarantine_count()) == (0, 0)
                return
            first = CollectSummary()
            collect_file(log, parser, f, ctx, first)
            # the runner stored exactly the reader's damage, whatever the parser made of the rest
            source = reading.open_input(f)
            with source.fh:
                reader = reading.LineReader(source.stream, "input.log")
                items = [i for b in reader.items() if b is not None for i in b]
            want = {(d.location, d.reason) for d in items if isinstance(d, reading.Damage)}
            stored = {(r.location, r.reason) for _, _, r in log.quarantined(10_000)}
            assert want <= stored
            assert first.quarantined == len(stored)
            assert log.size == first.appended
            again = CollectSummary()
            collect_file(log, parser, f, ctx, again)
            assert (again.appended, again.quarantined) == (0, 0)

    check()


# -- nothing vanishes around the damage -------------------------------------------------------


@pytest.mark.parametrize("kind", ["syslog", "journald", "sudo_json"])
def test_fuzz_every_line_around_damage_is_an_event_a_quarantine_or_a_skip(kind: str) -> None:
    """The lines the reader hands out between damaged regions each end as an event (or a sudo
    continuation joined to one), a quarantine entry or a skip with a reason: none vanishes."""
    parser_cls, ctx = PARSERS[kind]
    seeds = _seeds(kind)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.sampled_from(seeds), min_size=1, max_size=30),
        st.lists(st.tuples(st.integers(0, 10**6), damage), max_size=3),
    )
    def check(lines: list[bytes], hits: list[tuple[int, bytes]]) -> None:
        data = bytearray(b"".join(lines))
        for at, junk in hits:
            at %= len(data) + 1
            data[at:at] = junk
        records = [
            RawRecord(item[0], f"f:{item[1]}", item[2])
            for item in _items(bytes(data), 4096)
            if not isinstance(item, reading.Damage)
        ]
        fates: dict[str, int] = {}
        joined = 0
        for out in parser_cls().parse(iter(records), ctx):
            if isinstance(out, Event):
                if out.kind != "audit.pipeline":  # a journal gap comes before its record's own
                    fates[out.provenance.location] = fates.get(out.provenance.location, 0) + 1
                joined += dict(out.attrs).get("continued_lines", 0)
            elif isinstance(out, Quarantined | Skipped):
                fates[out.location] = fates.get(out.location, 0) + 1
        fed = [r.location for r in records]
        assert set(fates) <= set(fed)
        assert all(n == 1 for n in fates.values()), fates  # one fate per line
        assert len(fates) + joined == len(fed)

    check()
