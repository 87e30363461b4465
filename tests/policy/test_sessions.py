"""Sessions rebuilt from the records of one access, judged over their whole duration.

Records are built in each source's shape (sshd via syslog, pam, auditd, Teleport, sudo), with
the session keys those sources really carry: sshd's pid is the same in syslog, journald and
auditd; Teleport and sudo-json carry a session id.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgeaudit.policy.model import FAIL, PASS
from tests.policy.helpers import Evidence, actor, event, full_grant, run, target, the

APPROVED = "2026-08-03T09:00:00Z"
EXPIRES = "2026-08-03T10:00:00Z"


def _grant(ev: Evidence, pid: str = "ravi.k", asset: str = "fa-db-01") -> None:
    ev.add(full_grant("g-1", pid, "meera.s", asset, "2026-08-03T08:55:00Z", APPROVED, EXPIRES))


def _rec(
    kind: str,
    time: str,
    pid: str | None,
    asset: str,
    account: str,
    *,
    source: str,
    proc: int | None = None,
    ses: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    who = dataclasses.replace(actor(pid, user), session=ses)
    attrs = {"pid": proc} if proc is not None else {}
    return event(kind, time, who=who, on=target(asset, account), attrs=attrs, source=source)


def _ssh(start: str, end: str, pid: str, asset: str, proc: int, *, auditd: bool = True) -> list:
    out = [
        _rec("auth.logon", start, pid, asset, "ravi", source="syslog", proc=proc, ses=str(proc)),
        _rec("session.start", start, pid, asset, "ravi", source="syslog", proc=proc),
    ]
    if auditd:
        out.append(
            _rec("session.start", start, pid, asset, "ravi", source="auditd", proc=proc, ses="7")
        )
    out.append(_rec("auth.logoff", end, pid, asset, "ravi", source="syslog", proc=proc))
    return out


def test_one_ssh_login_seen_by_three_records_is_one_session(ev: Evidence, pol: Path) -> None:
    _grant(ev)
    ev.add(*_ssh("2026-08-03T09:10:00Z", "2026-08-03T09:20:00Z", "ravi.k", "fa-db-01", 4242))
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == PASS, r.reason
    assert dict(r.observed)["sessions"] == 1
    assert "1 session of ravi.k" in r.reason


def test_two_logins_with_other_pids_in_the_same_second_stay_two(ev: Evidence, pol: Path) -> None:
    _grant(ev)
    ev.add(*_ssh("2026-08-03T09:10:00Z", "2026-08-03T09:20:00Z", "ravi.k", "fa-db-01", 1001))
    ev.add(*_ssh("2026-08-03T09:10:00Z", "2026-08-03T11:20:00Z", "ravi.k", "fa-db-01", 1002))
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == FAIL, r.reason
    obs = dict(r.observed)
    assert obs["sessions"] == 2
    assert obs["uncovered"] == 1
    # the second ran 1 h 20 min past the expiry; the grace (5 min) is counted as covered
    assert obs["uncovered_s"] == 80 * 60 - 300
    assert "1 h 15 min 0 s uncovered" in r.reason


def test_a_session_outliving_its_grant_fails_with_its_uncovered_seconds(
    ev: Evidence, pol: Path
) -> None:
    _grant(ev)
    ev.add(*_ssh("2026-08-03T09:50:00Z", "2026-08-03T14:00:00Z", "ravi.k", "fa-db-01", 77))
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == FAIL
    (s,) = dict(r.observed)["uncovered_sessions"]
    assert s["uncovered_s"] == 4 * 3600 - 300
    assert s["start"] == "2026-08-03T09:50:00Z"
    assert s["end"] == "2026-08-03T14:00:00Z"
    assert s["grants"] == ["g-1"]


def test_a_session_without_an_end_is_open_until_the_period_ends(ev: Evidence, pol: Path) -> None:
    _grant(ev)
    ev.one(
        _rec("auth.logon", "2026-08-03T09:10:00Z", "ravi.k", "fa-db-01", "ravi", source="syslog")
    )
    r = the(run(pol, ev.log), "jit-session-covered", principal="ravi.k", asset="fa-db-01")
    assert r.status == FAIL
    assert "end not evidenced" in r.reason
    assert "2026-10-01T00:00:00Z" in r.reason


def test_a_teleport_session_without_a_grant_is_judged(ev: Evidence, pol: Path) -> None:
    # a 90-minute root session through Teleport on a tenant database host, no grant
    sid = "7b1c0c1e-5d5a-4c53-9c0e-1f2a3b4c5d6e"
    ev.add(
        _rec("session.start", "2026-08-05T10:00:00Z", "arjun.p", "fa-db-01", "root",
             source="teleport", ses=sid),
        _rec("session.end", "2026-08-05T11:30:00Z", "arjun.p", "fa-db-01", "root",
             source="teleport", ses=sid),
    )  # fmt: skip
    r = the(run(pol, ev.log), "jit-session-covered", principal="arjun.p", asset="fa-db-01")
    assert r.status == FAIL
    assert dict(r.observed)["uncovered_s"] == 90 * 60
    assert "teleport" in r.reason


def test_sudo_to_a_root_shell_outside_a_grant_is_judged(ev: Evidence, pol: Path) -> None:
    ev.add(
        _rec("priv.switch", "2026-08-06T22:00:00Z", "ravi.k", "mb-render-02", "root",
             source="syslog", proc=555),
        _rec("session.end", "2026-08-06T22:45:00Z", None, "mb-render-02", "root",
             source="syslog", proc=555, user="root"),
    )  # fmt: skip
    a = run(pol, ev.log)
    r = the(a, "jit-session-covered", principal="ravi.k", asset="mb-render-02")
    assert r.status == FAIL
    assert "priv.switch as root" in r.reason
    assert dict(r.observed)["uncovered_s"] == 45 * 60


def test_a_break_glass_account_may_elevate_from_its_own_session(ev: Evidence, pol: Path) -> None:
    ev.add(
        _rec("auth.logon", "2026-08-06T22:00:00Z", None, "bastion-1", "breakglass",
             source="syslog", proc=9, user="breakglass"),
        _rec("priv.switch", "2026-08-06T22:05:00Z", None, "bastion-1", "root",
             source="syslog", proc=10, user="breakglass"),
        _rec("auth.logoff", "2026-08-06T22:30:00Z", None, "bastion-1", "breakglass",
             source="syslog", proc=9, user="breakglass"),
    )  # fmt: skip
    a = run(pol, ev.log)
    r = the(a, "jit-session-covered", principal="unresolved: breakglass")
    assert r.status == PASS, r.reason
    assert "break-glass" in r.reason
    # and the use must be reviewed (one use, not one per record)
    uses = [x for x in a.results if x.rule == "breakglass-reviewed"]
    assert len(uses) == 1


def test_tenant_staff_need_no_grant_on_their_own_hosts_for_any_duration(
    ev: Evidence, pol: Path
) -> None:
    ev.add(
        _rec("auth.logon", "2026-08-06T22:00:00Z", "lena.f", "fa-web-01", "lena",
             source="syslog", proc=3),
    )  # fmt: skip
    r = the(run(pol, ev.log), "jit-session-covered", principal="lena.f")
    assert r.status == PASS, r.reason
    assert "no end evidenced" in r.reason


def test_odd_access_requests_name_no_grant_and_never_crash(ev: Evidence, pol: Path) -> None:
    # damaged Teleport records: access_requests that is not a list of ids (a number, a string
    # whose characters must not become grant ids, an object) names no grant
    _grant(ev, pid="arjun.p", asset="fa-db-01")  # grant "g-1", a one-character-free id
    for n, odd in enumerate((7, True, "g-1", {"g-1": 1})):
        sid = f"00000000-0000-4000-8000-00000000000{n}"
        start = _rec("session.start", f"2026-08-0{5 + n}T10:00:00Z", "arjun.p", "fa-db-01",
                     "root", source="teleport", ses=sid)  # fmt: skip
        start["attrs"] = {"access_requests": odd}
        end = _rec("session.end", f"2026-08-0{5 + n}T10:10:00Z", "arjun.p", "fa-db-01",
                   "root", source="teleport", ses=sid)  # fmt: skip
        ev.add(start, end)
    r = the(run(pol, ev.log), "jit-session-covered", principal="arjun.p", asset="fa-db-01")
    assert r.status == FAIL  # none of the four sessions is covered by what its record says
    assert dict(r.observed)["uncovered_s"] == 4 * 10 * 60
