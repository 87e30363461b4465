"""The failed-logon burst search against a brute-force definition of a burst, on random failure
streams: the linear sliding window alone, and the whole path (stored entries read column by
column from a real SQLite store, grouped per address and account and source kind, cited)."""

from __future__ import annotations

import gc
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.model import Actor
from edgeaudit.policy.checks.logons import Item, _bursts
from edgeaudit.policy.context import paused_gc
from edgeaudit.policy.model import FAIL
from edgeaudit.store import Store
from tests.policy.helpers import (
    ORIGIN,
    Evidence,
    copy_policies,
    event,
    of,
    only_rules,
    run,
    set_rule_params,
    target,
)
from tests.policy.test_logons import AFTER, BURSTS, at


def oracle(times: list[tuple[float, int]], threshold: int, window: float) -> list[list[int]]:
    """Episodes as lists of positions, by the definition: a failure is in a burst when some
    run of failures j..k around it spans at most ``window`` seconds and weighs ``threshold``
    or more; marked failures less than ``window`` apart are one episode."""
    n = len(times)
    marked = [False] * n
    for j in range(n):
        for k in range(j, n):
            if times[k][0] - times[j][0] > window:
                break
            if sum(w for _, w in times[j : k + 1]) >= threshold:
                for i in range(j, k + 1):
                    marked[i] = True
    out: list[list[int]] = []
    for i in range(n):
        if not marked[i]:
            continue
        if out and times[i][0] - times[out[-1][-1]][0] <= window:
            out[-1].append(i)
        else:
            out.append([i])
    return out


streams = st.lists(st.tuples(st.integers(0, 900), st.integers(1, 4)), min_size=0, max_size=40).map(
    sorted
)


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1, 12), st.integers(0, 200))
def test_sliding_window_matches_the_definition(
    stream: list[tuple[int, int]], threshold: int, window: int
) -> None:
    items: list[Item] = [
        (float(t), i, w, bytes(32), ("asset", "h"), None) for i, (t, w) in enumerate(stream)
    ]
    got = [
        ([ev.index for ev in ep.failures], ep.count)
        for ep in _bursts("source", "k", None, items, threshold, float(window))
    ]
    want = [
        (run_, sum(stream[i][1] for i in run_))
        for run_ in oracle([(float(t), w) for t, w in stream], threshold, float(window))
    ]
    assert got == want


IPS = ("203.0.113.1", "203.0.113.2", "198.51.100.7")
USERS = ("root", "ravi", "admin")
SOURCES = ("syslog", "auditd")
failures = st.lists(
    st.tuples(
        st.integers(0, 600),  # seconds after the start
        st.sampled_from(IPS),
        st.sampled_from(USERS),
        st.sampled_from(SOURCES),
        st.integers(1, 3),  # "message repeated" count
    ),
    min_size=1,
    max_size=30,
)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_policies(tmp_path_factory.mktemp("scan") / "policies")
    (root / "waivers.yaml").write_text("version: 1\nwaivers: []\n", encoding="utf-8")
    only_rules(root / "rules.yaml", [BURSTS, AFTER])
    set_rule_params(root / "rules.yaml", BURSTS, "{threshold: 4, window: 1m}")
    return root


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(failures)
def test_stored_failures_burst_as_defined(
    policies: Path, stream: list[tuple[int, str, str, str, int]]
) -> None:
    stream.sort(key=lambda f: f[0])
    records = [
        event(
            "auth.logon_failed",
            at(t),
            who=Actor(user=user, src_ip=ip),
            on=target("bastion-1", user),
            outcome="failure",
            source=source,
            attrs={"method": "password", **({"repeated": n} if n > 1 else {})},
        )
        for t, ip, user, source, n in stream
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(f"sqlite:///{tmp}/store.db", upgrade=True) as store,
    ):
        idx = Evidence(store.log(ORIGIN, create=True)).add(*records)
        a = run(policies, store.log(ORIGIN))
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (_, ip, user, source, _) in enumerate(stream):
        groups[(f"source {ip}", source)].append(i)
        groups[(f"account {user}@bastion-1", source)].append(i)
    want: dict[str, set[int]] = defaultdict(set)
    for (subject, _), members in groups.items():
        times = [(float(stream[i][0]), stream[i][4]) for i in members]
        for ep in oracle(times, 4, 60.0):
            want[subject].update(idx[members[p]] for p in ep)
    got = {
        r.scope.subject: {e.index for e in r.evidence}
        for r in of(a, BURSTS)
        if r.status == FAIL and r.scope.subject is not None
    }
    assert got == dict(want)


def test_paused_gc_restores_the_collector_and_keeps_it_off_when_it_was() -> None:
    assert gc.isenabled()
    seen: list[bool] = []

    def fails() -> None:
        with paused_gc():
            seen.append(gc.isenabled())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fails()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()
