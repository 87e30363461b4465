"""SyslogAuthParser: syslog auth text (sshd, pam_unix, sudo) into normalized events."""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext, Resume
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.syslog import NO_ZONE, SyslogAuthParser
from edgeaudit.events import prepare
from tests.collect.parsers.harness import frame_lines, inventory, run

DATA = Path(__file__).resolve().parents[1] / "data" / "syslog"
INV = inventory()
IST = ZoneInfo("Asia/Kolkata")


def ctx(tz: ZoneInfo | None = IST, year: int | None = 2026) -> ParseContext:
    return ParseContext("auth.log", INV, tz, year)


def parse(
    name: str, context: ParseContext | None = None
) -> tuple[list[Event], list[Quarantined], list[Resume]]:
    return run(SyslogAuthParser(), (DATA / name).read_bytes(), context or ctx(), name)


def only(name: str) -> Event:
    events, quarantined, _ = parse(name)
    assert quarantined == []
    assert len(events) == 1
    return events[0]


def attrs(e: Event) -> dict[str, object]:
    return dict(e.attrs)


def test_parser_shape() -> None:
    p = SyslogAuthParser()
    assert (p.name, p.version, p.framing, p.stateful) == ("syslog", "1", "lines", True)


def test_accepted_key_resolves_unix_user() -> None:
    e = only("sshd_accepted_key.log")
    assert (e.kind, e.outcome, e.class_uid) == ("auth.logon", "success", 3002)
    assert (e.time, e.time_text) == ("2026-11-20T02:37:02Z", "Nov 20 08:07:02")
    assert (e.actor.user, e.actor.principal, e.actor.org) == ("ravi", "ravi.k", "operator")
    assert (e.actor.src_ip, e.actor.session) == ("10.0.0.9", "4242")
    assert e.actor.credential == "SHA256:q1w2e3r4t5y6u7i8o9p0"
    assert (e.target.asset, e.target.account, e.target.owner) == ("fa-web-01", "ravi", "fintech-a")
    assert e.scope == ("fintech-a",)
    assert attrs(e) == {
        "key_fp": "SHA256:q1w2e3r4t5y6u7i8o9p0",
        "key_type": "ED25519",
        "method": "publickey",
        "pid": 4242,
        "program": "sshd",
        "src_port": 51122,
    }
    p = e.provenance
    assert (p.source_kind, p.source, p.location, p.parser_version, p.native_id) == (
        "syslog",
        "auth.log",
        "sshd_accepted_key.log:1",
        "1",
        None,
    )
    raw = (DATA / "sshd_accepted_key.log").read_bytes().rstrip(b"\n")
    assert p.raw_sha256 == hashlib.sha256(raw).hexdigest()


def test_certificate_key_id_names_the_principal_not_the_shared_account() -> None:
    e = only("sshd_accepted_cert.log")
    assert e.kind == "auth.logon"
    assert (e.actor.user, e.actor.principal, e.actor.credential) == (
        "meera.s",
        "meera.s",
        "meera.s",
    )
    assert (e.target.account, e.target.owner, e.scope) == ("root", "shared", ())
    a = attrs(e)
    assert (a["cert_id"], a["cert_serial"], a["ca_fp"], a["key_type"]) == (
        "meera.s",
        4711,
        "SHA256:cafp0001",
        "ED25519-CERT",
    )
    assert a["program"] == "sshd-session"


def test_unknown_certificate_key_id_stays_unresolved_without_unix_fallback() -> None:
    e = only("sshd_cert_unknown_key_id.log")
    assert (e.actor.user, e.actor.principal, e.actor.org) == ("jit grant (7)", None, "unknown")
    assert e.target.account == "ravi"
    assert attrs(e)["cert_serial"] == 9


def test_failed_password_and_invalid_user() -> None:
    events, quarantined, _ = parse("sshd_failed_invalid_user.log")
    assert quarantined == []
    assert [(e.kind, e.outcome, e.actor.user, e.target.account) for e in events] == [
        ("auth.logon_failed", "failure", "admin", "admin"),
        ("auth.logon_failed", "failure", "root", "root"),
    ]
    assert attrs(events[0])["invalid_user"] is True
    assert "invalid_user" not in attrs(events[1])
    assert attrs(events[1])["reason"] == "failed password"
    assert events[0].scope == ("ai-c",)
    assert not events[0].actor.resolved


