"""The syslog parser's memory does not grow with the number of distinct accounts in a log
(a spray of failed logons for invented user names is common): its target cache is bounded,
and what it emits does not depend on whether a target came from the cache."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers import syslog
from tests.collect.parsers.harness import frame_lines, inventory


def test_the_target_cache_is_bounded_and_changes_nothing() -> None:
    n = syslog._TARGETS_KEPT + 500
    data = "".join(
        f"Nov 01 08:{i // 60 % 60:02d}:{i % 60:02d} fa-web-01 sshd[{1000 + i}]: Failed password "
        f"for invalid user u{i % (n - 10)} from 203.0.113.4 port {i} ssh2\n"
        for i in range(n)
    ).encode()
    ctx = ParseContext("auth.log", inventory(), ZoneInfo("Asia/Kolkata"), 2026)
    run = syslog._Run(ctx)
    events = [e for e in run.run(frame_lines(data)) if isinstance(e, Event)]
    assert len(events) == n
    assert len(run.targets) <= syslog._TARGETS_KEPT
    # accounts seen again after the cache was emptied get the same target as the first time
    for k, (late, early) in enumerate(zip(events[-10:], events[:10], strict=True)):
        assert late.target == early.target
        assert late.target.account == f"u{k}"
