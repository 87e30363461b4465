"""The coverage rule of ``evaluate_campus`` (ADR 0018, "Coverage of the period") on one SQLite
store holding a central log and a pod's log, by the second operating model (period 2026Q4,
``NOW`` after its end); and :func:`mirror_verified` on the mirror's own state files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.policy.campus import PodLog, evaluate_campus
from edgeaudit.policy.coverage import mirror_verified
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Assessment, Result
from edgeaudit.store import Store
from edgeaudit.store.log import EvidenceLog
from tests.policy.helpers import Evidence
from tests.policy.test_second_model import END, MODEL, NOW, START

CENTRAL = "edge.example.org/campus-office"
QUAY = "edge.example.org/quay"
LEAVER = "mia.k"  # end_date 2026-11-15T17:00:00Z
BEFORE_END = "2026-12-31T22:59:59Z"  # a second before 2026Q4 ends (Europe/Berlin)


def ssh_logon(when: str, principal: str, asset: str, n: int) -> dict[str, Any]:
    """A logon as the second world's tests record one (the actor's principal named)."""
    return {
        "time": when,
        "kind": "auth.logon",
        "source": "sshd",
        "outcome": "success",
        "actor": {"principal": principal, "user": principal.split(".")[0]},
        "target": {"asset": asset, "account": "ops"},
        "n": n,
    }


def _campus(
    central: EvidenceLog,
    quay: EvidenceLog,
    size: int,
    verified_at: str | None,
    forks: tuple[str, ...] = (),
    now: str = NOW,
) -> Assessment:
    with quay.reader() as r:
        root = r.root(size).hex()
    pod = PodLog(QUAY, quay, (size, root), forks, verified_at)
    return evaluate_campus(load_policies(MODEL), central, [pod], start=START, end=END, now=now)


def _leaver(a: Assessment) -> Result:
    [r] = [r for r in a.results if r.rule == "no-leaver-activity" and r.scope.principal == LEAVER]
    return r


def _gap(a: Assessment) -> list[Result]:
    return [r for r in a.results if r.scope.subject == "mirror-coverage"]


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[tuple[EvidenceLog, EvidenceLog, int]]:
    """The central log and quay's; quay's leaver logon at the returned index."""
    with Store.open(f"sqlite:///{tmp_path}/central.db", upgrade=True) as store:
        central, quay = store.log(CENTRAL, create=True), store.log(QUAY, create=True)
        Evidence(central).one(ssh_logon("2026-11-02T08:00:00Z", "tobias.r", "core-sw-a", 5))
        q = Evidence(quay)
        q.one(ssh_logon("2026-11-03T08:00:00Z", "tobias.r", "hp-api-01", 6))
        logon = q.one(ssh_logon("2026-12-20T08:00:00Z", LEAVER, "lh-pacs-01", 7))
        yield central, quay, logon


def test_verified_before_the_end_withholds_the_pass(
    logs: tuple[EvidenceLog, EvidenceLog, int],
) -> None:
    central, quay, logon = logs
    a = _campus(central, quay, logon, BEFORE_END)
    assert a.coverage is not None
    [pod] = a.coverage["pods"]
    assert pod == {
        "origin": QUAY,
        "state": "behind",
        "tree_size": logon,
        "last_entry": "2026-11-03T08:00:00Z",
        "verified_at": BEFORE_END,
    }
    assert a.coverage["until"] == END
    leaver = _leaver(a)
    assert leaver.status == NOT_EVALUATED
    assert f"last verified at {BEFORE_END}, before the period end {END}" in leaver.reason
    assert not [r for r in a.results if r.scope.log is None and r.status == PASS]
    [gap] = _gap(a)
    assert (gap.rule, gap.status, gap.scope.log) == ("collection-gapless", FAIL, QUAY)


def test_verified_at_the_end_judges_what_is_held(
    logs: tuple[EvidenceLog, EvidenceLog, int],
) -> None:
    central, quay, logon = logs
    at_end = _campus(central, quay, logon + 1, END)  # at the end itself: covered
    assert at_end.coverage is not None
    assert at_end.coverage["pods"][0]["state"] == "covered"
    assert _gap(at_end) == []
    leaver = _leaver(at_end)
    assert leaver.status == FAIL
    assert {(e.origin, e.index) for e in leaver.evidence} == {(QUAY, logon)}
    assert [r for r in at_end.results if r.scope.log is None and r.status == PASS]


def test_unverified_forked_and_stored_beyond_are_behind(
    logs: tuple[EvidenceLog, EvidenceLog, int],
) -> None:
    central, quay, logon = logs
    never = _campus(central, quay, logon + 1, None)
    assert never.coverage is not None
    assert never.coverage["pods"][0]["state"] == "behind"
    [gap] = _gap(never)
    assert "never recorded as verified" in gap.reason
    assert _leaver(never).status == FAIL  # found in the held part: stays a failure
    forked = _campus(central, quay, logon + 1, NOW, forks=("mirror/forks/quay-3.txt",))
    assert forked.coverage is not None
    assert forked.coverage["pods"][0]["state"] == "forked"
    assert {r.status for r in _gap(forked)} == {FAIL}
    # held without the logon and verified after the end, but the logon is stored beyond the
    # held size (a cut pass) and dated inside the period: the pod added it late
    late = _campus(central, quay, logon, NOW)
    assert late.coverage is not None
    assert late.coverage["pods"][0]["state"] == "behind"
    [gap] = _gap(late)
    assert "entries stored beyond the held checkpoint are dated before" in gap.reason
    assert _leaver(late).status == NOT_EVALUATED  # its check alone would pass
    # stored beyond, but dated after the period's end: not late evidence of the period
    Evidence(quay).one(ssh_logon("2027-01-05T08:00:00Z", LEAVER, "lh-pacs-01", 8))
    after = _campus(central, quay, logon + 1, NOW)
    assert after.coverage is not None
    assert after.coverage["pods"][0]["state"] == "covered"


def test_while_the_period_runs_the_gap_is_not_evaluated(
    logs: tuple[EvidenceLog, EvidenceLog, int],
) -> None:
    central, quay, logon = logs
    now = "2026-12-25T00:00:00Z"
    a = _campus(central, quay, logon + 1, "2026-12-24T23:00:00Z", now=now)
    assert a.coverage is not None
    assert a.coverage["until"] == now
    [gap] = _gap(a)
    assert gap.status == NOT_EVALUATED
    assert f"before the evaluation time (the period has not ended) {now}" in gap.reason


def test_mirror_verified_reads_the_state_files(tmp_path: Path) -> None:
    files = MirrorFiles(tmp_path, QUAY)
    assert mirror_verified(tmp_path, QUAY, 5) is None  # no state
    files.write_state(status="synced", fetched_size=5, fetched_at="2027-01-01T10:00:00Z")
    assert mirror_verified(tmp_path, QUAY, 5) == "2027-01-01T10:00:00Z"  # older state files
    assert mirror_verified(tmp_path, QUAY, 6) is None  # another size than held
    assert mirror_verified(tmp_path, QUAY, None) is None
    files.write_state(status="unreachable", fetched_at="2027-01-02T10:00:00Z")
    assert mirror_verified(tmp_path, QUAY, 5) is None  # the last pass held nothing
    files.write_state(verified_at="2027-01-01T09:00:00Z", verified_size=5)
    assert mirror_verified(tmp_path, QUAY, 5) == "2027-01-01T09:00:00Z"
    files.write_state(verified_at="yesterday", verified_size=5)
    assert mirror_verified(tmp_path, QUAY, 5) is None
    files.write_state(verified_at="2027-01-01T09:00:00Z", verified_size="5")
    assert mirror_verified(tmp_path, QUAY, 5) is None


def _report(doc: dict[str, Any]) -> str:
    from edgeaudit.pack.evidence import Stats
    from edgeaudit.pack.report import ReportInput, render_html
    from edgeaudit.verify.pack_key import ManifestKey

    header = {"origin": CENTRAL, "logs": [], "site": "office", "period": {"label": "Q"}}
    data = ReportInput(header, b"{}", doc, Stats(), "note", None, ManifestKey("kid", "pem"))
    return render_html(data)


def test_the_report_shows_coverage_and_the_forked_or_quarantined_pods() -> None:
    fjord, skerry = "edge.example.org/fjord", "edge.example.org/skerry"

    def result(i: int, rule: str, status: str, log: str, reason: str) -> dict[str, Any]:
        return {
            "id": f"R-{i:016d}", "rule": rule, "title": rule, "status": status,
            "severity": "high", "controls": [], "scope": {"log": log}, "reason": reason,
            "evidence": [],
        }  # fmt: skip

    pods = [
        {"origin": fjord, "state": "forked", "tree_size": 7, "last_entry": "2026-11-20T00:00:00Z",
         "verified_at": "2027-01-01T01:00:00Z"},
        {"origin": skerry, "state": "covered", "tree_size": 9, "last_entry": None,
         "verified_at": "2027-01-01T02:00:00Z"},
    ]  # fmt: skip
    doc: dict[str, Any] = {
        "assessment": {"id": "a", "from": START, "to": END, "evaluated_at": NOW, "tree_size": 5,
                       "coverage": {"until": END, "pods": pods}},
        "results": [
            result(1, "evidence-sealed", "fail", fjord, "stopped by a fork (mirror/forks/f.txt)"),
            result(2, "no-forged-sources", "fail", skerry, "as the pod judged it (a, t): forged"),
            result(3, "evidence-sealed", "pass", skerry, "verified"),
        ],
        "controls": [],
    }  # fmt: skip
    html = " ".join(_report(doc).split())
    section = html.split('id="campus-coverage">', 1)[1].split("</section>", 1)[0]
    assert "<strong>1 of 2 pods are not covered: no event check's result is a pass</strong>" in (
        section
    )
    assert (
        f'<td class="mono">{fjord}</td><td class="num">7</td><td>2026-11-20T00:00:00Z</td>'
        '<td>2027-01-01T01:00:00Z</td><td class="status-fail">forked</td>'
    ) in section
    assert f'<td class="mono">{skerry}</td><td class="num">9</td><td>none</td>' in section
    forked, quarantined = section.split("<h3>Pods forked or with quarantined evidence</h3>")[
        1
    ].split(f'<span class="mono">{skerry}</span>')
    assert "stopped by a fork (mirror/forks/f.txt)" in forked
    assert "its own assessment found quarantined evidence" in quarantined
    assert "as the pod judged it (a, t): forged" in quarantined
    assert "verified" not in quarantined  # a passing per-log result is not listed
    # every pod covered and none flagged: the table alone; a single-log report: no section
    for p in pods:
        p["state"] = "covered"
    doc["results"] = doc["results"][2:]
    html = " ".join(_report(doc).split())
    assert "Every pod is covered." in html
    assert "Pods forked or with quarantined evidence" not in html
    del doc["assessment"]["coverage"]
    assert 'id="campus-coverage"' not in _report(doc)