def test_username_cannot_forge_the_source_address() -> None:
    e = only("sshd_username_injection.log")
    assert e.actor.src_ip == "203.0.113.9"
    assert attrs(e)["src_port"] == 5555
    assert e.actor.user == "x from 10.0.0.5 port 22 ssh2: ED25519 SHA256:fake"
    assert "key_fp" not in attrs(e)


def test_preauth_closes_are_failed_logons_and_userless_close_is_skipped() -> None:
    events, quarantined, _ = parse("sshd_preauth_close.log")
    assert quarantined == []
    assert [(e.kind, e.actor.user, attrs(e)["reason"]) for e in events] == [
        ("auth.logon_failed", "root", "preauth close"),
        ("auth.logon_failed", "oracle", "preauth close"),
        ("auth.logon_failed", "ravi", "preauth disconnect"),
    ]
    assert attrs(events[1])["invalid_user"] is True
    assert events[2].actor.principal == "ravi.k"
    assert {e.scope for e in events} == {("media-b",)}


def test_invalid_user_lines_including_empty_name() -> None:
    events, _, _ = parse("sshd_invalid_user.log")
    assert [(e.kind, e.actor.user, e.actor.src_ip) for e in events] == [
        ("auth.logon_failed", "deploy", "198.51.100.20"),
        ("auth.logon_failed", "", "198.51.100.21"),
    ]
    assert attrs(events[0])["src_port"] == 50000


def test_informational_sshd_forms_are_skipped() -> None:
    assert parse("sshd_skipped_forms.log")[:2] == ([], [])


def test_one_connection_shares_the_session_pid() -> None:
    events, _, _ = parse("sshd_session_lifecycle.log")
    assert [e.kind for e in events] == ["auth.logon", "session.start", "auth.logoff", "session.end"]
    assert {e.actor.session for e in events} == {"9001"}
    assert {attrs(e)["pid"] for e in events} == {9001}
    assert {e.actor.principal for e in events} == {"lena.f"}
    # lena is a fintech-a tenant user on a fintech-a host
    assert {e.scope for e in events} == {("fintech-a",)}
    assert events[1].actor.original_user == "lena"
    assert attrs(events[0])["method"] == "keyboard-interactive/pam"


def test_rsyslog_repeated_message_counts() -> None:
    e = only("message_repeated.log")
    assert (e.kind, e.actor.user, attrs(e)["repeated"]) == ("auth.logon_failed", "root", 5)


def test_pam_session_opened_old_form() -> None:
    events, _, _ = parse("pam_session_old_form.log")
    su, ssh = events
    assert (su.kind, su.target.account, su.actor.user, su.actor.original_user) == (
        "priv.switch",  # su's pam session is the switch itself
        "root",
        "ravi",
        "ravi",
    )
    assert su.actor.principal == "ravi.k"
    assert (attrs(su)["service"], attrs(su)["program"], attrs(su)["by_uid"]) == ("su", "su", 1000)
    assert "uid" not in attrs(su)
    assert (ssh.actor.user, ssh.actor.original_user, ssh.target.account) == ("meera", None, "meera")


def test_pam_authentication_failure() -> None:
    events, _, _ = parse("pam_auth_failure.log")
    sudo, ssh = events
    assert (sudo.kind, sudo.outcome, sudo.actor.principal, sudo.target.account) == (
        "auth.logon_failed",
        "failure",
        "arjun.p",
        "arjun",
    )
    assert sudo.actor.src_ip is None
    assert attrs(sudo)["tty"] == "/dev/pts/2"
    assert (ssh.actor.user, ssh.actor.src_ip, ssh.target.account) == (
        "root",
        "203.0.113.60",
        "root",
    )
    assert attrs(ssh)["uid"] == 0


def test_sudo_accepted_is_a_privilege_switch() -> None:
    events, quarantined, resumes = parse("sudo_accepted.log")
    assert quarantined == []
    (e,) = events
    assert (e.kind, e.outcome) == ("priv.switch", "success")
    assert (e.actor.user, e.actor.principal) == ("ravi", "ravi.k")
    assert (e.target.asset, e.target.account, e.scope) == ("fa-db-01", "root", ("fintech-a",))
    assert attrs(e) == {
        "command": "/usr/bin/systemctl restart postgresql",
        "program": "sudo",
        "pwd": "/home/ravi",
        "tty": "pts/0",
    }
    assert resumes[-1].offset == (DATA / "sudo_accepted.log").stat().st_size


