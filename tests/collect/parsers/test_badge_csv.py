"""BadgeCsvParser: door controller CSV exports (fixtures in tests/collect/data/badge_csv)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers.badge_csv import BadgeCsvParser
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
    assert b"<card redacted>" in q.raw


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
    # the default column names do not match this header: every line is quarantined
    _, quarantined, _ = parse("custom_columns.csv")
    assert [q.reason for q in quarantined] == [
        "no CSV header before this line (when resuming, pass --option header=...)",
        "no CSV header before this line (when resuming, pass --option header=...)",
    ]


def test_unknown_event_type_is_quarantined() -> None:
    events, [q], _ = parse("unknown_event_type.csv")
    assert events == []
    assert q.reason == "unknown event type 'door unlocked by schedule'"


def test_bad_rows_are_quarantined_with_precise_reasons_and_redacted_cards() -> None:
    events, quarantined, _ = parse("bad_rows.csv")
    assert [(q.location, q.reason) for q in quarantined] == [
        ("bad_rows.csv:2", "expected 8 fields as in the header, found 5"),
        ("bad_rows.csv:3", "log_id 'seven' is not an integer"),
        ("bad_rows.csv:4", "time '22.11.2026 12:02' does not match the format '%Y-%m-%d %H:%M:%S'"),
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
