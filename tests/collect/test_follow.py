"""Follow mode and resuming with stateful parsers: a record group that arrives in two polls is
one event; a group whose tail never comes is emitted after a quiet spell (follow) or at the end
of the input (no follow); a journald sequence gap across a restart is detected; a failing
follower of several files is reported by the CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edgeaudit.collect.interface import ParseContext, Parser
from edgeaudit.collect.model import raw_sha256
from edgeaudit.collect.parsers.auditd import AuditdParser
from edgeaudit.collect.parsers.journald import JournaldParser
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.parsers.vault import VaultAuditParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.store import EvidenceLog, Store
from tests.cli import make_workspace
from tests.collect.parsers.harness import inventory

ORIGIN = "audit.example.net/follow-test"
DATA = Path(__file__).resolve().parent / "data"
INV = inventory()


def _records(log: EvidenceLog) -> list[dict[str, object]]:
    import json

    with log.reader() as r:
        return [json.loads(body) for _, body, _, _ in r.iter_entries()]


def _wait(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


class _Follow:
    """collect_file(follow=True) in a thread, stopped on exit."""

    def __init__(
        self, log: EvidenceLog, parser: Callable[[], Parser], path: Path, ctx: ParseContext
    ) -> None:
        self.stop = threading.Event()
        self.summary = CollectSummary()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(
            target=self._run, args=(log, parser, path, ctx), name="follow test"
        )

    def _run(
        self, log: EvidenceLog, parser: Callable[[], Parser], path: Path, ctx: ParseContext
    ) -> None:
        try:
            collect_file(
                log, parser, path, ctx, self.summary, follow=True, poll=0.05, stop=self.stop,
                settle=30.0,
            )  # fmt: skip
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> _Follow:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert self.errors == []


def _split_across_polls(
    store: Store,
    path: Path,
    parser: Callable[[], Parser],
    ctx: ParseContext,
    lines: list[bytes],
    cut: int,
) -> tuple[EvidenceLog, CollectSummary]:
    log = store.log(ORIGIN, create=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines[:cut]))
    with _Follow(log, parser, path, ctx) as f:
        time.sleep(0.5)  # ten polls with the first part only
        assert log.size == 0, "a partial record group must not be emitted between polls"
        with path.open("ab") as fh:
            fh.write(b"".join(line + b"\n" for line in lines[cut:]))
        _wait(lambda: log.size >= 1)
        time.sleep(0.3)
    return log, f.summary


def test_auditd_event_split_across_polls_is_one_event(store: Store, tmp_path: Path) -> None:
    lines = (DATA / "auditd" / "exec_interleaved_eoe.log").read_bytes().splitlines()
    ctx = ParseContext("audit-host", INV)
    log, summary = _split_across_polls(store, tmp_path / "a.log", AuditdParser, ctx, lines, 2)
    (event,) = _records(log)
    assert summary.quarantined == 0
    # all three records of serial 600 (lines 1, 3, 4), though line 1 came a poll earlier
    assert event["provenance"]["raw_sha256"] == raw_sha256(  # type: ignore[index]
        b"\n".join([lines[0], lines[2], lines[3]])
    )
    assert event["attrs"]["cwd"] == "/home/ravi"  # type: ignore[index]


def test_sudo_continuation_in_the_next_poll_joins_its_line(store: Store, tmp_path: Path) -> None:
    lines = [
        b"Nov 20 09:10:00 fa-db-01 sudo[2100]:     ravi : TTY=pts/0 ; PWD=/home/ravi ; "
        b"USER=root ; COMMAND=/usr/bin/rsync -a /srv/data/",
        b"Nov 20 09:10:00 fa-db-01 sudo[2100]:     ravi : (command continued) /mnt/backup/",
        b"Nov 20 09:10:05 fa-db-01 sshd[2200]: Accepted publickey for ravi from 10.0.0.9 "
        b"port 50000 ssh2: ED25519 SHA256:abc",
    ]
    ctx = ParseContext("auth.log", INV, ZoneInfo("Asia/Kolkata"), 2026)
    log, summary = _split_across_polls(store, tmp_path / "s.log", SyslogAuthParser, ctx, lines, 1)
    _wait(lambda: log.size >= 2)
    by_kind = {r["kind"]: r for r in _records(log)}
    sudo, ssh = by_kind["priv.switch"], by_kind["auth.logon"]
    assert summary.quarantined == 0  # the continuation found its pending line
    assert sudo["attrs"]["command"] == "/usr/bin/rsync -a /srv/data/ /mnt/backup/"  # type: ignore[index]
    assert sudo["attrs"]["continued_lines"] == 1  # type: ignore[index]
    assert ssh["actor"]["user"] == "ravi"  # type: ignore[index]


def test_vault_request_and_response_in_two_polls_are_one_event(
    store: Store, tmp_path: Path
) -> None:
    lines = (DATA / "vault" / "encrypt_pair.jsonl").read_bytes().splitlines()
    ctx = ParseContext("vault", INV)
    log, _ = _split_across_polls(store, tmp_path / "v.log", VaultAuditParser, ctx, lines, 1)
    (event,) = _records(log)
    assert (event["kind"], event["outcome"]) == ("key.use", "success")
    assert event["key"]["key"] == "fintech-a-data"  # type: ignore[index]


def test_a_pending_event_is_emitted_after_a_quiet_spell(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    path = tmp_path / "auth.log"
    path.write_bytes(
        b"Nov 20 09:10:00 fa-db-01 sudo[2100]:     ravi : TTY=pts/0 ; PWD=/ ; USER=root ; "
        b"COMMAND=/usr/bin/id\n"
    )
    ctx = ParseContext("auth.log", INV, ZoneInfo("Asia/Kolkata"), 2026)
    stop = threading.Event()
    t = threading.Thread(
        target=collect_file,
        args=(log, SyslogAuthParser, path, ctx, CollectSummary()),
        kwargs={"follow": True, "poll": 0.05, "stop": stop, "settle": 0.3},
    )
    t.start()
    try:
        _wait(lambda: log.size == 1)  # no further line ever came: flushed after 0.3 s
        with path.open("ab") as fh:  # and following goes on with a fresh pass
            fh.write(b"Nov 20 09:11:00 fa-db-01 sudo[2101]:     ravi : TTY=pts/0 ; PWD=/ ; ")
            fh.flush()
            time.sleep(0.2)  # half a line: not read yet
            fh.write(b"USER=root ; COMMAND=/usr/bin/whoami\n")
        _wait(lambda: log.size == 2)
    finally:
        stop.set()
        t.join(10)
    assert [r["attrs"]["command"] for r in _records(log)] == ["/usr/bin/id", "/usr/bin/whoami"]  # type: ignore[index]
    # the resume point is after both lines: a restart reads nothing again
    again = CollectSummary()
    collect_file(log, SyslogAuthParser, path, ctx, again)
    assert (again.read, again.appended) == (0, 0)


def test_without_follow_a_buffered_event_is_flushed_at_the_end(
    store: Store, tmp_path: Path
) -> None:
    log = store.log(ORIGIN, create=True)
    path = tmp_path / "audit.log"
    path.write_bytes((DATA / "auditd" / "exec_flush_at_end.log").read_bytes())  # no EOE
    summary = CollectSummary()
    collect_file(log, AuditdParser, path, ParseContext("audit-host", INV), summary)
    assert (summary.events, summary.appended) == (1, 1)
    assert _records(log)[0]["kind"] == "session.command"
    assert log.resume_point("auditd", str(path.resolve())).offset == path.stat().st_size  # type: ignore[union-attr]


def _journal(seq: int) -> bytes:
    return (
        b'{"__CURSOR":"s=a1;i=%x","__REALTIME_TIMESTAMP":"17638000%02d000000",'
        b'"__SEQNUM":"%d","__SEQNUM_ID":"a1b2","_HOSTNAME":"fa-web-01","_COMM":"cron",'
        b'"MESSAGE":"tick"}\n' % (seq, seq, seq)
    )


def test_journald_gap_across_a_restart_is_detected(store: Store, tmp_path: Path) -> None:
    log = store.log(ORIGIN, create=True)
    path = tmp_path / "journal.jsonl"
    path.write_bytes(_journal(10) + _journal(11))
    ctx = ParseContext("fa-web-01", INV)
    first = CollectSummary()
    collect_file(log, JournaldParser, path, ctx, first)
    assert (first.read, first.events) == (2, 0)  # cron records: not auth events
    with path.open("ab") as fh:  # the collector was down while records 12-14 were lost
        fh.write(_journal(15) + _journal(16))
    second = CollectSummary()
    collect_file(log, JournaldParser, path, ctx, second)
    assert second.read == 2
    (gap,) = _records(log)
    assert (gap["kind"], gap["outcome"]) == ("audit.pipeline", "failure")
    assert gap["provenance"]["native_id"] == "gap:a1b2:12-14"  # type: ignore[index]
    assert gap["provenance"]["location"] == "journal.jsonl:3"  # type: ignore[index]
    # and no gap where none is: a restart right after record 16, then 17
    with path.open("ab") as fh:
        fh.write(_journal(17))
    third = CollectSummary()
    collect_file(log, JournaldParser, path, ctx, third)
    assert (third.read, third.events) == (1, 0)


def test_cli_reports_a_failing_follower_by_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")
    good = tmp_path / "good.log"
    good.write_text("Nov 20 09:10:00 fa-db-01 CRON[1]: (root) CMD (true)\n")
    bad = tmp_path / "core.bin"
    bad.write_bytes(b"\x7fELF\x00\x01\x02")
    began = time.monotonic()
    r = cli(
        "collect", "syslog", str(good), str(bad), "--follow", "--poll", "0.05",
        "--timezone", "UTC",
    )  # fmt: skip
    assert r.code == 2
    assert "core.bin" in r.err
    assert "looks binary" in r.err
    assert time.monotonic() - began < 10  # the other follower was stopped, not left running