def test_sudo_not_in_sudoers_is_denied() -> None:
    e = only("sudo_denied_not_in_sudoers.log")
    assert (e.kind, e.outcome, e.actor.user, e.actor.resolved) == (
        "priv.denied",
        "failure",
        "mallory",
        False,
    )
    assert attrs(e)["reason"] == "user NOT in sudoers"
    assert e.scope == ("media-b",)


def test_sudo_denial_reasons() -> None:
    events, _, _ = parse("sudo_denied_reasons.log")
    assert [(e.kind, attrs(e)["reason"], e.target.account) for e in events] == [
        ("priv.denied", "3 incorrect password attempts", "root"),
        ("priv.denied", "command not allowed", "postgres"),
    ]
    assert attrs(events[0])["command"] == "/usr/bin/cat /etc/shadow"
    assert attrs(events[1])["pid"] == 1235


def test_sudo_optional_fields_and_precise_time() -> None:
    e = only("sudo_tsid_env.log")
    assert (e.time, e.time_text) == (
        "2026-11-20T02:53:00.250000Z",
        "2026-11-20T08:23:00.250000+05:30",
    )
    a = attrs(e)
    assert (a["tsid"], a["group"], a["env"], a["command"]) == (
        "00000A",
        "docker",
        "LANG=C",
        "/usr/bin/docker ps",
    )


def test_sudo_octal_escapes_are_decoded_and_semicolons_kept() -> None:
    assert attrs(only("sudo_escaped.log"))["command"] == "/usr/bin/printf a\tb\x1b[31m ; id"


def test_sudo_continuation_lines_join_across_interleaved_lines() -> None:
    data = (DATA / "sudo_continued.log").read_bytes()
    events, quarantined, resumes = parse("sudo_continued.log")
    assert quarantined == []
    assert [e.kind for e in events] == ["auth.logon", "priv.switch", "session.start"]
    sudo = events[1]
    assert attrs(sudo)["command"] == "/usr/bin/rsync -a /data/one /data/two /backup/ --delete"
    assert attrs(sudo)["continued_lines"] == 2
    assert sudo.provenance.location == "sudo_continued.log:1"
    lines = data.splitlines()
    expected = b"\n".join([lines[0], lines[2], lines[3]])
    assert sudo.provenance.raw_sha256 == hashlib.sha256(expected).hexdigest()
    # no resume point while the command could still continue
    assert [r.offset for r in resumes] == [
        len(b"".join(data.splitlines(keepends=True)[:5])),
    ]


def test_resume_points_neither_lose_nor_duplicate() -> None:
    data = b"".join(
        (DATA / n).read_bytes()
        for n in ("sshd_accepted_key.log", "sudo_continued.log", "sudo_denied_reasons.log")
    )
    parser = SyslogAuthParser()
    out = list(parser.parse(frame_lines(data), ctx()))
    full = [o.fingerprint() for o in out if isinstance(o, Event)]
    assert len(full) == 6
    for i, o in enumerate(out):
        if isinstance(o, Resume):
            before = [x.fingerprint() for x in out[:i] if isinstance(x, Event)]
            after, _, _ = run(SyslogAuthParser(), data, ctx(), start=o.offset)
            assert before + [e.fingerprint() for e in after] == full


def test_sudo_continuation_without_its_line_is_quarantined() -> None:
    events, quarantined, _ = parse("sudo_orphan_continuation.log")
    assert events == []
    assert [q.reason for q in quarantined] == [
        "sudo continuation line without a pending sudo line (host fa-db-01, pid 3100)"
    ]


def test_rfc3164_needs_a_timezone() -> None:
    events, quarantined, _ = parse("sshd_accepted_key.log", ctx(tz=None))
    assert events == []
    assert [q.reason for q in quarantined] == [NO_ZONE]
    assert NO_ZONE == "RFC 3164 time without zone: configure a timezone"


def test_rfc3164_other_programs_are_quarantined_too_without_timezone() -> None:
    _, quarantined, _ = parse("other_programs.log", ctx(tz=None))
    assert len(quarantined) == 5


def test_year_rollover_and_straggler() -> None:
    events, _, _ = parse("year_rollover.log", ctx(year=2025))
    assert [e.time for e in events] == [
        "2025-12-31T18:29:58Z",
        "2025-12-31T18:30:01Z",
        "2025-12-31T18:29:59Z",
        "2026-02-02T04:30:00Z",
    ]
    assert events[1].time_text == "Jan  1 00:00:01"


