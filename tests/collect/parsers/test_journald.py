"""journald JSON parser: fixture per edge case, forged identifiers, seqnum gaps, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Event, Quarantined, raw_sha256
from edgeaudit.collect.parsers.journald import JournaldParser
from tests.collect.parsers.harness import inventory, mutated, run

DATA = Path(__file__).resolve().parents[1] / "data" / "journald"
T = "2025-11-22T08:26:40.123456Z"
CTX = ParseContext("journal-host", inventory())


def parse(case: str) -> tuple[list[Event], list[Quarantined], list[int]]:
    data = (DATA / case).read_bytes()
    events, quarantined, resumes = run(JournaldParser(), data, CTX, name=case)
    return events, quarantined, [r.offset for r in resumes]


def test_parser_shape() -> None:
    p = JournaldParser()
    assert (p.name, p.framing, p.stateful) == ("journald", "lines", True)


def test_sshd_accepted_publickey() -> None:
    (e,), q, _ = parse("sshd_accepted_publickey.jsonl")
    assert q == []
    assert (e.kind, e.outcome, e.time, e.time_text) == (
        "auth.logon",
        "success",
        T,
        "1763800000123456",
    )
    assert (e.actor.user, e.actor.principal, e.actor.org) == ("ravi", "ravi.k", "operator")
    assert e.actor.credential == "SHA256:q9mXuX3v0aWc8VxZlq2Zt1p0xW6o0d4bE5H2k9yJfC0"
    assert e.actor.src_ip == "10.0.0.9"
    assert (e.target.asset, e.target.account, e.target.owner) == ("fa-web-01", "ravi", "fintech-a")
    assert e.scope == ("fintech-a",)
    attrs = dict(e.attrs)
    assert attrs == {
        "key_type": "ED25519",
        "method": "publickey",
        "pid": 4242,
        "port": 52144,
        "program": "sshd",
    }
    assert list(e.attrs) == sorted(e.attrs)
    p = e.provenance
    raw = (DATA / "sshd_accepted_publickey.jsonl").read_bytes().rstrip(b"\n")
    assert (p.source_kind, p.source, p.location) == (
        "journald",
        "journal-host",
        "sshd_accepted_publickey.jsonl:1",
    )
    assert p.raw_sha256 == raw_sha256(raw)
    assert p.native_id is not None
    assert p.native_id.startswith("s=a1b2c3d4")


def test_sshd_session_certificate_key_id_resolves_the_human() -> None:
    (e,), _, _ = parse("sshd_accepted_certificate.jsonl")
    assert e.kind == "auth.logon"
    assert (e.actor.user, e.actor.principal, e.actor.org) == ("arjun.p", "arjun.p", "partner")
    assert e.target.account == "root"
    assert e.target.asset == "fa-db-01"
    attrs = dict(e.attrs)
    assert attrs["cert_serial"] == 7731
    assert attrs["key_type"] == "ED25519-CERT"
    assert attrs["program"] == "sshd-session"


def test_sshd_auth_failed_invalid_user_unresolved_on_shared_host() -> None:
    (e,), _, _ = parse("sshd_failed_invalid_user.jsonl")
    assert (e.kind, e.outcome) == ("auth.logon_failed", "failure")
    assert (e.actor.user, e.actor.principal, e.actor.resolved) == ("admin", None, False)
    assert e.target.owner == "shared"
    assert e.scope == ()
    assert dict(e.attrs)["invalid_user"] is True


def test_disconnected_is_logoff() -> None:
    (e,), _, _ = parse("sshd_disconnected.jsonl")
    assert (e.kind, e.actor.principal, e.actor.src_ip) == ("auth.logoff", "ravi.k", "10.0.0.9")


def test_unit_alone_is_trusted() -> None:
    (e,), q, _ = parse("unit_only_trusted.jsonl")
    assert q == []
    assert (e.kind, e.actor.principal) == ("auth.logon", "meera.s")


def test_pam_sessions() -> None:
    (start, end), _, _ = parse("pam_session_sshd.jsonl")
    assert (start.kind, start.actor.principal, start.target.account) == (
        "session.start",
        "ravi.k",
        "ravi",
    )
    assert start.actor.original_user is None
    assert dict(start.attrs)["uid"] == 1000
    assert (end.kind, end.time) == ("session.end", "2025-11-22T08:26:45.123456Z")


def test_pam_session_by_other_user_old_format() -> None:
    (e,), _, _ = parse("pam_session_sudo_old_format.jsonl")
    assert e.kind == "session.start"
    assert (e.actor.user, e.actor.principal, e.actor.original_user) == ("meera", "meera.s", "meera")
    assert e.target.account == "root"
    assert "uid" not in dict(e.attrs)


def test_sudo_command() -> None:
    (e,), _, _ = parse("sudo_command.jsonl")
    assert (e.kind, e.outcome) == ("priv.switch", "success")
    assert (e.actor.principal, e.actor.original_user, e.target.account) == (
        "ravi.k",
        "ravi",
        "root",
    )
    assert e.scope == ("media-b",)
    attrs = dict(e.attrs)
    assert attrs["command"] == "/usr/bin/systemctl restart nginx ; echo done"
    assert (attrs["tty"], attrs["pwd"], attrs["program"]) == ("pts/0", "/home/ravi", "sudo")


def test_sudo_denied_tenant_user() -> None:
    (e,), _, _ = parse("sudo_denied.jsonl")
    assert (e.kind, e.outcome) == ("priv.denied", "failure")
    assert (e.actor.principal, e.actor.org, e.actor.tenant) == ("lena.f", "tenant", "fintech-a")
    assert dict(e.attrs)["reason"] == "user NOT in sudoers"
    assert dict(e.attrs)["command"] == "/bin/cat /etc/shadow"


def test_forged_sshd_identifier_is_quarantined_not_an_event() -> None:
    events, (q,), resumes = parse("forged_sshd_identifier.jsonl")
    assert events == []
    assert q.reason == (
        "forged identifier: SYSLOG_IDENTIFIER=sshd but _COMM=python3, _EXE=/usr/bin/python3"
    )
    assert q.location == "forged_sshd_identifier.jsonl:1"
    assert q.raw == (DATA / "forged_sshd_identifier.jsonl").read_bytes().rstrip(b"\n")
    assert len(resumes) == 1


def test_forged_sudo_with_renamed_comm_but_other_exe() -> None:
    events, (q,), _ = parse("forged_sudo_exe_mismatch.jsonl")
    assert events == []
    assert q.reason.startswith("forged identifier: SYSLOG_IDENTIFIER=sudo but _COMM=sudo")
    assert "_EXE=/tmp/.x/payload" in q.reason


def test_seqnum_gap_emits_pipeline_event_before_the_record_after_it() -> None:
    events, q, resumes = parse("seqnum_gap.jsonl")
    assert q == []
    assert [e.kind for e in events] == ["audit.pipeline", "auth.logon"]
    gap = events[0]
    assert (gap.outcome, gap.time, gap.provenance.location) == (
        "failure",
        "2025-11-22T08:26:44.123456Z",
        "seqnum_gap.jsonl:5",
    )
    attrs = dict(gap.attrs)
    assert attrs["seqnum_id"] == "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert (attrs["expected"], attrs["found"], attrs["missing"]) == (202, 205, 3)
    assert gap.provenance.native_id == "gap:a1b2c3d4e5f60718293a4b5c6d7e8f90:202-204"
    assert gap.fingerprint() != events[1].fingerprint()
    # a Resume after every record, at its end offset
    data = (DATA / "seqnum_gap.jsonl").read_bytes()
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    assert resumes == ends


def test_binary_message_decoded_with_replacement() -> None:
    (ok, replaced), q, _ = parse("binary_message.jsonl")
    assert q == []
    assert (ok.kind, ok.actor.principal, dict(ok.attrs)["port"]) == (
        "auth.logon_failed",
        "ravi.k",
        2222,
    )
    assert replaced.actor.user == "r\ufffdvi"
    assert not replaced.actor.resolved


def test_oversized_message_quarantined() -> None:
    events, (q,), _ = parse("oversized_message.jsonl")
    assert events == []
    assert q.reason == "MESSAGE is missing or null (oversized) in a record of sshd"


def test_repeated_fields() -> None:
    events, (q,), _ = parse("repeated_fields.jsonl")
    assert events == []  # the cron record with a repeated CODE_FILE is simply skipped
    assert (q.location, q.reason) == (
        "repeated_fields.jsonl:2",
        "trusted field _COMM is repeated (2 values)",
    )


def test_irrelevant_records_are_skipped() -> None:
    events, q, resumes = parse("irrelevant_records.jsonl")
    assert (events, q) == ([], [])
    assert len(resumes) == 5


def test_malformed_lines_quarantined_with_reasons() -> None:
    events, q, _ = parse("malformed.jsonl")
    assert events == []
    reasons = [x.reason for x in q]
    assert reasons[0].startswith("not JSON: ")
    assert reasons[1:] == [
        "not a JSON object but a list",
        "field _COMM: unexpected int value (journald writes strings)",
        "bad __SEQNUM '12a': not a decimal number",
    ]


def test_bad_or_missing_timestamp_on_auth_record() -> None:
    events, q, _ = parse("bad_timestamp.jsonl")
    assert events == []
    assert [x.reason for x in q] == [
        "bad __REALTIME_TIMESTAMP '2025-11-22T08:26:40Z': not microseconds since the epoch",
        "missing __REALTIME_TIMESTAMP",
    ]


def test_gap_before_a_record_without_time_uses_the_previous_time() -> None:
    lines = (DATA / "seqnum_gap.jsonl").read_bytes().splitlines()
    first = json.loads(lines[0])
    after = json.loads(lines[4])
    del after["__REALTIME_TIMESTAMP"]
    data = b"\n".join([json.dumps(first).encode(), json.dumps(after).encode()]) + b"\n"
    events, q, _ = run(JournaldParser(), data, CTX)
    assert [e.kind for e in events] == ["audit.pipeline"]
    assert events[0].time == T
    assert [x.reason for x in q] == ["missing __REALTIME_TIMESTAMP"]
    # with no time before or after the gap, the loss is stated in the quarantine reason
    del first["__REALTIME_TIMESTAMP"]
    data = b"\n".join([json.dumps(first).encode(), json.dumps(after).encode()]) + b"\n"
    events, q, _ = run(JournaldParser(), data, CTX)
    assert events == []
    assert [x.reason for x in q] == [
        "missing __REALTIME_TIMESTAMP; and 4 records lost (seqnum_id="
        "a1b2c3d4e5f60718293a4b5c6d7e8f90, expected 201, found 205) before this record"
    ]


# -- fuzzing ---------------------------------------------------------------------------------

SEEDS = [
    line for f in sorted(DATA.iterdir()) for line in f.read_bytes().splitlines() if line.strip()
]


def _check(data: bytes) -> None:
    records = [RawRecord(line, f"f:{i}", i + 1) for i, line in enumerate(data.split(b"\n"))]
    out = list(JournaldParser().parse(records, CTX))
    per_loc: dict[str, list[object]] = {}
    for o in out:
        if isinstance(o, Event | Quarantined | Skipped):
            loc = o.provenance.location if isinstance(o, Event) else o.location
            per_loc.setdefault(loc, []).append(o)
    assert sorted(per_loc) == sorted(r.location for r in records)  # nothing vanishes
    for loc, outs in per_loc.items():
        kinds = [o.kind if isinstance(o, Event) else type(o).__name__ for o in outs]
        # each record: one auth event, quarantine or skip, maybe after one gap event
        rest = [k for k in kinds if k != "audit.pipeline"]
        assert len(rest) == 1, (loc, kinds)
        assert kinds.count("audit.pipeline") <= 1, (loc, kinds)
    assert sum(1 for o in out if isinstance(o, Resume)) == len(records)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(SEEDS), min_size=1, max_size=5))
def test_fuzz_mutated_real_lines(lines: list[bytes]) -> None:
    _check(b"\n".join(lines))


@pytest.mark.parametrize("value", ['"x"', "[300, 1]", "[[1, 2], {}]", "1.5", "true", "{}"])
def test_odd_message_values_never_raise(value: str) -> None:
    line = (DATA / "sshd_accepted_publickey.jsonl").read_text().strip()
    rec = json.loads(line)
    rec_text = json.dumps(rec).replace(json.dumps(rec["MESSAGE"]), value)
    events, q, _ = run(JournaldParser(), rec_text.encode(), CTX)
    assert len(events) + len(q) <= 1


def test_client_controlled_user_name_cannot_spoof_the_source_address() -> None:
    line = (DATA / "sshd_failed_invalid_user.jsonl").read_text().strip()
    spoofed = (
        "Failed publickey for invalid user a from 6.6.6.6 port 1: b from 203.0.113.7 port 61000 "
        "ssh2: RSA SHA256:abc"
    )
    rec = json.loads(line)
    rec["MESSAGE"] = spoofed
    (e,), _, _ = run(JournaldParser(), json.dumps(rec).encode(), CTX)
    assert e.actor.src_ip == "203.0.113.7"
    assert e.actor.user == "a from 6.6.6.6 port 1: b"
    assert e.actor.credential == "SHA256:abc"
