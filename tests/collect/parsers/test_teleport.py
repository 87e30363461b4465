"""TeleportParser: access request life cycle, admin overrides, sessions, resume, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext, Resume, Skipped
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers.teleport import TeleportParser
from tests.collect.parsers.harness import frame_lines, inventory, mutate, run

DATA = Path(__file__).resolve().parents[1] / "data" / "teleport"
CTX = ParseContext(source="teleport-auth", inventory=inventory())
RID = "5f1d0c2e-7a44-4c7e-9a11-0000000000"


def parse(name: str):
    return run(TeleportParser(), (DATA / name).read_bytes(), CTX, name)


def attrs(event: Event) -> dict:
    return dict(event.attrs)


def test_request_review_approve() -> None:
    events, quarantined, _ = parse("review_then_approve.jsonl")
    assert not quarantined
    assert [e.kind for e in events] == ["grant.request", "grant.review", "grant.approve"]
    create, review, approve = events
    assert create.time == "2026-11-20T09:15:02.123Z"
    assert create.time_text == create.time
    assert create.provenance.native_id == "u-create"
    assert create.provenance.location == "review_then_approve.jsonl:1"
    g = create.grant
    assert g is not None
    assert g.id == RID + "a1"
    assert g.state == "pending"
    assert g.requester == "arjun.p@msp.example"
    assert g.roles == ("fintech-db-access",)
    assert g.resources == ("/campus-ops/node/fa-db-01",)
    assert g.expires == "2026-11-20T13:15:02Z"
    assert g.max_duration_s is None
    assert attrs(create)["max_duration"] == "2026-11-20T17:15:02Z"
    assert create.actor.principal == "arjun.p"
    assert create.actor.org == "partner"
    # the requested node is a fintech-a host: the tenant sees its own access requests
    assert create.target.asset == "fa-db-01"
    assert create.target.owner == "fintech-a"
    assert create.scope == ("fintech-a",)
    assert review.grant is not None
    assert review.grant.state == "approved"
    assert review.grant.reviewer == "meera.s@campus-ops.example"
    assert review.actor.principal == "meera.s"
    assert attrs(review)["request_state"] == "pending"
    assert approve.grant is not None
    assert approve.grant.admin_override is False
    assert approve.grant.state == "approved"
    assert approve.actor.principal == "meera.s"
    assert approve.outcome == "success"
    assert attrs(approve)["code"] == "T5001I"


def test_approval_without_review_is_admin_override() -> None:
    events, _, _ = parse("admin_override.jsonl")
    assert [e.kind for e in events] == ["grant.request", "grant.approve"]
    approve = events[1]
    assert approve.grant is not None
    assert approve.grant.admin_override is True
    assert approve.grant.reviewer == "ravi.k@campus-ops.example"
    assert approve.actor.principal == "ravi.k"
    # string resource ids (/cluster/kind/name) resolve the target too
    assert events[0].target.asset == "ac-gpu-01"
    assert events[0].scope == ("ai-c",)


def test_review_that_decides_is_not_an_override() -> None:
    events, _, _ = parse("review_decides_request.jsonl")
    assert [e.kind for e in events] == ["grant.request", "grant.review", "grant.approve"]
    assert attrs(events[1])["request_state"] == "approved"
    assert events[2].grant is not None
    assert events[2].grant.admin_override is False
    assert events[2].time == "2026-11-20T11:01:00.5Z"
    # lena is a fintech-a tenant user: her own request is in her tenant's scope
    assert events[0].scope == ("fintech-a",)
    assert events[0].actor.org == "tenant"


def test_every_state_change_is_kept() -> None:
    events, quarantined, _ = parse("state_changes_after_approval.jsonl")
    assert not quarantined
    kinds = [e.kind for e in events]
    assert kinds == [
        "grant.request",
        "grant.review",
        "grant.approve",
        "grant.approve",
        "grant.revoke",
        "grant.expire",
    ]
    states = [e.grant.state if e.grant else None for e in events]
    assert states == ["pending", "approved", "approved", "promoted", None, None]
    assert events[0].grant is not None
    assert events[0].grant.max_duration_s == 14400
    # the promotion follows a reviewed approval: not an override either
    assert events[3].grant is not None
    assert events[3].grant.admin_override is False
    assert events[5].grant is not None
    assert events[5].grant.expires == "2026-11-20T16:00:00Z"
    assert events[5].actor.user is None
    assert not events[5].actor.resolved


def test_denial() -> None:
    events, _, _ = parse("denied.jsonl")
    deny = events[1]
    assert deny.kind == "grant.deny"
    assert deny.grant is not None
    assert deny.grant.state == "denied"
    assert deny.grant.admin_override is False
    assert deny.grant.reason == "not your tenant"


def test_sessions() -> None:
    events, quarantined, _ = parse("sessions.jsonl")
    assert not quarantined
    start, end, stranger = events
    assert start.kind == "session.start"
    assert end.kind == "session.end"
    assert start.time == "2026-11-20T09:25:00.000123456Z"
    assert start.actor.principal == "arjun.p"
    assert start.actor.session == "sess-1"
    assert start.actor.src_ip == "198.51.100.7"
    assert start.target.asset == "fa-db-01"
    assert start.target.account == "postgres"
    assert start.target.owner == "fintech-a"
    assert start.scope == ("fintech-a",)
    assert start.grant is not None
    assert start.grant.id == RID + "a1"
    assert attrs(start)["access_requests"] == [RID + "a1"]
    # no hostname: the server address (without its port) finds the asset
    assert end.target.asset == "fa-db-01"
    assert end.time == "2026-11-20T04:55:00Z"
    assert end.time_text == "2026-11-20T10:25:00+05:30"
    assert stranger.grant is None
    assert not stranger.actor.resolved
    assert stranger.actor.user == "mallory@evil.example"
    assert stranger.actor.src_ip == "2001:db8::1"
    assert stranger.target.asset == "fd00::99"
    assert stranger.target.owner is None
    assert stranger.scope == ()


def test_logins_are_events_and_other_event_types_are_skipped_visibly() -> None:
    events, quarantined, resumes = parse("unknown_events.jsonl")
    assert quarantined == []
    assert len(resumes) == 7
    ok, failed = events
    assert (ok.kind, ok.outcome, ok.actor.user, ok.target.resource) == (
        "auth.logon",
        "success",
        "ravi.k@campus-ops.example",
        "teleport:campus-ops",
    )
    assert ok.actor.principal is not None  # resolved through the inventory
    assert dict(ok.attrs)["method"] == "local"
    assert (failed.kind, failed.outcome, failed.actor.user, failed.actor.src_ip) == (
        "auth.logon_failed",
        "failure",
        "mallory",
        "203.0.113.9",
    )
    assert failed.actor.principal is None  # unknown: kept, unresolved
    assert dict(failed.attrs)["reason"] == "invalid credentials"
    data = (DATA / "unknown_events.jsonl").read_bytes()
    out = list(TeleportParser().parse(frame_lines(data, "t.jsonl"), CTX))
    skipped = [o.reason for o in out if isinstance(o, Skipped)]
    assert skipped == [
        "teleport event 'exec' is not an access event",
        "teleport event 'port' is not an access event",
        "teleport event 'cert.create' is not an access event",
    ]


def test_bad_records_are_quarantined_with_reasons() -> None:
    events, quarantined, _ = parse("bad_records.jsonl")
    assert events == []
    reasons = [q.reason for q in quarantined]
    assert len(reasons) == 9
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1] == "not a JSON object (a JSON list)"
    assert reasons[2] == "no 'event' name"
    assert reasons[3] == "missing or invalid 'time': '20 Nov 2026 09:00'"
    assert reasons[4] == "access_request.create without a request 'id'"
    assert reasons[5] == "update to unknown state 'NONE'"
    assert reasons[6] == "invalid 'expires': 'tomorrow'"
    assert reasons[7] == "missing or invalid 'time': '2026-02-30T09:00:00Z'"
    assert [q.location for q in quarantined][:2] == ["bad_records.jsonl:1", "bad_records.jsonl:2"]
    assert quarantined[0].source_kind == "teleport"
    assert quarantined[0].source == "teleport-auth"


def test_resume_is_held_back_while_a_review_is_undecided() -> None:
    data = (DATA / "resume_across_review.jsonl").read_bytes()
    ends = [r.offset for r in frame_lines(data)]
    events, _, resumes = run(TeleportParser(), data, CTX)
    # after line 2 (review pending) and line 3 no resume; line 4 decides the request
    assert [r.offset for r in resumes] == [ends[0], ends[3], ends[4]]
    assert [e.kind for e in events][2:4] == ["auth.logon", "grant.approve"]
    assert events[3].grant is not None
    assert events[3].grant.admin_override is False
    # restarting at every resume point gives the same events from there on
    for resume in resumes:
        done = ends.index(resume.offset) + 1  # lines fully emitted before the resume point
        again, _, _ = run(TeleportParser(), data, CTX, start=resume.offset)
        assert again == [e for e in events if int(e.provenance.location.split(":")[1]) > done]


def test_undecided_review_is_forgotten_after_seven_days() -> None:
    def line(event: str, time: str, **kw: str) -> str:
        return json.dumps({"event": event, "time": time, "id": "R", "code": "T5002I", **kw})

    data = "\n".join(
        [
            line("access_request.review", "2026-11-01T00:00:00Z", proposed_state="APPROVED"),
            line("access_request.review", "2026-11-09T00:00:00Z", id="S", proposed_state="DENIED"),
        ]
    ).encode()
    parser = TeleportParser()
    _, _, resumes = run(parser, data, CTX)
    assert resumes == []  # S is undecided; R aged out
    assert list(parser._reviewed) == ["S"]


def test_time_is_normalized_from_offsets() -> None:
    obj = {"event": "session.start", "time": "2026-11-20T00:30:00.5-01:00", "user": "x"}
    events, _, _ = run(TeleportParser(), json.dumps(obj).encode(), CTX)
    assert events[0].time == "2026-11-20T01:30:00.5Z"
    assert events[0].outcome == "unknown"  # no code, no success flag


REAL_LINES = [
    line for name in sorted(DATA.iterdir()) for line in name.read_bytes().splitlines() if line
]
TRACKED = {
    "access_request.create",
    "access_request.review",
    "access_request.update",
    "access_request.delete",
    "access_request.expire",
    "session.start",
    "session.end",
    "user.login",
}


def check_every_record(data: bytes) -> None:
    """Never raises; every record but a blank one gives exactly one output (an event, a
    quarantined record, or a counted skip for a well-formed event of an untracked type); the
    outputs are valid events."""
    out = [o for o in TeleportParser().parse(frame_lines(data), CTX) if not isinstance(o, Resume)]
    by_location: dict[str, int] = {}
    skips: dict[str, int] = {}
    for o in out:
        where = o.provenance.location if isinstance(o, Event) else o.location
        by_location[where] = by_location.get(where, 0) + 1
        if isinstance(o, Skipped):
            skips[where] = skips.get(where, 0) + 1
        if isinstance(o, Event):
            o.to_record()
    assert all(n == 1 for n in by_location.values())
    for record in frame_lines(data):
        try:
            obj = orjson.loads(record.data)
        except orjson.JSONDecodeError:
            obj = None
        untracked = (
            isinstance(obj, dict)
            and isinstance(obj.get("event"), str)
            and obj["event"]
            and obj["event"] not in TRACKED
        )
        blank = not record.data.strip()
        assert by_location.get(record.location, 0) == (0 if blank else 1), record
        if untracked:
            assert skips.get(record.location) == 1, record


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    check_every_record(data)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(REAL_LINES),
            st.integers(min_value=0, max_value=2000),
            st.integers(min_value=1, max_value=255),
            st.sampled_from(["truncate", "flip", "insert", "keep"]),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_mutated_lines(mutations: list[tuple[bytes, int, int, str, bytes]]) -> None:
    lines = [
        mutate(line, pos, byte, how, junk).replace(b"\n", b" ").replace(b"\r", b" ")
        for line, pos, byte, how, junk in mutations
    ]
    check_every_record(b"\n".join(lines))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir()))
def test_fixtures_account_for_every_record(name: str) -> None:
    check_every_record((DATA / name).read_bytes())