def test_missing_year_defaults_to_current_utc_year() -> None:
    import datetime as dt

    before = dt.datetime.now(dt.UTC).year
    e = parse("pri_prefix.log", ctx(year=None))[0][0]
    years = {before, dt.datetime.now(dt.UTC).year}  # the parse may cross a New Year
    assert any(e.time.startswith(f"{year}-11-20T") for year in years)


def test_rfc3339_offsets_and_fractions() -> None:
    events, quarantined, _ = parse("rfc3339_high_precision.log", ctx(tz=None))
    assert [e.time for e in events] == [
        "2026-11-20T02:37:02.123456Z",
        "2026-11-20T02:37:02.123456789Z",
        "2026-11-20T11:07:02Z",
    ]
    assert events[0].time_text == "2026-11-20T08:07:02.123456+05:30"
    assert [q.reason for q in quarantined] == ["invalid time '2026-11-20T08:07:60+05:30'"]


def test_rfc5424() -> None:
    events, quarantined, _ = parse("rfc5424.log", ctx(tz=None))
    failed, logoff = events
    assert (failed.kind, failed.time, failed.actor.principal) == (
        "auth.logon_failed",
        "2026-11-20T02:37:02.5Z",
        "ravi.k",
    )
    assert (failed.actor.credential, attrs(failed)["pid"]) == ("SHA256:x", 4300)
    assert (logoff.kind, logoff.actor.session, "pid" in attrs(logoff)) == (
        "auth.logoff",
        None,
        False,
    )
    assert [q.reason for q in quarantined] == [
        "RFC 5424 record without a timestamp",
        "not RFC 5424 syslog (expected '<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]')",
    ]
    assert quarantined[0].location == "rfc5424.log:3"


def test_pri_prefix_on_rfc3164() -> None:
    e = only("pri_prefix.log")
    assert (e.kind, e.time) == ("auth.logon", "2026-11-20T03:00:00Z")


def test_not_syslog_is_quarantined_and_blank_lines_skipped() -> None:
    events, quarantined, _ = parse("not_syslog.log")
    assert events == []
    assert [(q.location, q.reason[:20]) for q in quarantined] == [
        ("not_syslog.log:1", "not a syslog line (e"),
        ("not_syslog.log:3", "unknown month name '"),
    ]
    assert quarantined[0].raw == b"this is not syslog at all"


def test_impossible_dates_are_quarantined() -> None:
    events, quarantined, _ = parse("invalid_date.log")
    assert events == []
    assert [q.reason for q in quarantined] == [
        "invalid time 'Feb 30 08:30:00'",
        "invalid time 'Nov 20 25:30:00'",
    ]


def test_other_programs_are_skipped() -> None:
    events, quarantined, resumes = parse("other_programs.log")
    assert (events, quarantined) == ([], [])
    assert len(resumes) == 5


def test_host_by_address_and_unknown_host() -> None:
    by_address, unknown = parse("unknown_host.log")[0]
    assert (by_address.target.asset, by_address.scope) == ("fa-db-01", ("fintech-a",))
    assert (unknown.target.asset, unknown.target.owner, unknown.scope) == ("stray-box", None, ())


def test_non_utf8_bytes_are_kept_escaped() -> None:
    e = only("non_utf8.log")
    assert e.actor.user == "r\\xff\\xfeot"
    orjson.dumps(e.to_record())


# --- fuzzing -----------------------------------------------------------------------------------

SEEDS = [
    line for f in sorted(DATA.iterdir()) for line in f.read_bytes().splitlines() if line.strip()
]


def check(data: bytes) -> None:
    events, quarantined, resumes = run(SyslogAuthParser(), data, ctx(year=2026))
    locations = [e.provenance.location for e in events] + [q.location for q in quarantined]
    assert len(locations) == len(set(locations)), "a record produced two outputs"
    assert len(locations) <= len(data.splitlines())
    for e in events:
        prepare(e.to_record(), fingerprint=e.fingerprint())  # the store accepts it
    offsets = [r.offset for r in resumes]
    assert offsets == sorted(offsets)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_fuzz_random_bytes(lines: list[bytes]) -> None:
    check(b"\n".join(lines))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "flip", "insert"]))
        at = draw(st.integers(0, len(line)))
        if op == "cut":
            del line[at:]
        elif op == "flip" and at < len(line):
            line[at] ^= 1 << draw(st.integers(0, 7))
        else:
            junk = draw(st.sampled_from([b" ", b":", b"[", b"]", b" ; ", b"#0", b"\xff", b"\x00"]))
            line[at:at] = junk + draw(st.binary(max_size=6))
    return bytes(line)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=6))
