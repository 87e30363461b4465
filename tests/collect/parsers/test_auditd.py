"""auditd parser: fixture per edge case, event assembly (interleaving, EOE, PROCTITLE, timeout,
end of input), Resume offsets, fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Event, Quarantined, raw_sha256
from edgeaudit.collect.parsers.auditd import SKIP_NOT_EXEC, SKIP_NOT_PRIVILEGED, AuditdParser
from edgeaudit.policy.checks._sessions import END_KINDS, OPEN_KINDS
from tests.collect.parsers.harness import frame_lines, inventory, mutated, run

DATA = Path(__file__).resolve().parents[1] / "data" / "auditd"
CTX = ParseContext("audit-host", inventory())


def parse(
    case: str, ctx: ParseContext = CTX, start: int = 0
) -> tuple[list[Event], list[Quarantined], list[int]]:
    data = (DATA / case).read_bytes()
    events, quarantined, resumes = run(AuditdParser(), data, ctx, name=case, start=start)
    return events, quarantined, [r.offset for r in resumes]


def line_ends(case: str) -> list[int]:
    data = (DATA / case).read_bytes()
    return [i + 1 for i, b in enumerate(data) if b == ord("\n")]


def test_parser_shape() -> None:
    p = AuditdParser()
    assert (p.name, p.framing, p.stateful) == ("auditd", "lines", True)


def test_user_login_enriched_resolves_actor() -> None:
    (e,), q, resumes = parse("user_login_success_enriched.log")
    assert q == []
    assert (e.kind, e.outcome, e.time, e.time_text) == (
        "auth.logon",
        "success",
        "2025-11-22T08:26:40.123Z",
        "1763800000.123",
    )
    assert (e.actor.user, e.actor.principal, e.actor.src_ip, e.actor.session) == (
        "ravi",
        "ravi.k",
        "10.0.0.9",
        "7",
    )
    assert (e.target.asset, e.target.account, e.target.owner) == ("fa-web-01", "ravi", "fintech-a")
    assert e.scope == ("fintech-a",)
    p = e.provenance
    assert p.native_id == "fa-web-01:1763800000.123:501"
    assert p.location == "user_login_success_enriched.log:1"
    raw = (DATA / "user_login_success_enriched.log").read_bytes().rstrip(b"\n")
    assert p.raw_sha256 == raw_sha256(raw)
    assert dict(e.attrs) == {
        "exe": "/usr/sbin/sshd",
        "op": "login",
        "pid": 4242,
        "terminal": "ssh",
        "type": "USER_LOGIN",
    }
    assert resumes == line_ends("user_login_success_enriched.log")


def test_user_auth_failed_raw_unset_auid() -> None:
    (e,), _, _ = parse("user_auth_failed_raw.log")
    assert (e.kind, e.outcome) == ("auth.logon_failed", "failure")
    assert (e.actor.user, e.actor.resolved, e.actor.session) == ("admin", False, None)
    assert e.actor.src_ip == "203.0.113.7"
    assert (e.target.asset, e.target.owner) == ("audit-host", None)  # no node=: the source
    assert e.provenance.native_id == "audit-host:1763800001.500:502"
    assert e.scope == ()


def test_user_start_end_with_hex_acct() -> None:
    (start, end), _, _ = parse("user_start_end_hex_acct.log")
    assert (start.kind, end.kind) == ("session.start", "session.end")
    assert (start.actor.principal, start.actor.original_user) == ("ravi.k", "ravi")
    assert start.target.account == "root"  # acct=726F6F74 decoded
    assert end.target.account == "root"
    assert start.scope == ("media-b",)
    assert end.time == "2025-11-22T08:26:49.000Z"


def test_user_cmd_sudo_hex_command() -> None:
    (e,), _, _ = parse("user_cmd_sudo_hex.log")
    assert (e.kind, e.outcome) == ("priv.switch", "success")
    assert (e.actor.user, e.actor.principal, e.actor.original_user) == ("meera", "meera.s", "meera")
    attrs = dict(e.attrs)
    assert attrs["command"] == "systemctl restart postgresql"
    assert attrs["cwd"] == "/home/meera"
    assert e.scope == ("fintech-a",)


def test_user_cmd_raw_numeric_auid_stays_unresolved_and_failed_is_denied() -> None:
    (e,), _, _ = parse("user_cmd_raw_numeric_auid.log")
    assert (e.kind, e.outcome) == ("priv.denied", "failure")
    assert (e.actor.user, e.actor.principal, e.actor.original_user) == ("1001", None, "1001")
    attrs = dict(e.attrs)
    assert (attrs["command"], attrs["cwd"]) == ("id", "/home/x y")


def test_interleaved_out_of_order_exec_event_ends_at_eoe() -> None:
    events, q, resumes = parse("exec_interleaved_eoe.log")
    assert q == []
    (e,) = events  # the other event (serial 601) is a non-exec syscall: skipped
    assert (e.kind, e.outcome, e.time) == (
        "session.command",
        "success",
        "2025-11-22T08:26:50.100Z",
    )
    assert (e.actor.user, e.actor.principal, e.actor.original_user, e.actor.session) == (
        "ravi",
        "ravi.k",
        "ravi",
        "7",
    )
    assert (e.target.asset, e.target.account, e.target.owner) == ("fa-web-01", "root", "fintech-a")
    attrs = dict(e.attrs)
    assert attrs["command"] == "cat /etc/shadow file"  # a1 was hex
    assert (attrs["cwd"], attrs["key"], attrs["exe"]) == ("/home/ravi", "priv_esc", "/usr/bin/cat")
    assert e.provenance.native_id == "fa-web-01:1763800010.100:600"
    lines = (DATA / "exec_interleaved_eoe.log").read_bytes().splitlines()
    # its three records (lines 1, 3, 4), in arrival order
    assert e.provenance.raw_sha256 == raw_sha256(b"\n".join([lines[0], lines[2], lines[3]]))
    assert e.provenance.location == "exec_interleaved_eoe.log:1"
    assert resumes == [line_ends("exec_interleaved_eoe.log")[-1]]


def test_exec_after_su_raw_ends_at_proctitle_and_falls_back_to_it() -> None:
    (e,), _, _ = parse("exec_after_su_raw_proctitle.log")
    assert e.kind == "session.command"
    assert (e.actor.user, e.actor.resolved, e.target.account) == ("1001", False, "0")
    attrs = dict(e.attrs)
    assert attrs["command"] == "passwd --status"  # EXECVE lacks a1: PROCTITLE, NUL -> space
    assert "key" not in attrs
    assert (attrs["auid"], attrs["uid"], attrs["euid"]) == ("1001", "0", "0")


def test_unprivileged_exec_skipped() -> None:
    assert parse("exec_not_privileged.log")[:2] == ([], [])


def test_timeout_uses_audit_time_and_multi_key() -> None:
    data = (DATA / "exec_timeout_multikey.log").read_bytes()
    records = [RawRecord(line, f"x:{i}", 0) for i, line in enumerate(data.splitlines(), 1)]
    parser = AuditdParser()
    out = list(parser.parse(records[:3], CTX))
    assert [o.kind for o in out if isinstance(o, Event)] == ["session.command"]  # end flush
    out = list(AuditdParser().parse(records, CTX))
    kinds = [o.kind for o in out if isinstance(o, Event)]
    assert kinds == ["session.command", "auth.logon"]  # expired by the 2.0 s later record
    e = next(o for o in out if isinstance(o, Event))
    assert (e.outcome, dict(e.attrs)["key"]) == ("failure", ["exec", "priv_esc"])
    assert dict(e.attrs)["command"] == "su -"


def test_timeout_not_reached_keeps_event_buffered() -> None:
    data = (DATA / "exec_timeout_multikey.log").read_bytes().splitlines()
    records = [RawRecord(line, f"x:{i}", 10 * i) for i, line in enumerate(data[:3], 1)]
    seen: list[str] = []
    for o in AuditdParser().parse(records, CTX):
        if isinstance(o, Event):
            seen.append("event")
        elif isinstance(o, Resume):
            seen.append(f"resume {o.offset}")
    assert seen == ["event", "resume 30"]  # only the end-of-input flush emits it


def test_flush_at_end_and_resume_before_buffered_event() -> None:
    (e,), _, resumes = parse("exec_flush_at_end.log")
    assert (e.kind, e.actor.user, dict(e.attrs)["key"]) == ("session.command", "1000", "privileged")
    assert resumes == [line_ends("exec_flush_at_end.log")[-1]]


def test_resume_offsets_allow_restart_without_loss() -> None:
    prefix = (DATA / "user_login_success_enriched.log").read_bytes()
    body = (DATA / "exec_interleaved_eoe.log").read_bytes()
    data = prefix + body
    events, _, resumes = run(AuditdParser(), data, CTX)
    assert [e.kind for e in events] == ["auth.logon", "session.command"]
    offsets = [r.offset for r in resumes]
    # while the exec event is buffered, resume stays at the end of the login line
    assert offsets == [len(prefix), len(data)]
    again, _, _ = run(AuditdParser(), data, CTX, start=len(prefix))
    assert [e.fingerprint() for e in again] == [events[1].fingerprint()]


def test_malformed_lines_quarantined() -> None:
    events, q, resumes = parse("malformed.log")
    assert events == []
    assert [x.reason for x in q] == [
        "not an auditd record: expected 'type=T msg=audit(<epoch>.<ms>:<serial>):'",
        "not an auditd record: no type=",
        "unterminated inner msg='...'",
        "not an auditd record: expected 'type=T msg=audit(<epoch>.<ms>:<serial>):'",
    ]
    assert [x.location for x in q] == [f"malformed.log:{i}" for i in range(1, 5)]
    assert resumes == line_ends("malformed.log")


def test_not_utf8_quarantined() -> None:
    events, (q,), _ = parse("not_utf8.log")
    assert events == []
    assert q.reason == "not UTF-8 (byte 72)"


def test_unknown_types_skipped() -> None:
    assert parse("unknown_types_skipped.log")[:2] == ([], [])


def test_custom_priv_keys_option() -> None:
    ctx = ParseContext("audit-host", inventory(), options={"auditd_keys": "exec"})
    events, _, _ = parse("exec_timeout_multikey.log", ctx)
    assert [e.kind for e in events] == ["session.command", "auth.logon"]
    # key "privileged" no longer counts, and auid == uid: not privileged
    ctx = ParseContext("audit-host", inventory(), options={"auditd_keys": "other"})
    assert parse("exec_flush_at_end.log", ctx)[0] == []
    # the euid=0 / auid != uid rule does not depend on keys
    assert len(parse("exec_after_su_raw_proctitle.log", ctx)[0]) == 1


# -- fuzzing ---------------------------------------------------------------------------------

SEEDS = [
    line for f in sorted(DATA.iterdir()) for line in f.read_bytes().splitlines() if line.strip()
]


def _check(lines: list[bytes]) -> None:
    records = [RawRecord(line, f"f:{i}", 100 * (i + 1)) for i, line in enumerate(lines)]
    out = list(AuditdParser().parse(records, CTX))
    quarantined = [o.location for o in out if isinstance(o, Quarantined)]
    assert len(quarantined) == len(set(quarantined))
    events = [o for o in out if isinstance(o, Event)]
    used = [o.provenance.location for o in events] + quarantined
    assert len(used) <= len(lines)
    assert not set(quarantined) & {o.provenance.location for o in events}
    offsets = [o.offset for o in out if isinstance(o, Resume)]
    assert offsets == sorted(set(offsets))
    if lines:
        assert offsets[-1] == 100 * len(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_fuzz_random_bytes(lines: list[bytes]) -> None:
    _check([line.replace(b"\n", b" ") for line in lines])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(SEEDS), st.sampled_from(SEEDS)), min_size=1, max_size=8))
def test_fuzz_mutated_real_lines(lines: list[bytes]) -> None:
    _check(lines)


# -- nothing vanishes: successful PAM authentications, counted skips ----------------------------


def outputs(case: str, ctx: ParseContext = CTX) -> list[Output]:
    data = (DATA / case).read_bytes()
    return list(AuditdParser().parse(frame_lines(data, case), ctx))


def test_successful_user_auth_is_an_auth_verified_event_that_opens_no_session() -> None:
    events, q, _ = parse("user_auth_success.log")
    assert q == []
    sshd, sudo = events
    assert (sshd.kind, sshd.outcome) == ("auth.verified", "success")
    assert (sshd.actor.user, sshd.actor.principal, sshd.actor.src_ip) == (
        "ravi",
        "ravi.k",
        "10.0.0.9",
    )
    assert sshd.actor.session is None  # ses=4294967295: PAM authenticates before the session
    assert (sshd.target.asset, sshd.target.account) == ("fa-web-01", "ravi")
    assert dict(sshd.attrs) == {
        "exe": "/usr/sbin/sshd",
        "grantors": "pam_unix",
        "op": "PAM:authentication",
        "pid": 4610,
        "terminal": "ssh",
        "type": "USER_AUTH",
    }
    assert (sudo.kind, sudo.actor.principal, sudo.target.asset) == (
        "auth.verified",
        "meera.s",
        "fa-db-01",
    )
    # a verified credential is not an access: the session model never opens one from it
    assert "auth.verified" not in OPEN_KINDS + END_KINDS
    for e in events:
        e.to_record()


def test_records_not_turned_into_events_are_counted_skips_with_a_reason() -> None:
    out = outputs("user_auth_success.log")
    assert [(o.location, o.reason) for o in out if isinstance(o, Skipped)] == [
        ("user_auth_success.log:2", "record type USER_ACCT is not audited"),
        ("user_auth_success.log:3", "record type CRED_ACQ is not audited"),
        ("user_auth_success.log:4", "record type LOGIN is not audited"),
    ]
    reasons = [o.reason for o in outputs("exec_not_privileged.log") if isinstance(o, Skipped)]
    assert reasons == [SKIP_NOT_PRIVILEGED] * 2  # SYSCALL and EXECVE; EOE only ends the event
    reasons = [o.reason for o in outputs("exec_interleaved_eoe.log") if isinstance(o, Skipped)]
    assert reasons == [SKIP_NOT_EXEC] * 2  # serial 601: an open(), SYSCALL and PATH


@pytest.mark.parametrize("case", sorted(p.name for p in DATA.glob("*.log")))
def test_every_record_is_in_an_event_quarantined_or_skipped(case: str) -> None:
    out = outputs(case)
    covered = {o.location for o in out if isinstance(o, Quarantined | Skipped)}
    data = (DATA / case).read_bytes()
    for e in (o for o in out if isinstance(o, Event)):
        first = int(e.provenance.location.rsplit(":", 1)[1])
        serial = e.provenance.native_id.rsplit(":", 1)[1] if e.provenance.native_id else None
        covered.add(e.provenance.location)
        for n, line in enumerate(data.splitlines()[first:], first + 1):
            if serial is not None and f":{serial}):".encode() in line:
                covered.add(f"{case}:{n}")  # the other records of a kernel event
    for record in frame_lines(data, case):
        if record.data.strip() and b"type=EOE " not in record.data:
            assert record.location in covered, record


# -- exact evidence: arguments, host -------------------------------------------------------------


def test_execve_arguments_are_kept_as_the_list_they_were() -> None:
    (e,), _, _ = parse("exec_argv_boundaries.log")
    attrs = dict(e.attrs)
    assert attrs["argv"] == ["tar", "czf", "night 1.tgz", "/srv/data"]  # a2 was hex: one argument
    assert attrs["command"] == "tar czf night 1.tgz /srv/data"
    assert "argv_source" not in attrs
    assert "argv_incomplete" not in attrs
    (e,), _, _ = parse("exec_interleaved_eoe.log")
    assert dict(e.attrs)["argv"] == ["cat", "/etc/shadow file"]


def test_long_arguments_in_pieces_and_several_execve_records_are_joined() -> None:
    (e,), q, _ = parse("exec_long_args_split.log")
    assert q == []
    argv = dict(e.attrs)["argv"]
    assert argv == ["sh", "-c", "x" * 8000, "a b " * 1000]
    assert (e.target.asset, e.actor.user, e.target.account) == ("fa-db-01", "1002", "0")


def test_a_lost_piece_makes_the_arguments_come_from_proctitle() -> None:
    data = (DATA / "exec_long_args_split.log").read_bytes().splitlines()
    del data[3]  # the EXECVE record holding a2[1] and a3[0]
    (e,), _, _ = run(AuditdParser(), b"\n".join(data) + b"\n", CTX)
    attrs = dict(e.attrs)
    assert attrs["argv_source"] == "proctitle"
    assert attrs["argv"][:2] == ["sh", "-c"]  # the kernel cuts PROCTITLE at 128 bytes
    assert len("\0".join(attrs["argv"])) == 128


def test_proctitle_fallback_is_marked() -> None:
    (e,), _, _ = parse("exec_after_su_raw_proctitle.log")
    attrs = dict(e.attrs)
    assert (attrs["argv"], attrs["argv_source"]) == (["passwd", "--status"], "proctitle")


def test_records_without_node_use_the_collecting_host_not_the_file_name() -> None:
    case = "exec_argv_boundaries.log"
    # collect --source fa-web-01: the source is the host
    (e,), _, _ = parse(case, ParseContext("fa-web-01", inventory()))
    assert (e.target.asset, e.target.owner, e.provenance.native_id) == (
        "fa-web-01",
        "fintech-a",
        "fa-web-01:1763800300.000:1001",
    )
    # collect without --source: the source is the file's name, which is no host
    (e,), _, _ = parse(case, ParseContext(case, inventory()))
    assert (e.target.asset, e.target.owner, e.provenance.native_id) == (None, None, None)
    assert e.provenance.source == case
    assert (e.target.account, e.actor.user) == ("0", "1000")  # RAW: numbers
    # --option host=...: the host, whatever the source
    ctx = ParseContext(case, inventory(), options={"host": "fa-db-01"})
    (e,), _, _ = parse(case, ctx)
    assert (e.target.asset, e.provenance.native_id) == ("fa-db-01", "fa-db-01:1763800300.000:1001")
    # a file named after an inventory host is that host's
    data = (DATA / case).read_bytes()
    (e,), _, _ = run(AuditdParser(), data, ParseContext("fa-db-01", inventory()), "fa-db-01")
    assert e.target.asset == "fa-db-01"
    # node= always wins
    (e,), _, _ = parse("exec_long_args_split.log", ParseContext("x.log", inventory()))
    assert e.target.asset == "fa-db-01"


def test_arguments_lost_without_proctitle_are_marked_incomplete() -> None:
    lines = (DATA / "exec_argv_boundaries.log").read_bytes().splitlines()
    lines[1] = lines[1].replace(b' a3="/srv/data"', b"")  # argc=4, three arguments logged
    lines = [line for line in lines if b"type=PROCTITLE" not in line]
    (e,), _, _ = run(AuditdParser(), b"\n".join(lines) + b"\n", CTX)
    attrs = dict(e.attrs)
    assert (attrs["argv"], attrs["argv_incomplete"]) == (["tar", "czf", "night 1.tgz"], True)
