"""The assessment is evidence: evaluate + record end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import orjson

from edgeaudit.note.signer import generate
from edgeaudit.note.verifier import Verifier
from edgeaudit.policy.context import epoch, iso
from edgeaudit.policy.record import record
from edgeaudit.store import Store
from edgeaudit.verify import verify_log
from tests.policy.helpers import ORIGIN, Evidence, full_grant, key_use, logon, run


def test_evaluate_and_record_end_to_end(db_url: str, tmp_path: Path, pol: Path) -> None:
    signer = generate(ORIGIN)
    verifiers = [Verifier.parse(signer.verifier_key)]
    with Store.open(db_url, upgrade=True) as store:
        log = store.log(ORIGIN, create=True)
        ev = Evidence(log)
        ev.add(
            full_grant(
                "g1",
                "ravi.k",
                "ravi.k",
                "fa-db-01",
                "2026-08-03T08:55:00Z",
                "2026-08-03T09:00:00Z",
                "2026-08-03T10:00:00Z",
            ),
            logon("2026-08-03T09:10:00Z", "ravi.k", "fa-db-01", account="ravi"),
            key_use("2026-08-03T10:00:00Z", "svc-media-b", "fintech-a-data"),
        )
        cp = log.sign_checkpoint(signer)
        size = log.size
        a = run(
            pol, log, verify=lambda: verify_log(log, verifiers), now=iso(epoch(cp.signed_at) + 60)
        )
        assert a.tree_size == size
        failing = {(r.rule, r.scope.principal) for r in a.failing()}
        assert ("jit-no-self-approval", "ravi.k") in failing
        assert ("key-tenant-use", "svc-media-b") in failing
        assert not [r for r in a.results if r.rule == "store-integrity" and r.status != "pass"]

        res = record(a, log)
        assert res.appended == len(a.results)
        assert res.first_index == size
        assert log.size == size + len(a.results)
        with log.reader() as reader:
            stored = [orjson.loads(body) for _, body, _, _ in reader.iter_entries(size)]
        assert [s["kind"] for s in stored] == ["policy.result"] * len(a.results)
        assert [s["result"]["id"] for s in stored] == [r.id for r in a.results]
        for s, r in zip(stored, a.results, strict=True):
            assert s["assessment"]["id"] == a.id
            assert s["assessment"]["policy_digest"] == a.policy_digest
            assert s["result"] == orjson.loads(orjson.dumps(r.to_dict()))
            assert s["outcome"] == {"pass": "success", "fail": "failure"}.get(r.status, "unknown")
            assert s["scope"] == ([r.scope.tenant] if r.scope.tenant else [])

        # recording the same assessment again adds nothing
        again = record(a, log)
        assert (again.appended, again.first_index) == (0, None)
        assert log.size == size + len(a.results)

        # the store still verifies, with a checkpoint over the recorded results
        log.sign_checkpoint(signer)
        report = verify_log(log, verifiers)
        assert report.ok, report.problems

        # a later assessment does not judge the recorded results as evidence of the period
        b = run(
            pol, log, verify=lambda: verify_log(log, verifiers), now=iso(epoch(cp.signed_at) + 120)
        )
        assert {r.id: r.status for r in b.results} == {r.id: r.status for r in a.results}
        assert record(b, log).appended == len(b.results)  # a new assessment is new evidence
