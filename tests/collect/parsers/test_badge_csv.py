"""BadgeCsvParser: door controller CSV exports (fixtures in tests/collect/data/badge_csv)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers.badge_csv import CARD_COLUMNS, CARD_LIKE, BadgeCsvParser, normalize
from edgeaudit.events import prepare

from .harness import inventory, run

DATA = Path(__file__).resolve().parents[1] / "data" / "badge_csv"
KEY = b"card-hashing-key-for-tests-32byt"
BERLIN = ZoneInfo("Europe/Berlin")  # has DST, unlike the demo site's Asia/Kolkata
INV = inventory()
CARDS = ("40012345", "40067890", "40099999")


def ctx(**kw: object) -> ParseContext:
    args: dict[str, object] = {"inventory": INV, "timezone": BERLIN, "hmac_key": KEY}
    args.update(kw)
    return ParseContext("door-ctl-1", **args)  # type: ignore[arg-type]


def parse(name: str, context: ParseContext | None = None, data: bytes | None = None):
    raw = (DATA / name).read_bytes() if data is None else data
    return run(BadgeCsvParser(), raw, context or ctx(), name)


def attrs(event: Event) -> dict[str, object]:
    return dict(event.attrs)


def card_hash(card: str) -> str:
    return "hmac-sha256:" + hmac.new(KEY, card.encode(), hashlib.sha256).hexdigest()[:16]


def no_card_numbers(event: Event) -> None:
    text = json.dumps(event.to_record()) + event.time_text + repr(event)
    for card in CARDS:
        assert card not in text


def test_event_types_kinds_outcomes_actors_and_scope() -> None:
    events, quarantined, resumes = parse("event_types.csv")
    assert quarantined == []
    assert [(e.kind, e.outcome) for e in events] == [
        ("physical.access", "success"),
        ("physical.denied", "failure"),
        ("physical.alarm", "unknown"),
        ("physical.alarm", "unknown"),
        ("physical.tamper", "unknown"),
        ("physical.access", "success"),
    ]
    granted, denied, forced, held, tamper, visitor = events
    # Europe/Berlin is UTC+1 in November
    assert (granted.time, granted.time_text) == ("2026-11-22T08:00:00Z", "2026-11-22 09:00:00")
    assert (granted.actor.principal, granted.actor.org) == ("ravi.k", "operator")
    assert granted.actor.credential == card_hash("40012345")
    assert granted.target.resource == "DC-MAIN-IN"
    assert granted.target.asset is None
    assert granted.scope == ()  # an operator: operator only
    assert granted.provenance.native_id == "1001"
    line = (DATA / "event_types.csv").read_bytes().splitlines()[1]
    assert granted.provenance.raw_sha256 == hashlib.sha256(line).hexdigest()
    assert (denied.actor.principal, denied.actor.tenant, denied.scope) == (
        "lena.f",
        "fintech-a",
        ("fintech-a",),
    )
    assert attrs(denied)["reason"] == "expired card"
    assert attrs(denied)["company"] == "Fintech A Pvt Ltd"
    assert attrs(forced)["alarm"] == "forced_open"
    assert attrs(held)["alarm"] == "held_open"
    assert forced.actor.user is None
    assert forced.actor.credential is None
    assert tamper.target.resource == "CAGE-MB-1"
    assert visitor.actor.user == "Visitor Unknown"
    assert not visitor.actor.resolved
    assert visitor.actor.credential == card_hash("40099999")
    for e in events:
        no_card_numbers(e)
        prepare(e.to_record(), fingerprint=e.fingerprint())
    # one Resume per line, header included, at the byte offset after the line
    data = (DATA / "event_types.csv").read_bytes()
    assert [r.offset for r in resumes][-1] == len(data)
    assert len(resumes) == len(data.splitlines())


def test_dst_fall_back_takes_first_occurrence_and_flags_it() -> None:
    events, quarantined, _ = parse("dst_fall_back_ambiguous.csv")
    assert quarantined == []
    assert [e.time for e in events] == [
        "2026-10-24T23:59:00Z",
        "2026-10-25T00:30:00Z",  # 02:30 CEST (fold=0), not 01:30Z
        "2026-10-25T02:00:00Z",
    ]
    assert [attrs(e).get("time_ambiguous") for e in events] == [None, True, None]


def test_dst_spring_gap_is_quarantined() -> None:
    events, [q], _ = parse("dst_spring_gap.csv")
    assert [e.time for e in events] == ["2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z"]
    assert (q.location, q.reason) == ("dst_spring_gap.csv:3", "local time does not exist (DST gap)")
    assert b"40012345" not in q.raw
    # the card keyed-hashed as in events, so the line can be matched with that card's events
    assert f"<card {card_hash('40012345')}>".encode() in q.raw


def test_log_id_gap_emits_pipeline_event() -> None:
    events, quarantined, _ = parse("log_id_gap.csv")
    assert quarantined == []
    assert [e.kind for e in events] == [
        "physical.access",
        "audit.pipeline",
        "physical.access",
        "physical.access",
    ]
    gap = events[1]
    assert gap.outcome == "failure"
    assert attrs(gap) == {"expected": 501, "found": 504, "missing": 3, "reason": "log_id gap"}
    assert gap.time == "2026-11-22T09:05:00Z"
    assert gap.scope == ()
    assert [k for k, _ in gap.attrs] == sorted(k for k, _ in gap.attrs)
    assert gap.fingerprint() != events[2].fingerprint()


def test_log_id_going_backwards_is_reported() -> None:
    events, _, _ = parse("log_id_backwards.csv")
    assert [e.kind for e in events] == ["physical.access", "audit.pipeline", "physical.access"]
    assert events[1].outcome == "unknown"
    assert attrs(events[1]) == {"expected": 501, "found": 1, "reason": "log_id went backwards"}


def test_custom_column_map_and_time_format() -> None:
    options = {
        "col.time": "Date/Time",
        "col.log_id": "Seq",
        "col.event": "Type",
        "col.door": "Reader",
        "col.card": "Card No",
        "col.holder": "Name",
        "col.company": "Company",
        "col.reason": "Reason",
        "time_format": "%d/%m/%Y %H:%M",
    }
    [e], quarantined, _ = parse("custom_columns.csv", ctx(options=options))
    assert quarantined == []
    assert (e.kind, e.time, e.time_text) == (
        "physical.access",
        "2026-11-22T13:30:00Z",
        "22/11/2026 14:30",
    )
    assert (e.actor.principal, e.target.resource, e.provenance.native_id) == (
        "lena.f",
        "CAGE-FA-1",
        "77",
    )
    # without column options the header is recognised all the same (Date/Time, Seq, Type,
    # Reader, Card No, Name are usual export names); only the day-first time needs its format
    [same], _, _ = parse("custom_columns.csv", ctx(options={"time_format": "%d/%m/%Y %H:%M"}))
    assert (same.time, same.actor.principal, same.target.resource, same.actor.credential) == (
        e.time,
        "lena.f",
        "CAGE-FA-1",
        card_hash("40067890"),
    )
    events, [q], _ = parse("custom_columns.csv")
    assert events == []
    assert q.reason == (
        "time '22/11/2026 14:30' is not an ISO 8601 date and time such as "
        "'2026-11-22 09:00:00' (give its format: --option time_format=...)"
    )
    assert b"40067890" not in q.raw


def test_unknown_event_type_is_quarantined() -> None:
    events, [q], _ = parse("unknown_event_type.csv")
    assert events == []
    assert q.reason == "unknown event type 'door unlocked by schedule'"


def test_bad_rows_are_quarantined_with_precise_reasons_and_redacted_cards() -> None:
    events, quarantined, _ = parse("bad_rows.csv")
    assert [(q.location, q.reason) for q in quarantined] == [
        ("bad_rows.csv:2", "expected 8 fields as in the header, found 5"),
        ("bad_rows.csv:3", "log_id 'seven' is not an integer"),
        (
            "bad_rows.csv:4",
            "time '22.11.2026 12:02' is not an ISO 8601 date and time such as "
            "'2026-11-22 09:00:00' (give its format: --option time_format=...)",
        ),
        ("bad_rows.csv:5", "not valid CSV: unexpected end of data"),
        ("bad_rows.csv:6", "not valid utf-8 text (invalid continuation byte at byte 60)"),
    ]
    for q in quarantined:
        assert b"40012345" not in q.raw
    # 703 and 704 could not be read, so the jump from 702 to 705 is reported
    assert [e.kind for e in events] == ["audit.pipeline", "physical.access"]
    assert attrs(events[0])["missing"] == 2


def test_bom_crlf_quoted_commas_and_blank_lines() -> None:
    events, quarantined, resumes = parse("bom_crlf_blank_lines.csv")
    assert quarantined == []
    assert [e.provenance.native_id for e in events] == ["800", "801"]
    assert events[0].target.resource == "CAGE-FA-1, rear"
    assert attrs(events[0])["company"] == "Fintech A, Pvt"
    assert attrs(events[1])["reason"] == "PIN wrong, 3rd try"
    assert len(resumes) == 5  # blank lines too


def test_repeated_header_with_another_column_order() -> None:
    events, quarantined, _ = parse("concatenated_exports.csv")
    assert quarantined == []
    assert [(e.provenance.native_id, e.time) for e in events] == [
        ("900", "2026-11-22T14:00:00Z"),
        ("901", "2026-11-22T14:01:00Z"),
    ]


def test_no_hashing_key_quarantines_everything_without_card_numbers() -> None:
    events, quarantined, _ = parse("event_types.csv", ctx(hmac_key=None))
    assert events == []
    assert len(quarantined) == 6
    assert {q.reason for q in quarantined} == {"no card hashing key configured"}
    for q in quarantined:
        assert not any(c.encode() in q.raw for c in CARDS)


def test_no_timezone_is_quarantined() -> None:
    events, quarantined, _ = parse("event_types.csv", ctx(timezone=None))
    assert events == []
    assert len(quarantined) == 6
    assert quarantined[0].reason.startswith("no time zone configured")


def test_resume_after_the_header_needs_the_header_option() -> None:
    data = (DATA / "log_id_gap.csv").read_bytes()
    start = len(data.splitlines(keepends=True)[0]) + len(data.splitlines(keepends=True)[1])
    parser = BadgeCsvParser()
    _, quarantined, _ = run(parser, data, ctx(), "gap.csv", start=start)
    assert len(quarantined) == 2
    header = data.splitlines()[0].decode()
    events, quarantined, _ = run(
        BadgeCsvParser(), data, ctx(options={"header": header}), "gap.csv", start=start
    )
    assert quarantined == []
    assert [e.provenance.native_id for e in events] == ["504", "505"]
    full, _, _ = parse("log_id_gap.csv")
    assert [e.fingerprint() for e in full if e.kind != "audit.pipeline"][1:] == [
        e.fingerprint() for e in events
    ]


@pytest.mark.parametrize("card", CARDS)
def test_card_hash_depends_on_the_key(card: str) -> None:
    line = f"time,log_id,event,door,card\n2026-11-22 09:00:00,1,granted,D,{card}\n".encode()
    [a], _, _ = parse("x.csv", ctx(hmac_key=b"a" * 32), line)
    [b], _, _ = parse("x.csv", ctx(hmac_key=b"b" * 32), line)
    assert a.actor.credential != b.actor.credential
    assert a.actor.credential.startswith("hmac-sha256:")
    assert len(a.actor.credential) == len("hmac-sha256:") + 16


SEED = (DATA / "event_types.csv").read_bytes()


def _check(data: bytes) -> None:
    events, quarantined, resumes = run(BadgeCsvParser(), data, ctx(), "fuzz")
    lines = data.splitlines()
    assert len(resumes) == len(lines)
    # each line yields at most one event besides a pipeline event, or one quarantine
    located = [e.provenance.location for e in events if e.kind != "audit.pipeline"]
    located += [q.location for q in quarantined]
    assert len(located) == len(set(located)) <= len(lines)
    for e in events:
        prepare(e.to_record(), fingerprint=e.fingerprint())
        no_card_numbers(e)
    for q in quarantined:  # the quarantine included
        assert not any(c in q.reason or c.encode() in q.raw for c in CARDS), q


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(b"time,log_id,event,door,card,holder,company,reason\n" + data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_real_lines(data: st.DataObject) -> None:
    blob = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["cut", "flip", "insert"]))
        at = data.draw(st.integers(0, len(blob)))
        if op == "cut":
            del blob[at : at + data.draw(st.integers(1, 30))]
        elif op == "flip" and at < len(blob):
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        else:
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    _check(bytes(blob))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)))
def test_fuzz_local_times_round_trip(local: datetime) -> None:
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    line = f"time,log_id,event,door\n{text},1,granted,D\n".encode()
    events, quarantined, _ = parse("t.csv", data=line)
    if quarantined:
        assert quarantined[0].reason == "local time does not exist (DST gap)"
        return
    [e] = events
    utc = datetime.fromisoformat(e.time.replace("Z", "+00:00"))
    assert utc.astimezone(BERLIN).replace(tzinfo=None) == local.replace(microsecond=0)


# -- the usual access-control export headers, without options -----------------------------------
# Column names and event texts as the vendors' exports and event documentation name them: Genetec
# Security Center door/cardholder activity reports (Event timestamp, Event, Door, Cardholder,
# Credential, Credential code), Lenel OnGuard alarm monitoring (Time/Date, Description, Device,
# Badge ID, Cardholder, Serial Number: per panel, not a log sequence), Honeywell Pro-Watch
# (Date/Time, Event, Location, Logical Device, Card Number, Last Name, First Name, Company),
# Gallagher Command Centre (Event Time, Event Type, Message, Cardholder, Card Number, Door,
# Details).

VENDORS = {
    "genetec_door_activities.csv": [
        ("physical.access", "ravi.k", "DC-MAIN-IN", card_hash("40012345"), None),
        ("physical.denied", "lena.f", "CAGE-FA-1", card_hash("40067890"), "Expired credential"),
        ("physical.alarm", None, "CAGE-AC-2", None, None),
        ("physical.alarm", None, "DC-MAIN-IN", None, None),
    ],
    "prowatch_events.csv": [
        ("physical.access", "lena.f", "CAGE-FA-1", card_hash("40067890"), None),
        ("physical.denied", None, "DC-MAIN-IN", card_hash("40099999"), None),
        ("physical.alarm", None, "DC-MAIN-IN", None, None),
    ],
    "gallagher_events.csv": [
        ("physical.access", "ravi.k", "DC-MAIN-IN", card_hash("40012345"), None),
        ("physical.denied", None, "CAGE-FA-1", card_hash("40099999"), "Card disabled"),
        ("physical.tamper", None, "CAGE-AC-2", None, None),
    ],
}


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_usual_export_headers_are_recognised_without_options(name: str) -> None:
    events, quarantined, _ = parse(name)
    assert quarantined == []
    got = [
        (e.kind, e.actor.principal, e.target.resource, e.actor.credential, attrs(e).get("reason"))
        for e in events
    ]
    assert got == VENDORS[name]
    for e in events:
        assert e.provenance.native_id is None  # no log sequence column: known by location
        no_card_numbers(e)
        prepare(e.to_record(), fingerprint=e.fingerprint())


def test_export_times_iso_with_t_and_offset() -> None:
    [granted, *_], _, _ = parse("prowatch_events.csv")
    assert (granted.time, granted.time_text) == ("2026-11-22T08:20:00Z", "2026-11-22T09:20:00")
    [granted, *_], _, _ = parse("gallagher_events.csv")
    assert granted.time == "2026-11-22T08:30:00Z"  # +01:00 written in the export


def test_lenel_export_needs_only_its_time_format() -> None:
    # recognised without options, but a US time is not guessed: quarantined, saying what to set
    parser = BadgeCsvParser()
    events, quarantined, _ = run(
        parser, (DATA / "lenel_onguard_alarms.csv").read_bytes(), ctx(), "lenel.csv"
    )
    assert events == []
    assert [q.reason.split(" is not ")[1] for q in quarantined] == [
        "an ISO 8601 date and time such as '2026-11-22 09:00:00' "
        "(give its format: --option time_format=...)"
    ] * 3
    for q in quarantined:
        assert not any(c.encode() in q.raw for c in CARDS)
    assert f"<card {card_hash('40012345')}>".encode() in quarantined[0].raw
    assert b",5120" in quarantined[0].raw  # the rest of the line as it was
    assert parser.redacted_rows == 2  # the third line has no card
    options = {"time_format": "%m/%d/%Y %I:%M:%S %p"}
    events, quarantined, _ = parse("lenel_onguard_alarms.csv", ctx(options=options))
    assert quarantined == []
    assert [(e.kind, e.actor.principal, e.target.resource, e.time) for e in events] == [
        ("physical.access", "ravi.k", "DC-MAIN-IN", "2026-11-22T08:10:00Z"),
        ("physical.denied", None, "CAGE-FA-1", "2026-11-22T08:11:00Z"),
        ("physical.alarm", None, "CAGE-MB-1", "2026-11-22T08:12:00Z"),
    ]
    assert events[0].actor.credential == card_hash("40012345")  # Badge ID is the card


def test_an_unrecognised_header_says_what_is_missing_and_leaks_no_card() -> None:
    parser = BadgeCsvParser()
    data = (DATA / "unrecognised_header.csv").read_bytes()
    events, quarantined, _ = run(parser, data, ctx(), "unrecognised_header.csv")
    assert events == []
    header, *rows = quarantined
    assert header.reason == (
        "header not recognised: no time or event column in "
        "['When', 'What', 'Where', 'Who', 'Card Number'] "
        "(name the columns with --option col.time=NAME, col.event=NAME, ...)"
    )
    assert header.raw == data.splitlines()[0]  # column names are no secret
    assert [q.reason for q in rows] == [
        "no recognised CSV header before this line (see unrecognised_header.csv:1)"
    ] * 2
    assert (
        rows[0].raw
        == (
            f"2026-11-22 09:50:00,granted,DC-MAIN-IN,Ravi Kumar,<card {card_hash('40012345')}>"
        ).encode()
    )
    assert parser.redacted_rows == 2
    # named, the same columns parse
    options = {"col.time": "When", "col.event": "What", "col.door": "Where", "col.holder": "Who"}
    events, quarantined, _ = parse("unrecognised_header.csv", ctx(options=options))
    assert quarantined == []
    assert [(e.actor.principal, e.actor.credential) for e in events] == [
        ("ravi.k", card_hash("40012345")),
        ("lena.f", card_hash("40067890")),
    ]


def test_short_card_numbers_are_redacted_by_their_column() -> None:
    # a 26-bit HID card number has at most 5 digits: only its column tells it is one
    line = "When,What,Card #,Facility Code\n2026-11-22 09:00:00,granted,12345,101\n"
    _, [_header, row], _ = parse("hid.csv", data=line.encode())
    assert row.raw == f"2026-11-22 09:00:00,granted,<card {card_hash('12345')}>,".encode() + (
        f"<card {card_hash('101')}>".encode()
    )


def test_card_numbers_outside_the_card_column_are_replaced_before_storing() -> None:
    parser = BadgeCsvParser()
    data = (DATA / "card_numbers_elsewhere.csv").read_bytes()
    events, quarantined, _ = run(parser, data, ctx(), "elsewhere.csv")
    denied, gap, granted = events
    assert (denied.kind, denied.actor.credential) == ("physical.denied", card_hash("40067890"))
    assert denied.actor.user == f"Visitor <card {card_hash('40099999')}>"
    assert (
        attrs(denied)["reason"] == f"card <card {card_hash('4111 1111 1111 1111')}> reported stolen"
    )
    assert attrs(denied)["redacted"] == ["holder", "reason"]
    assert "redacted" not in attrs(granted)  # a card in its own column is hashed, as always
    assert (gap.kind, attrs(gap)["missing"]) == ("audit.pipeline", 1)
    unknown, short = quarantined
    assert unknown.reason == "unknown event type 'door unlocked by schedule'"
    assert (
        unknown.raw
        == (
            "2026-11-22 09:41:00,4002,door unlocked by schedule,CAGE-FA-1,"
            f"<card {card_hash('40067890')}>,Lena Fischer,Fintech A,,<pin redacted>"
        ).encode()
    )
    # a line that does not match the header: its card column by position all the same
    assert short.reason == "expected 9 fields as in the header, found 6"
    assert b"40067890" not in short.raw
    assert parser.redacted_rows == 3  # the denied event and both quarantined lines
    for e in events:
        no_card_numbers(e)
        assert "4111" not in json.dumps(e.to_record())


def test_without_a_key_card_numbers_are_redacted_not_hashed() -> None:
    events, quarantined, _ = parse("card_numbers_elsewhere.csv", ctx(hmac_key=None))
    assert events == []
    assert {q.reason for q in quarantined} == {"no card hashing key configured"}
    assert quarantined[0].raw == (
        b"2026-11-22 09:40:00,4001,denied,CAGE-FA-1,<card redacted>,Visitor <card redacted>,"
        b'Guest,"card <card redacted> reported stolen",<pin redacted>'
    )


def test_card_numbers_in_a_quarantine_reason_are_replaced_the_log_id_is_kept() -> None:
    line = "time,log_id,event,door,card\n2026-11-22 09:00:00,40012345678,granted,D,1\n"
    line += "2026-11-22 09:00:01,40012345679,40099999,D,1\n"
    [e], [q], _ = parse("r.csv", data=line.encode())
    assert e.provenance.native_id == "40012345678"  # a long log id is a log id
    assert q.reason == f"unknown event type '<card {card_hash('40099999')}>'"
    event, card = card_hash("40099999"), card_hash("1")
    assert q.raw == f"2026-11-22 09:00:01,40012345679,<card {event}>,D,<card {card}>".encode()


def _card_values(data: bytes) -> set[str]:
    """Every value of a card column of a fixture, and everything in it that looks like one."""
    text = data.decode("utf-8", "replace")
    found = set(CARD_LIKE.findall(text))
    cards: list[int] = []
    for fields in csv.reader(io.StringIO(text)):
        names = [normalize(f) for f in fields]
        if "card" in names or any(n in CARD_COLUMNS for n in names):
            cards = [i for i, n in enumerate(names) if n in CARD_COLUMNS or n == "card"]
            continue
        found.update(fields[i].strip() for i in cards if i < len(fields))
    return {c for c in found if (len(c) >= 6 and c.isdigit()) or " " in c}


@pytest.mark.parametrize("key", [KEY, None])
@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.csv")))
def test_no_card_number_in_clear_anywhere(name: str, key: bytes | None) -> None:
    data = (DATA / name).read_bytes()
    cards = _card_values(data)
    events, quarantined, _ = parse(name, ctx(hmac_key=key))
    text = " ".join(json.dumps(e.to_record()) for e in events)
    text += " ".join(q.raw.decode("latin-1") + q.reason for q in quarantined)
    for card in cards:
        assert card not in text, (name, card)
    assert not CARD_LIKE.search(re.sub(r"[0-9a-f]{16,}", "", text)), name  # hashes aside
