"""Failed logons: bursts of failures from one address or against one account (default 10 within
5 minutes, counted per source kind, "message repeated" counted) and a success right after one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.collect.model import Actor
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from tests.policy.helpers import (
    Evidence,
    actor,
    event,
    of,
    run,
    set_rule_params,
    target,
    the,
)

BURSTS = "logon-failure-bursts"
AFTER = "logon-success-after-burst"
T0 = 1_785_578_400  # 2026-08-01T10:00:00Z


def at(seconds: float) -> str:
    from edgeaudit.policy.context import iso

    return iso(T0 + seconds)


def failed(
    seconds: float,
    user: str = "root",
    ip: str = "203.0.113.66",
    asset: str = "bastion-1",
    source: str = "syslog",
    pid: str | None = None,
    **attrs: Any,
) -> dict[str, Any]:
    who = actor(pid, user) if pid else Actor(user=user, src_ip=ip)
    if pid:
        who = Actor(user=user, principal=pid, org=who.org, tenant=who.tenant, src_ip=ip)
    return event(
        "auth.logon_failed",
        at(seconds),
        who=who,
        on=target(asset, user),
        outcome="failure",
        source=source,
        attrs={"method": "password", **attrs},
    )


@pytest.mark.parametrize(
    ("n", "span", "status"),
    [
        (10, 300, FAIL),  # 10 within exactly 5 minutes
        (10, 301, PASS),  # spread over 5 min 1 s
        (9, 60, PASS),  # one short
    ],
)
def test_a_burst_from_one_address_at_its_boundaries(
    ev: Evidence, pol: Path, n: int, span: float, status: str
) -> None:
    # each failure for another account: only the address gathers them
    idx = ev.add(*(failed(span * i / (n - 1), user=f"u{i}") for i in range(n)))
    a = run(pol, ev.log)
    if status == FAIL:
        r = the(a, BURSTS, subject="source 203.0.113.66")
        assert r.status == FAIL
        assert [e.index for e in r.evidence] == idx
        assert r.scope.asset == "bastion-1"
        assert "10 failed logons from 203.0.113.66" in r.reason
    else:
        assert [r.status for r in of(a, BURSTS)] == [PASS]


def test_a_burst_against_one_account_from_many_addresses(ev: Evidence, pol: Path) -> None:
    idx = ev.add(
        *(failed(20 * i, ip=f"198.51.100.{i}", user="meera", pid="meera.s") for i in range(10))
    )
    r = the(run(pol, ev.log), BURSTS, principal="meera.s")
    assert r.status == FAIL
    assert r.scope.subject == "account meera.s"
    assert [e.index for e in r.evidence] == idx


def test_repeated_messages_count_and_sources_are_not_added_up(ev: Evidence, pol: Path) -> None:
    # sshd's "message repeated 8 times" plus two lines: 10 from one source
    ev.add(failed(0, repeated=8), failed(10), failed(20))
    # the same five attempts in syslog and auditd: 5 each, no burst
    ev.add(
        *(
            failed(600 + i, ip="192.0.2.9", user=f"x{i}", source=s)
            for i in range(5)
            for s in ("syslog", "auditd")
        )
    )
    a = run(pol, ev.log)
    assert the(a, BURSTS, subject="source 203.0.113.66").status == FAIL
    assert of(a, BURSTS, subject="source 192.0.2.9") == []


def success(seconds: float, ip: str = "203.0.113.66") -> dict[str, Any]:
    who = Actor(user="ravi", principal="ravi.k", org="operator", src_ip=ip)
    return event(
        "auth.logon", at(seconds), who=who, on=target("bastion-1", "ravi"), source="syslog"
    )


@pytest.mark.parametrize("ip", ["203.0.113.66", "10.0.0.41"])
def test_success_right_after_a_burst_fails_and_cites_failures_and_success(
    ev: Evidence, pol: Path, ip: str
) -> None:
    fails = ev.add(*(failed(10 * i, user="ravi", pid="ravi.k") for i in range(10)))
    ok = ev.one(success(90 + 600, ip))  # from the address, or for the account from elsewhere
    a = run(pol, ev.log)
    rs = [r for r in of(a, AFTER) if r.status == FAIL]
    assert rs
    for r in rs:
        assert [e.index for e in r.evidence] == [*fails, ok]
        assert r.scope.principal == "ravi.k"
        assert "10 min 0 s after 10 failed logons" in r.reason
    subjects = {r.scope.subject for r in rs}
    expected = {"account ravi.k"} | ({"source 203.0.113.66"} if ip == "203.0.113.66" else set())
    assert subjects == expected


def test_a_success_later_than_the_allowed_time_or_from_elsewhere_passes(
    ev: Evidence, pol: Path
) -> None:
    ev.add(*(failed(10 * i, user="ravi", pid="ravi.k") for i in range(10)))
    ev.add(success(90 + 601), success(-1))  # 10 min 1 s after, and just before the burst
    a = run(pol, ev.log)
    assert [r.status for r in of(a, AFTER)] == [PASS]
    assert "2 bursts" in the(a, AFTER).reason  # the address's and the account's


def test_thresholds_are_parameters(ev: Evidence, pol: Path) -> None:
    set_rule_params(pol / "rules.yaml", BURSTS, "{threshold: 3, window: 1m}")
    ev.add(failed(0), failed(30), failed(60))
    assert the(run(pol, ev.log), BURSTS, subject="source 203.0.113.66").status == FAIL


def test_no_logon_records_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    a = run(pol, ev.log)
    assert [r.status for r in of(a, BURSTS)] == [NOT_EVALUATED]
    assert [r.status for r in of(a, AFTER)] == [NOT_EVALUATED]


def test_a_zero_threshold_is_refused(pol: Path) -> None:
    from edgeaudit.errors import InputError
    from edgeaudit.policy.files import load_policies

    set_rule_params(pol / "rules.yaml", BURSTS, "{threshold: 0}")
    with pytest.raises(InputError, match="threshold"):
        load_policies(pol)
