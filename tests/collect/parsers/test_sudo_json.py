"""SudoJsonParser: sudo >= 1.9 JSON event log into normalized events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext, Skipped
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.sudo_json import _ENTRY_START, SudoJsonParser
from edgeaudit.events import prepare
from tests.collect.parsers.harness import frame_lines, inventory, run

DATA = Path(__file__).resolve().parents[1] / "data" / "sudo_json"
CTX = ParseContext("sudo.json", inventory())


def parse(name: str) -> tuple[list[Event], list[Quarantined]]:
    data = (DATA / name).read_bytes()
    events, quarantined, resumes = run(SudoJsonParser(), data, CTX, name)
    # one object per line: a resume point after each line
    ends = [i + 1 for i, c in enumerate(data) if c == 0x0A]
    assert [r.offset for r in resumes] == ends + ([len(data)] if data[-1:] != b"\n" else [])
    return events, quarantined


def only(name: str) -> Event:
    events, quarantined = parse(name)
    assert quarantined == []
    assert len(events) == 1
    return events[0]


def attrs(e: Event) -> dict[str, object]:
    return dict(e.attrs)


def test_parser_shape() -> None:
    p = SudoJsonParser()
    assert (p.name, p.version, p.framing, p.stateful) == ("sudo-json", "1", "lines", True)


def test_accept_is_a_privilege_switch() -> None:
    e = only("accept.jsonl")
    assert (e.kind, e.outcome) == ("priv.switch", "success")
    assert (e.time, e.time_text) == ("2025-11-20T07:57:02.123456789Z", "1763625422.123456789")
    assert (e.actor.user, e.actor.principal, e.actor.session) == ("ravi", "ravi.k", "9a1b2c3d-0001")
    assert (e.target.asset, e.target.account, e.target.owner) == ("fa-db-01", "root", "fintech-a")
    assert e.scope == ("fintech-a",)
    assert attrs(e) == {
        "command": "/usr/bin/systemctl",
        "runargv": ["systemctl", "restart", "postgresql"],
        "runuid": 0,
        "source": "sudoers:12:5",
        "submitcwd": "/home/ravi",
        "tty": "/dev/pts/0",
    }
    p = e.provenance
    assert (p.source_kind, p.source, p.location, p.native_id) == (
        "sudo-json",
        "sudo.json",
        "accept.jsonl:1",
        "accept:9a1b2c3d-0001",
    )
    raw = (DATA / "accept.jsonl").read_bytes().rstrip(b"\n")
    assert p.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_reject_is_denied_with_reason() -> None:
    e = only("reject.jsonl")
    assert (e.kind, e.outcome, e.actor.principal) == ("priv.denied", "failure", "arjun.p")
    assert (e.time, e.time_text) == ("2025-11-20T07:58:20Z", "1763625500.000000000")
    assert attrs(e)["reason"] == "command not allowed"
    assert (e.scope, e.provenance.native_id) == (("media-b",), "reject:9a1b2c3d-0002")


def test_alert_uses_alert_time() -> None:
    e = only("alert.jsonl")
    assert (e.kind, e.outcome, e.time) == (
        "priv.denied",
        "failure",
        "2025-11-20T08:00:00.500000000Z",
    )
    assert attrs(e)["reason"] == "unable to open audit system"
    # lena is a fintech-a tenant user: her own tenant sees it too
    assert (e.actor.tenant, e.scope) == ("fintech-a", ("fintech-a",))


def test_exit_ends_the_session_of_its_accept() -> None:
    e = only("exit.jsonl")
    accept = only("accept.jsonl")
    assert (e.kind, e.outcome, e.time) == ("session.end", "success", "2025-11-20T07:57:10Z")
    assert e.actor.session == accept.actor.session
    assert attrs(e)["exit_value"] == 3
    assert e.provenance.native_id == "exit:9a1b2c3d-0001"
    assert e.fingerprint() != accept.fingerprint()


def test_iso_string_times() -> None:
    events, quarantined = parse("iso_string_times.jsonl")
    assert quarantined == []
    assert [(e.time, e.time_text) for e in events] == [
        ("2025-11-20T07:57:02Z", "20251120075702Z"),
        ("2025-11-20T07:57:02.25Z", "2025-11-20T13:27:02.25+05:30"),
        ("2025-11-20T07:57:03Z", "20251120075703Z"),
    ]
    assert {e.scope for e in events} == {()}  # bastion-1 is shared, meera is an operator


def test_cee_prefix_and_sudo_wrapper() -> None:
    e = only("cee_syslog_wrapper.jsonl")
    assert e.kind == "priv.switch"
    assert e.provenance.native_id == "accept:9a1b2c3d-0001"


def test_invalid_json_is_quarantined() -> None:
    events, quarantined = parse("invalid_json.jsonl")
    assert events == []
    reasons = [q.reason for q in quarantined]
    assert reasons[0].startswith("invalid JSON: ")
    assert reasons[1] == "not a JSON object (expected '{' or a '@cee:' prefix)"
    assert reasons[2] == "not a JSON object (expected '{' or a '@cee:' prefix)"
    assert [q.location for q in quarantined] == [f"invalid_json.jsonl:{i}" for i in (1, 2, 3)]


def test_missing_fields_are_quarantined() -> None:
    events, quarantined = parse("missing_fields.jsonl")
    assert events == []
    assert [q.reason for q in quarantined] == [
        "accept event without submituser",
        "reject event without submit_time or server_time",
        "exit event without uuid",
        "expected exactly one of accept, reject, alert, exit (found accept, reject)",
        "expected exactly one of accept, reject, alert, exit (found unknown)",
    ]


def test_wrong_types() -> None:
    events, quarantined = parse("wrong_types.jsonl")
    # digit strings for seconds/nanoseconds are accepted (some relays stringify numbers)
    assert [(e.time, e.time_text) for e in events] == [
        ("2025-11-20T07:57:02.000000005Z", "1763625422.000000005")
    ]
    assert [q.reason for q in quarantined] == [
        "accept.submit_time: seconds and nanoseconds must be non-negative integers",
        "accept.submituser must be a string",
        "accept.runargv must be a list of strings",
        "accept.submit_time: 'yesterday' is not a valid time",
        "accept.submit_time: 99999999999999 seconds is out of range",
    ]


def test_unknown_user_and_host_stay_visible() -> None:
    e = only("unknown_user_and_host.jsonl")
    assert (e.actor.user, e.actor.resolved, e.actor.org) == ("mallory", False, "unknown")
    assert (e.target.asset, e.target.owner, e.scope) == ("stray-box", None, ())


def test_blank_lines_are_skipped() -> None:
    e = only("blank_lines.jsonl")
    assert e.provenance.location == "blank_lines.jsonl:3"


# --- fuzzing -----------------------------------------------------------------------------------

SEEDS = [
    line
    for f in sorted(DATA.iterdir())
    for line in f.read_bytes().splitlines()
    if line.strip().startswith((b"{", b"@"))
]


def check(data: bytes) -> None:
    out = list(SudoJsonParser().parse(frame_lines(data), CTX))
    events = [o for o in out if isinstance(o, Event)]
    fates = [o for o in out if isinstance(o, Event | Quarantined | Skipped)]
    lines = data.splitlines()
    if not any(_ENTRY_START.fullmatch(line) for line in lines):  # else lines join into one
        assert len(fates) == len(lines)  # each line an event, a quarantine entry or a skip
    for e in events:
        prepare(e.to_record(), fingerprint=e.fingerprint())  # the store accepts it


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_fuzz_random_bytes(lines: list[bytes]) -> None:
    check(b"\n".join(line.replace(b"\r", b"") for line in lines))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["cut", "flip", "insert"]))
        if op == "cut":
            del line[at:]
        elif op == "flip" and at < len(line):
            line[at] ^= 1 << draw(st.integers(0, 7))
        else:
            line[at:at] = draw(
                st.sampled_from([b'"', b"{", b"}", b",", b"null", b"1e999", b"\xff"])
            )
    return bytes(line).replace(b"\r", b"").replace(b"\n", b"")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_lines(line: bytes) -> None:
    check(line)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["accept", "reject", "alert", "exit"]),
    st.dictionaries(
        st.sampled_from(
            ["uuid", "submituser", "submithost", "runuser", "command", "runargv", "reason",
             "submit_time", "alert_time", "exit_time", "exit_value", "signal", "source"]
        ),
        json_values,
    ),
)  # fmt: skip
def test_fuzz_structured_objects(key: str, body: dict[str, object]) -> None:
    check(json.dumps({key: body}).encode())
