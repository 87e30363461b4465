"""An event over the store's entry size limit (what a C2SP entry bundle can carry) is
quarantined with the store's reason, is not counted as an event, and costs none of its
neighbours: the summary still adds up (events + quarantined + skipped = records read)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from edgeaudit.collect.runner import CollectSummary, collect_file
from edgeaudit.events import MAX_ENTRY_BYTES
from edgeaudit.store import Store
from tests.collect.parsers.harness import inventory

LINES = [
    b"<86>Dec  1 10:00:00 pod1 sshd[123]: Accepted publickey for alice from 198.18.0.5 port "
    b"50000 ssh2: RSA SHA256:" + b"x" * MAX_ENTRY_BYTES,
    b"<86>Dec  1 10:00:01 pod1 sshd[124]: Accepted publickey for bob from 198.18.0.6 port "
    b"50001 ssh2",
    b"<86>Dec  1 10:00:02 pod1 sshd[125]: Accepted publickey for carol from 198.18.0.7 port "
    b"50002 ssh2",
]


def test_an_oversize_event_is_quarantined_and_its_neighbours_kept(
    store: Store, tmp_path: Path
) -> None:
    log = store.log("audit.example.net/oversize", create=True)
    path = tmp_path / "auth.log"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    ctx = ParseContext(source="host-a", inventory=inventory(), timezone=ZoneInfo("UTC"), year=2026)
    summary = CollectSummary()
    collect_file(log, SyslogAuthParser, path, ctx, summary)
    assert (summary.read, summary.events, summary.quarantined, summary.skipped) == (3, 2, 1, 0)
    assert summary.appended == 2
    assert log.size == 2
    [(_, _, record)] = log.quarantined()
    assert record.location.endswith(":1")
    assert "event rejected by the store" in record.reason
    assert str(MAX_ENTRY_BYTES) in record.reason
