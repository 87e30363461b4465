"""Nothing vanishes: every record of a syslog, journald or sudo JSON input becomes an event, a
quarantine entry or a counted skip with its reason, and the collect summary adds up
(events + quarantined + skipped = records read; a sudo ``(command continued)`` line is part of
its command's event).

The samples are written from the formats' own specifications, not from our fixtures: the
examples of RFC 3164 section 5.4 and RFC 5424 section 6.5 beside auth lines as sshd, sudo, su
and login write them; ``journalctl -o json`` records with the journal export format's trusted
(``_``) and address (``__``) fields, a binary MESSAGE as an array of bytes and an oversized one
as null; sudo's JSON event log as sudo writes it to syslog (``@cee:{"sudo":{...}}``), one
object per line, and as sudo writes its own log file (one indented JSON object, each event a
member, appended by overwriting the closing brace)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edgeaudit.collect.interface import ParseContext, Parser, Skipped
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.journald import JournaldParser
from edgeaudit.collect.parsers.sudo_json import SudoJsonParser
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.store import EvidenceLog, Store
from tests.collect.parsers.harness import frame_lines, inventory

ORIGIN = "audit.example.net/nothing-vanishes"

DATA = Path(__file__).parent / "data"
NOT_AUDITED = "S: program not audited (only sshd, sudo, su and login lines are)"

# what becomes of each line: an event kind, "Q" (quarantined), "S: reason" (skipped), or "+" (a
# continuation line joined to the event above it). The file holds, in this order: the examples
# of RFC 3164 section 5.4 (1-3); auth lines as sshd, pam_unix, sudo, su, the kernel and login
# write them, a blank line and an impossible date; the examples of RFC 5424 section 6.5 (1, 3,
# 4), an sshd line in RFC 5424 with a time and one with the NILVALUE time; a line of no format.
SYSLOG_FATES = [
    "priv.denied",
    "S: line without a program tag",
    "S: line without a program tag",
    "auth.logon",
    "session.start",
    "S: sshd message that carries no event",
    NOT_AUDITED,
    "priv.switch",
    "+",
    "priv.switch",
    "S: second line of an su switch already recorded (same host, pid, account)",
    NOT_AUDITED,
    "S: blank line",
    "S: sudo message that carries no event",
    "S: login message that carries no event",
    "Q",
    "priv.denied",
    NOT_AUDITED,
    NOT_AUDITED,
    "auth.logon_failed",
    "Q",
    "Q",
]
SYSLOG = list(
    zip(
        (DATA / "syslog" / "spec_samples.log").read_bytes().split(b"\n")[:-1],
        SYSLOG_FATES,
        strict=True,
    )
)


def _journal(seq: int, **fields: object) -> bytes:
    record: dict[str, object] = {
        "__CURSOR": f"s=5f3c1e2a9b8d4e7fa1c2b3d4e5f60718;i={seq:x};b=0c7d1e9f;m={seq * 7:x}",
        "__REALTIME_TIMESTAMP": str(1_795_000_000_000_000 + seq * 1_000_000),
        "__MONOTONIC_TIMESTAMP": str(5_000_000 + seq),
        "__SEQNUM": str(seq),
        "__SEQNUM_ID": "5f3c1e2a9b8d4e7fa1c2b3d4e5f60718",
        "_BOOT_ID": "0c7d1e9f2a3b4c5d6e7f8091a2b3c4d5",
        "_MACHINE_ID": "4b1f0e2d3c4a5b6c7d8e9f0a1b2c3d4e",
        "_HOSTNAME": "ac-gpu-01",
        "_TRANSPORT": "syslog",
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "10",
        **fields,
    }
    return json.dumps(record).encode()


SSHD = {
    "_COMM": "sshd",
    "_EXE": "/usr/sbin/sshd",
    "SYSLOG_IDENTIFIER": "sshd",
    "_PID": "4242",
    "_SYSTEMD_UNIT": "ssh.service",
}
SUDO = {"_COMM": "sudo", "_EXE": "/usr/bin/sudo", "SYSLOG_IDENTIFIER": "sudo", "_PID": "4300"}
JOURNALD = [
    (
        _journal(
            100,
            **SSHD,
            MESSAGE="Accepted publickey for ravi from 10.0.0.9 port 50000 ssh2: ED25519 "
            "SHA256:Yp0XkcqzA4m4tEJx1bq0a1Vnq3yZ8m9b2f4c6d8e0g2",
        ),
        "auth.logon",
    ),
    (
        _journal(
            101,
            **SSHD,
            MESSAGE="Received disconnect from 10.0.0.9 port 50000:11: disconnected by user",
        ),
        "S: sshd message that carries no event",
    ),
    (
        _journal(
            102,
            _COMM="systemd",
            _EXE="/usr/lib/systemd/systemd",
            SYSLOG_IDENTIFIER="systemd",
            _PID="1",
            MESSAGE="Started session-3.scope - Session 3 of User ravi.",
        ),
        "S: program not audited (only sshd and sudo records are, by their trusted fields)",
    ),
    (
        _journal(
            103,
            _TRANSPORT="kernel",
            SYSLOG_IDENTIFIER="kernel",
            MESSAGE="e1000e: eth0 NIC Link is Up",
        ),
        "S: program not audited (only sshd and sudo records are, by their trusted fields)",
    ),
    (
        _journal(
            104,
            **SUDO,
            MESSAGE="    ravi : TTY=pts/0 ; PWD=/home/ravi ; USER=root ; "
            "COMMAND=/usr/bin/systemctl restart nginx",
        ),
        "priv.switch",
    ),
    (
        _journal(
            105,
            **SUDO,
            MESSAGE="pam_unix(sudo:session): session opened for user root(uid=0) by ravi(uid=1000)",
        ),
        "session.start",
    ),
    (
        _journal(
            106,
            **SUDO,
            MESSAGE="pam_unix(sudo:auth): authentication failure; logname=ravi uid=1000 "
            "euid=0 tty=/dev/pts/0 ruser=ravi rhost=  user=ravi",
        ),
        "S: sudo message that carries no event",
    ),
    # a MESSAGE that is not valid UTF-8 is exported as an array of bytes
    (
        _journal(
            107,
            **SSHD,
            MESSAGE=list(
                b"Failed password for invalid user \xff\xfe from 203.0.113.5 port 4444 ssh2"
            ),
        ),
        "auth.logon_failed",
    ),
    # an oversized field is exported as null
    (_journal(108, **SSHD, MESSAGE=None), "Q"),
    (
        _journal(
            109,
            _COMM="python3",
            _EXE="/usr/bin/python3.11",
            SYSLOG_IDENTIFIER="sshd",
            _PID="4400",
            MESSAGE="Accepted password for root from 10.0.0.66 port 1 ssh2",
        ),
        "Q",
    ),
    (b"", "S: blank line"),
    (b'{"__CURSOR": "s=5f3c;i=6e", "MESSAGE": "cut off', "Q"),
]


def _sudo_event(kind: str, uuid: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uuid": uuid,
        "server_time": {
            "seconds": 1795000100,
            "nanoseconds": 5000,
            "iso8601": "20261115T093820Z",
            "localtime": "Nov 15 09:38:20",
        },
        "submit_time": {
            "seconds": 1795000100,
            "nanoseconds": 0,
            "iso8601": "20261115T093820Z",
            "localtime": "Nov 15 09:38:20",
        },
        "submituser": "ravi",
        "submithost": "mb-render-02",
        "submitcwd": "/home/ravi",
        "ttyname": "/dev/pts/1",
        "command": "/usr/bin/systemctl",
        "runuser": "root",
        "runcwd": "/home/ravi",
        "runargv": ["systemctl", "restart", "render-queue"],
        "columns": 120,
        "lines": 40,
        **extra,
    }
    return {kind: body}


SUDO_JSON = [
    # what sudo sends to syslog: a compact object after "@cee:", in a syslog line
    (
        b"Nov 15 09:38:20 mb-render-02 sudo[5111]: @cee:"
        + json.dumps({"sudo": _sudo_event("accept", "a7b1c2d3-0001")}).encode(),
        "priv.switch",
    ),
    (
        json.dumps(_sudo_event("reject", "a7b1c2d3-0002", reason="command not allowed")).encode(),
        "priv.denied",
    ),
    (
        json.dumps(
            {
                "exit": {
                    "uuid": "a7b1c2d3-0001",
                    "run_time": {"seconds": 2, "nanoseconds": 0},
                    "exit_value": 0,
                    "server_time": {"seconds": 1795000102, "nanoseconds": 0},
                    "exit_time": {"seconds": 1795000102, "nanoseconds": 0},
                }
            }
        ).encode(),
        "session.end",
    ),
    (
        json.dumps(
            {
                "alert": {
                    "uuid": "a7b1c2d3-0003",
                    "reason": "problem parsing sudoers",
                    "server_time": {"seconds": 1795000200, "nanoseconds": 0},
                    "alert_time": {"seconds": 1795000200, "nanoseconds": 0},
                    "submituser": "ravi",
                    "submithost": "mb-render-02",
                }
            }
        ).encode(),
        "priv.denied",
    ),
    (b"", "S: blank line"),
    (b"   ", "S: blank line"),
    (json.dumps(_sudo_event("accept", "a7b1c2d3-0004"))[:-40].encode(), "Q"),
    (
        json.dumps({"accept": {"uuid": "a7b1c2d3-0005", "submituser": "ravi"}}).encode(),
        "Q",
    ),  # no time
]

CASES = {
    "syslog": (SyslogAuthParser, SYSLOG, "auth.log"),
    "journald": (JournaldParser, JOURNALD, "journal.json"),
    "sudo-json": (SudoJsonParser, SUDO_JSON, "sudo.json"),
}


def _ctx() -> ParseContext:
    return ParseContext(source="host-a", inventory=inventory(), timezone=ZoneInfo("UTC"), year=2026)


@pytest.mark.parametrize("kind", CASES)
def test_every_record_is_an_event_a_quarantine_entry_or_a_counted_skip(kind: str) -> None:
    cls, sample, name = CASES[kind]
    data = b"\n".join(line for line, _ in sample) + b"\n"
    parser: Parser = cls()
    found: dict[str, list[str]] = {}
    for out in parser.parse(frame_lines(data, name), _ctx()):
        if isinstance(out, Event):
            found.setdefault(out.provenance.location, []).append(out.kind)
            for n in range(1, 1 + dict(out.attrs).get("continued_lines", 0)):
                line = int(out.provenance.location.rpartition(":")[2]) + n
                found.setdefault(f"{name}:{line}", []).append("+")
        elif isinstance(out, Quarantined):
            found.setdefault(out.location, []).append("Q")
        elif isinstance(out, Skipped):
            found.setdefault(out.location, []).append(f"S: {out.reason}")
    expected = {f"{name}:{i}": [what] for i, (_, what) in enumerate(sample, 1)}
    assert found == expected


@pytest.fixture
def log(store: Store) -> EvidenceLog:
    return store.log(ORIGIN, create=True)


@pytest.mark.parametrize("kind", CASES)
def test_the_collect_summary_adds_up(log: EvidenceLog, tmp_path: Path, kind: str) -> None:
    cls, sample, name = CASES[kind]
    path = tmp_path / name
    path.write_bytes(b"\n".join(line for line, _ in sample) + b"\n")
    summary = CollectSummary()
    collect_file(log, cls, path, _ctx(), summary)
    what = Counter(w if w[:2] != "S:" else "S" for _, w in sample)
    quarantined, skipped, joined = what.pop("Q", 0), what.pop("S", 0), what.pop("+", 0)
    assert summary.read == len(sample)
    assert (summary.events, summary.quarantined, summary.skipped) == (
        sum(what.values()),
        quarantined,
        skipped,
    )
    assert summary.events + summary.quarantined + summary.skipped + joined == summary.read
    assert summary.skip_reasons == dict(Counter(w[3:] for _, w in sample if w.startswith("S: ")))
    assert summary.appended == summary.events
    assert summary.redacted == 0


def _sudo_log_file(*events: dict[str, object], closed: bool = True) -> bytes:
    """What sudo writes to its log file with log_format=json: ``{``, then each event as an
    indented member (an append overwrites the final ``\\n}\\n`` with ``,`` and the member)."""
    text = "{"
    for n, event in enumerate(events):
        member = json.dumps(event, indent=4)[1:-2]  # '\n    "accept": {...\n    }'
        text += ("," if n else "") + member
    return (text + ("\n}\n" if closed else "")).encode()


SUDO_LOG_EVENTS = [
    _sudo_event("accept", "b8c2d3e4-0001"),
    _sudo_event("reject", "b8c2d3e4-0002", reason="user NOT in sudoers"),
    {
        "exit": {
            "uuid": "b8c2d3e4-0001",
            "exit_value": 1,
            "exit_time": {"seconds": 1795000105, "nanoseconds": 0},
        }
    },
    {"accept": {"uuid": "b8c2d3e4-0003", "submituser": "ravi", "command": "/bin/sh"}},  # no time
]


def test_sudo_s_own_log_file_every_line_accounted_for() -> None:
    data = _sudo_log_file(*SUDO_LOG_EVENTS)
    lines = data.split(b"\n")[:-1]
    out = list(SudoJsonParser().parse(frame_lines(data, "sudo.log"), _ctx()))
    events = [o for o in out if isinstance(o, Event)]
    assert [e.kind for e in events] == ["priv.switch", "priv.denied", "session.end"]
    assert [e.provenance.native_id for e in events] == [
        "accept:b8c2d3e4-0001",
        "reject:b8c2d3e4-0002",
        "exit:b8c2d3e4-0001",
    ]
    starts = [i for i, line in enumerate(lines, 1) if line.endswith(b": {") and line[4:5] == b'"']
    assert [e.provenance.location for e in events] == [f"sudo.log:{n}" for n in starts[:3]]
    [q] = [o for o in out if isinstance(o, Quarantined)]
    assert q.location == f"sudo.log:{starts[3]}"
    assert q.reason == "accept event without submit_time or server_time"
    skipped = [o for o in out if isinstance(o, Skipped)]
    assert [s.location for s in skipped] == ["sudo.log:1", f"sudo.log:{len(lines)}"]  # { and }
    # the members' lines and the two braces are every line of the file
    assert starts[0] == 2
    member_lines = [len(json.dumps(e, indent=4).splitlines()) - 2 for e in SUDO_LOG_EVENTS]
    assert len(lines) == 2 + sum(member_lines)


def test_sudo_s_own_log_file_collected_as_sudo_appends_to_it(
    log: EvidenceLog, tmp_path: Path
) -> None:
    """sudo appends by rewriting the file's end: a later run still reads each member whole (the
    last member of a run is read again and found already stored, a cut one again whole)."""
    path = tmp_path / "sudo.log"
    path.write_bytes(_sudo_log_file(*SUDO_LOG_EVENTS[:2]))
    first = CollectSummary()
    collect_file(log, SudoJsonParser, path, _ctx(), first)
    assert (first.events, first.appended, first.quarantined, first.skipped) == (2, 2, 0, 2)
    # sudo was writing the third member when the collector read the file
    whole = _sudo_log_file(*SUDO_LOG_EVENTS[:3])
    path.write_bytes(whole[: whole.index(b'"exit_value"')])
    cut = CollectSummary()
    collect_file(log, SudoJsonParser, path, _ctx(), cut)
    assert (cut.appended, cut.duplicates, cut.quarantined) == (0, 1, 1)  # the cut member, seen
    path.write_bytes(whole)
    again = CollectSummary()
    collect_file(log, SudoJsonParser, path, _ctx(), again)
    # the exit, whole; the reject is not read again: the cut run saw its ',' (not the last)
    assert (again.appended, again.duplicates, again.quarantined) == (1, 0, 0)
    with log.reader() as r:
        kinds = [json.loads(body)["kind"] for _, body, _, _ in r.iter_entries()]
    assert kinds == ["priv.switch", "priv.denied", "session.end"]
