"""RACI structure and practice; access reviews on cadence."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, STALE
from tests.policy.helpers import Evidence, command, edit, of, run, the


def test_default_matrix_is_well_formed(ev: Evidence, pol: Path) -> None:
    a = run(pol, ev.log)
    rs = of(a, "raci-structure")
    assert len(rs) == 11
    assert {r.status for r in rs} == {PASS}


def test_two_accountables_no_responsible_and_a_missing_activity(ev: Evidence, pol: Path) -> None:
    raci = pol / "raci.yaml"
    edit(
        raci,
        "  - id: patching\n    R: [pod-ops, msp]\n    A: ops-lead\n",
        "  - id: patching\n    R: [pod-ops, msp]\n    A: [ops-lead, pod-ops]\n",
    )
    edit(raci, "  - id: backups\n    R: [pod-ops]\n", "  - id: backups\n")
    # a required activity no rule names may be missing from the matrix (a finding, not an error):
    # the rule that names incident-response is switched off
    edit(
        pol / "rules.yaml",
        "  - id: incident-reporting\n",
        "  - id: incident-reporting\n    enabled: false\n",
    )
    edit(
        raci,
        "  - id: incident-response\n    R: [pod-ops, msp]\n    A: ops-lead\n"
        "    C: [tenant-security]\n    I: [tenant-security]\n",
        "",
    )
    a = run(pol, ev.log)
    patching = the(a, "raci-structure", activity="patching")
    assert patching.status == FAIL
    assert "2 Accountable parties (need exactly one)" in patching.reason
    assert "raci.yaml:15" in patching.reason  # the row's line, relative to the policies
    assert str(pol) not in patching.reason  # never a path of the operator's machine
    backups = the(a, "raci-structure", activity="backups")
    assert backups.status == FAIL
    assert "no Responsible party" in backups.reason
    missing = the(a, "raci-structure", activity="incident-response")
    assert missing.status == FAIL
    assert "'incident-response' is missing" in missing.reason
    assert the(a, "raci-structure", activity="key-management").status == PASS


def test_accountable_party_without_members_fails(ev: Evidence, pol: Path) -> None:
    edit(
        pol / "raci.yaml",
        "  key-custody: {org: operator, roles: [key-admin]",
        "  key-custody: {org: operator, roles: [hsm-officer]",
    )
    r = the(run(pol, ev.log), "raci-structure", activity="key-management")
    assert r.status == FAIL
    assert "no member in the inventory" in r.reason


def test_no_raci_file_fails_every_required_activity(ev: Evidence, pol: Path) -> None:
    (pol / "raci.yaml").unlink()
    rs = of(run(pol, ev.log), "raci-structure")
    assert len(rs) == 8
    assert {r.status for r in rs} == {FAIL}


def test_practice_patching_by_responsible_and_by_a_non_responsible(ev: Evidence, pol: Path) -> None:
    ok = ev.one(command("2026-08-03T10:00:00Z", "arjun.p", "fa-web-01", "apt-get upgrade -y"))
    bad = ev.one(
        command("2026-08-03T11:00:00Z", "lena.f", "fa-web-01", "sudo apt-get install openssl")
    )
    ev.one(command("2026-08-03T12:00:00Z", "lena.f", "fa-web-01", "ls -l"))  # not patching
    a = run(pol, ev.log)
    good = the(a, "raci-practice", activity="patching", principal="arjun.p")
    assert good.status == PASS
    assert [e.index for e in good.evidence] == [ok]
    r = the(a, "raci-practice", activity="patching", principal="lena.f")
    assert r.status == FAIL
    assert "fa-web-01" in r.reason
    assert [e.index for e in r.evidence] == [bad]
    assert the(a, "raci-practice", activity="backups").status == NOT_EVALUATED


def test_practice_backups_by_accountable_passes(ev: Evidence, pol: Path) -> None:
    # meera.s is in ops-lead (Accountable for backups) and pod-ops
    ev.one(command("2026-08-03T10:00:00Z", "meera.s", "bastion-1", "pg_dump -Fc audit"))
    assert the(run(pol, ev.log), "raci-practice", activity="backups").status == PASS


@pytest.mark.parametrize(
    ("reviewed", "status"),
    [
        ("2026-08-01T00:00:00Z", PASS),  # in the period
        ("2026-07-01T00:00:00Z", PASS),  # the period's first second
        # before the period: no evidence of this period. Stale while the next review is not
        # yet due at the as-of time (2026-10-01), failing (overdue) once it is
        ("2026-06-30T23:59:59Z", STALE),
        ("2026-04-01T00:00:00Z", STALE),  # due exactly at the as-of time: not yet overdue
        ("2026-03-31T23:59:59Z", FAIL),  # due one second before the as-of time
        ("2026-03-01T00:00:00Z", FAIL),
    ],
)
def test_access_review_cadence(ev: Evidence, pol: Path, reviewed: str, status: str) -> None:
    i = ev.one({"time": reviewed, "kind": "review.access", "reviewer": "meera.s"})
    r = the(run(pol, ev.log), "access-review-cadence")
    assert r.status == status, r.reason
    assert [e.index for e in r.evidence] == [i]
    if status == FAIL:
        assert "overdue" in r.reason
        assert "due 2026-0" in r.reason


@pytest.mark.parametrize(
    ("reviewer", "subjects", "why"),
    [
        ("ravi.k", [], "holds neither R nor A for 'access-review'"),
        ("meera.s", ["meera.s", "ravi.k"], "meera.s reviewed their own access"),
        ("someone", [], "not a principal of the inventory"),
    ],
)
def test_an_access_review_counts_only_by_someone_who_may_review(
    ev: Evidence, pol: Path, reviewer: str, subjects: list[str], why: str
) -> None:
    i = ev.one(
        {
            "time": "2026-08-01T00:00:00Z",
            "kind": "review.access",
            "reviewer": reviewer,
            "subjects": subjects,
        }
    )
    r = the(run(pol, ev.log), "access-review-cadence")
    assert r.status == FAIL, r.reason
    assert why in r.reason
    assert [e.index for e in r.evidence] == [i]


def test_no_access_review_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    r = the(run(pol, ev.log), "access-review-cadence")
    assert r.status == NOT_EVALUATED


def test_review_after_the_as_of_time_does_not_count(ev: Evidence, pol: Path) -> None:
    ev.one({"time": "2026-09-15T00:00:00Z", "kind": "review.access"})
    r = the(run(pol, ev.log, now="2026-09-01T00:00:00Z"), "access-review-cadence")
    assert r.status == NOT_EVALUATED


def test_a_shared_row_beside_a_star_row_is_its_own_result(ev: Evidence, pol: Path) -> None:
    # load_raci accepts one row per activity and scope; the shared row must not collide with
    # the '*' row (it used to crash the evaluation: "reported scope ... twice")
    with (pol / "raci.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "  - id: patching\n    scope: shared\n"
            "    R: [pod-ops]\n    A: [ops-lead, key-custody]\n"
        )
    rs = of(run(pol, ev.log), "raci-structure", activity="patching")
    assert len(rs) == 2
    assert sorted(r.status for r in rs) == [FAIL, PASS]
    bad = next(r for r in rs if r.status == FAIL)
    assert "patching (shared)" in bad.reason
    assert "2 Accountable parties" in bad.reason
