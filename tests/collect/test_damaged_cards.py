"""No card number in clear, damaged input included: a binary region or an over-long line of a
badge export is quarantined by the runner, not by the badge parser, and still has its card and
PIN columns and anything card-like replaced (counted as redacted). Fuzzed: damage anywhere in
an export never leaves one of its card numbers in the store or the quarantine."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect import reading
from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.parsers.badge_csv import _CARD_LIKE_BYTES, BadgeCsvParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.errors import InputError
from edgeaudit.store import EvidenceLog, Store

DATA = Path(__file__).resolve().parent / "data" / "badge_csv"
CTX = ParseContext("doors", timezone=ZoneInfo("UTC"), hmac_key=b"test-card-key")
HEADER = b"time,log_id,event,door,card,holder,company,reason,PIN\n"


def _stored(log: EvidenceLog) -> bytes:
    """Every byte the store holds for this log: entries and quarantine (raw and reason)."""
    with log.reader() as r:
        bodies = [body for _, body, _, _ in r.iter_entries()]
    for _, _, q in log.quarantined(100_000):
        bodies += [q.raw, q.reason.encode()]
    # hashes (keyed card hashes, raw_sha256) are hex: a PIN's digits may occur in one by chance
    return re.sub(rb"[0-9a-f]{16,}", b"<hex>", b"\n".join(bodies))


@pytest.fixture
def log(store: Store) -> EvidenceLog:
    return store.log("audit.example.net/damaged-cards", create=True)


def test_damage_the_runner_quarantines_is_redacted_too(
    log: EvidenceLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD", 200)
    path = tmp_path / "doors.csv"
    path.write_bytes(
        HEADER
        + b"2026-11-22 09:00:00,1001,granted,D1,40012345,Ravi Kumar,Operator Co,,\n"
        # a NUL run in a row whose card number is short (only its column says it is one)
        + b"2026-11-22 09:01:00,1002,granted,D1,4006,Ravi\x00\x00\x00\x00\x00 Kumar,Op,,7788\n"
        # an over-long row: quarantined whole by the runner, card and PIN by position
        + b"2026-11-22 09:02:00,1003,denied,D1,40011111,"
        + b"Visitor 4111 1111 1111 1111 "
        + b"x" * 300
        + b",Guest,,4321\n"
    )
    summary = CollectSummary()
    collect_file(log, BadgeCsvParser, path, CTX, summary)
    stored = _stored(log)
    for secret in (b"40012345", b"4006,", b"7788", b"40011111", b"4111 1111", b"4321"):
        assert secret not in stored, secret
    quarantine = {q.location: q for _, _, q in log.quarantined(100)}
    region = quarantine["doors.csv:3"]
    assert region.reason.startswith("binary region of")
    # the region is the head of a row; a piece of a row is redacted by the header's positions
    # counted from its start and from its end (more than needed rather than a card in clear)
    assert region.raw.startswith(b"2026-11-22 09:01:00,")
    assert b",D1,<card hmac-sha256:" in region.raw
    long = quarantine["doors.csv:4"]
    assert long.reason.startswith("line of ")
    assert b",<pin redacted>" in long.raw
    # the region, the row's tail after it (its PIN found from the end), the over-long row; the
    # good row's card column is key-hashed as always, which is not counted
    assert summary.redacted == 3
    assert summary.events == 1


ROWS = [
    row
    for f in ("event_types.csv", "card_numbers_elsewhere.csv")
    for row in (DATA / f).read_bytes().splitlines(keepends=True)[1:]
    if row.strip()
]
CARDS = sorted({m.group() for row in ROWS for m in _CARD_LIKE_BYTES.finditer(row)})
# Card-like numbers (8 digits or more) are found by their shape wherever damage falls. A shorter
# card number or a PIN is known only by its column: damage inside the header's names can hide
# it (the row is then quarantined as not matching a header); with the header intact it is
# replaced by position (test_damage_the_runner_quarantines_is_redacted_too).
damage = st.one_of(
    st.integers(1, 500).map(lambda n: b"\x00" * n),
    st.binary(min_size=4, max_size=300),
    st.integers(1, 2).map(lambda k: b"X" * (700 * k)),  # makes its line over-long
)


@pytest.fixture(scope="module")
def fuzz_store() -> Iterator[Store]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{tmp}/s.db", upgrade=True) as s,
    ):
        yield s


def test_fuzz_no_card_number_survives_damage(
    fuzz_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "MAX_RECORD", 600)
    counter = iter(range(10**9))

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        st.lists(st.sampled_from(ROWS), min_size=1, max_size=20),
        st.lists(st.tuples(st.integers(0, 10**6), damage), min_size=1, max_size=3),
    )
    def check(rows: list[bytes], hits: list[tuple[int, bytes]]) -> None:
        data = bytearray(HEADER + b"".join(rows))
        for at, junk in hits:  # anywhere, the header and mid-number included
            at %= len(data) + 1
            data[at:at] = junk
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "doors.csv"
            path.write_bytes(bytes(data))
            try:
                reading.refuse_binary_file(path)
            except InputError:
                return  # refused whole, nothing stored (test_damaged_regions)
            log = fuzz_store.log(f"fuzz.example/cards-{next(counter)}", create=True)
            collect_file(log, BadgeCsvParser, path, CTX, CollectSummary())
            stored = _stored(log)
            for card in CARDS:
                if card in bytes(data):  # not cut by the damage
                    at = stored.find(card)
                    assert at < 0, (card, stored[max(0, at - 300) : at + 40], bytes(data))

    check()


@pytest.mark.parametrize(
    ("name", "events"),
    # a NUL is crash residue: the header is then a damaged region and the rows are quarantined
    [(b"P\x00IN", 0), (b"PIN\x01", 1), (b"\xe2\x80\x8bPIN", 1), (b"P\x7fIN", 1)],
)
def test_an_invisible_character_in_a_header_name_does_not_hide_the_pin_column(
    log: EvidenceLog, tmp_path: Path, name: bytes, events: int
) -> None:
    # a stray control or zero-width character in the PIN column's name: still the PIN column,
    # so a short PIN (not card-like by its shape) is never stored in clear, not even in the
    # quarantine of a row with a bad time
    path = tmp_path / "doors.csv"
    path.write_bytes(
        b"time,log_id,event,door,card,holder,company,reason," + name + b"\n"
        b"2026-11-22 09:00:00,1001,granted,D1,40012345,Ravi Kumar,Operator Co,,7788\n"
        b"2026-13-45 99:00:00,1002,granted,D1,40012346,Ravi Kumar,Operator Co,,6655\n"
    )
    summary = CollectSummary()
    collect_file(log, BadgeCsvParser, path, CTX, summary)
    stored = _stored(log)
    for secret in (b"7788", b"6655", b"40012345", b"40012346"):
        assert secret not in stored, secret
    assert summary.events == events  # the header recognised: the row is an event
