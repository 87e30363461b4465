"""A logon at the machine's terminal: ``login`` names itself after ``by`` ("by LOGIN(uid=0)");
the user who logged on is the actor, so the console check can match their badge entries."""

from __future__ import annotations

from edgeaudit.collect.parsers.syslog import SyslogAuthParser
from tests.collect.parsers.harness import run
from tests.collect.parsers.test_syslog import ctx

LINES = (
    b"Aug 23 09:40:12 fa-web-01 login[4242]: pam_unix(login:session): session opened for user "
    b"ravi(uid=1001) by LOGIN(uid=0)\n"
    b"Aug 23 10:01:12 fa-web-01 login[4242]: pam_unix(login:session): session closed for user "
    b"ravi\n"
)


def test_a_console_logon_is_the_users_session() -> None:
    events, quarantined, _ = run(SyslogAuthParser(), LINES, ctx(), "console.log")
    assert quarantined == []
    start, end = events
    assert (start.kind, end.kind) == ("session.start", "session.end")
    assert start.actor.user == "ravi"
    assert start.actor.principal == "ravi.k"
    assert start.actor.original_user is None
    assert dict(start.attrs)["service"] == "login"
    assert start.target.account == "ravi"
