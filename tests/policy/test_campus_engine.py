"""The campus engine (ADR 0018) on two logs of one SQLite store, by the second operating model:
a join on a log index stays within its log (a break-glass review names an entry of its own
log, never the entry at the same index of another pod), per-log checks give one result per
log, and every citation names its log. Quay's held checkpoint counts as verified at ``NOW``,
after the period's end (covered: ``edgeaudit.policy.coverage``)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeaudit.policy.campus import PodLog, evaluate_campus
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Assessment
from edgeaudit.store import Store
from edgeaudit.store.log import EvidenceLog
from tests.policy.helpers import Evidence
from tests.policy.test_second_model import (
    BREAKGLASS,
    END,
    MODEL,
    NOW,
    START,
    breakglass_review,
    ssh_logoff,
    ssh_logon,
)

CENTRAL = "edge.example.org/campus-office"
QUAY = "edge.example.org/quay"
LOGIN = "2026-11-14T02:00:00Z"


def _campus(central: EvidenceLog, quay: EvidenceLog) -> Assessment:
    with quay.reader() as r:
        size, _ = r.head()
        root = r.root(size).hex()
    return evaluate_campus(
        load_policies(MODEL),
        central,
        [PodLog(QUAY, quay, (size, root), verified_at=NOW)],
        start=START,
        end=END,
        now=NOW,
    )


def _breakglass(a: Assessment) -> list[tuple[str, str]]:
    return [(r.status, r.scope.asset or "") for r in a.results if r.rule == BREAKGLASS]


def test_an_index_names_an_entry_of_its_own_log(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        central, quay = store.log(CENTRAL, create=True), store.log(QUAY, create=True)
        q, c = Evidence(quay), Evidence(central)
        login = q.one(ssh_logon(LOGIN, None, "jump-fra", 701, user="sos-root"))
        q.one(ssh_logoff("2026-11-14T02:20:00Z", None, "jump-fra", 701, user="sos-root"))
        # the central log's entry at the same index is another access; its review names it
        assert c.one(ssh_logon("2026-11-02T08:00:00Z", None, "core-sw-a", 5, user="karl")) == login
        c.one(breakglass_review("2026-11-14T09:00:00Z", login, "sofia.m"))
        a = _campus(central, quay)
        assert _breakglass(a) == [(FAIL, "jump-fra")]
        [r] = [r for r in a.results if r.rule == BREAKGLASS]
        assert {(e.origin, e.index) for e in r.evidence} >= {(QUAY, login)}
        # the same review in quay's own log reviews quay's session
        q.one(breakglass_review("2026-11-14T09:00:00Z", login, "sofia.m"))
        assert _breakglass(_campus(central, quay)) == [(PASS, "jump-fra")]


def test_per_log_results_and_citations(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        central, quay = store.log(CENTRAL, create=True), store.log(QUAY, create=True)
        Evidence(quay).one(ssh_logon(LOGIN, None, "jump-fra", 701, user="sos-root"))
        Evidence(central).one(ssh_logon(LOGIN, None, "core-sw-a", 5, user="karl"))
        a = _campus(central, quay)
        assert [o for o, _, _ in a.logs] == [CENTRAL, QUAY]
        for rule in ("evidence-sealed", "collection-gapless", "logs-kept-a-year"):
            logs = {r.scope.log for r in a.results if r.rule == rule}
            assert logs == {CENTRAL, QUAY}, (rule, logs)
        sealed = {r.scope.log: r for r in a.results if r.rule == "evidence-sealed"}
        assert {r.status for r in sealed.values()} == {NOT_EVALUATED}  # no verifier given
        # quay keeps no quarantine in a mirror and recorded no assessment: not a pass
        [gapless] = [r for r in a.results if r.rule == "collection-gapless" and r.scope.log == QUAY]
        assert gapless.status == NOT_EVALUATED
        for r in a.results:
            assert all(e.origin in (CENTRAL, QUAY) for e in r.evidence), r
        assert all(r.scope.log is None for r in a.results if r.rule == BREAKGLASS)


def test_a_tenant_sees_citations_of_its_own_entries_in_every_log(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        central, quay = store.log(CENTRAL, create=True), store.log(QUAY, create=True)
        q, c = Evidence(quay), Evidence(central)
        # sessions without a grant on a harbor-pay host in quay and on an orbit-media host in
        # the central log, at the same index of each log: a quay citation's scope must be read
        # from quay's entry, not the central one
        mine = q.one(ssh_logon("2026-11-20T09:00:00Z", "tobias.r", "hp-api-01", 11))
        other = c.one(ssh_logon("2026-11-20T09:00:00Z", "tobias.r", "om-encode-01", 12))
        assert mine == other
        with quay.reader() as r:
            size, _ = r.head()
            root = r.root(size).hex()
        a = evaluate_campus(
            load_policies(MODEL),
            central,
            [PodLog(QUAY, quay, (size, root), verified_at=NOW)],
            start=START,
            end=END,
            now=NOW,
            tenant="harbor-pay",
        )
        cited = {(e.origin, e.index) for r in a.results for e in r.evidence}
        assert (QUAY, mine) in cited
        assert (CENTRAL, other) not in cited  # orbit-media's entry, at the same index
        logs = {CENTRAL: central, QUAY: quay}
        for origin, index in cited:
            with logs[str(origin)].reader() as r:
                assert "harbor-pay" in json.loads(r.entry(index)[0]).get("scope", []), index


def test_a_per_log_check_reads_only_its_own_logs_events(tmp_path: Path) -> None:
    gap = {"kind": "audit.pipeline", "outcome": "failure", "source": "syslog"}
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        central, quay = store.log(CENTRAL, create=True), store.log(QUAY, create=True)
        Evidence(quay).one({**gap, "time": "2026-11-03T01:00:00Z", "attrs": {"reason": "q"}})
        Evidence(central).one({"time": "2026-11-03T02:00:00Z", "kind": "note", "source": "syslog"})
        a = _campus(central, quay)
        [mine] = [r for r in a.results if r.rule == "collection-gapless" and r.scope.log == CENTRAL]
        assert mine.status == PASS, mine.reason  # quay's gap is quay's, not the central log's
        idx = Evidence(central).one(
            {**gap, "time": "2026-11-03T03:00:00Z", "attrs": {"reason": "c"}}
        )
        a = _campus(central, quay)
        [mine] = [r for r in a.results if r.rule == "collection-gapless" and r.scope.log == CENTRAL]
        assert mine.status == FAIL
        assert [(e.origin, e.index) for e in mine.evidence] == [(CENTRAL, idx)]