def test_fuzz_mutated_lines(lines: list[bytes]) -> None:
    check(b"\n".join(lines))


@pytest.mark.parametrize("line", SEEDS[:80])
def test_every_seed_line_alone_never_raises(line: bytes) -> None:
    check(line)


def test_u64_certificate_serial_is_kept_exactly() -> None:
    e = only("sshd_cert_u64_serial.log")
    assert attrs(e)["cert_serial"] == "18446744073709551615"
    assert (e.actor.principal, e.target.account) == ("ravi.k", "root")
    prepare(e.to_record(), fingerprint=e.fingerprint())


def test_su_switch_lines_are_priv_switch_with_the_original_user() -> None:
    text = (
        b"Nov 20 09:00:00 fa-db-01 su[1200]: (to root) ravi on pts/0\n"
        b"Nov 20 09:00:00 fa-db-01 su[1200]: pam_unix(su:session): session opened for user "
        b"root(uid=0) by ravi(uid=1000)\n"
        b"Nov 20 09:01:00 fa-db-01 su[1300]: pam_unix(su-l:session): session opened for user "
        b"postgres(uid=114) by meera(uid=1001)\n"
        b"Nov 20 09:02:00 fa-db-01 su[1400]: FAILED SU (to root) arjun on pts/3\n"
        b"Nov 20 09:03:00 fa-db-01 su[1500]: + pts/4 ravi:backup\n"
        b"Nov 20 09:04:00 fa-db-01 su[1200]: pam_unix(su:session): session closed for user root\n"
    )
    events, quarantined, _ = run(SyslogAuthParser(), text, ctx(), "auth.log")
    assert quarantined == []
    got = [
        (e.kind, e.outcome, e.actor.user, e.actor.original_user, e.target.account) for e in events
    ]
    assert got == [
        # Debian's two lines of one switch (same host, pid, account) make one event
        ("priv.switch", "success", "ravi", "ravi", "root"),
        ("priv.switch", "success", "meera", "meera", "postgres"),
        ("priv.denied", "failure", "arjun", "arjun", "root"),
        ("priv.switch", "success", "ravi", "ravi", "backup"),
        ("session.end", "success", "root", None, "root"),
    ]
    assert events[0].actor.principal == "ravi.k"
    assert attrs(events[0])["tty"] == "pts/0"
    assert attrs(events[1])["service"] == "su-l"
    assert events[0].target.asset == "fa-db-01"


def test_sudo_with_chroot_and_cwd_is_parsed() -> None:
    text = (
        b"Nov 20 09:10:00 fa-db-01 sudo[2100]:     ravi : TTY=pts/0 ; CHROOT=/srv/jail ; "
        b"PWD=/home/ravi ; USER=root ; COMMAND=/usr/bin/id\n"
        b"Nov 20 09:11:00 fa-db-01 sudo[2101]:     ravi : TTY=pts/0 ; PWD=/home/ravi ; "
        b"CWD=/var/tmp ; USER=root ; COMMAND=/usr/bin/ls -l\n"
        b"Nov 20 09:12:00 fa-db-01 sudo[2102]:     ravi : command not allowed ; TTY=pts/0 ; "
        b"CHROOT=/srv ; PWD=/ ; CWD=/tmp ; USER=root ; ENV=A=1 ; COMMAND=/bin/sh\n"
    )
    events, quarantined, _ = run(SyslogAuthParser(), text, ctx(), "auth.log")
    assert quarantined == []
    one, two, three = (attrs(e) for e in events)
    assert (one["tty"], one["chroot"], one["pwd"], one["command"]) == (
        "pts/0",
        "/srv/jail",
        "/home/ravi",
        "/usr/bin/id",
    )
    assert "cwd" not in one
    assert (two["pwd"], two["cwd"], two["command"]) == ("/home/ravi", "/var/tmp", "/usr/bin/ls -l")
    assert "chroot" not in two
    assert [e.kind for e in events] == ["priv.switch", "priv.switch", "priv.denied"]
    assert (three["chroot"], three["cwd"], three["env"], three["reason"]) == (
        "/srv",
        "/tmp",
        "A=1",
        "command not allowed",
    )
    assert {e.target.account for e in events} == {"root"}
