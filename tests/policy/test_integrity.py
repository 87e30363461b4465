"""The evidence itself: store verification and checkpoint freshness; completeness."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import text

from edgeaudit.note.signer import generate
from edgeaudit.note.verifier import Verifier
from edgeaudit.policy.context import epoch, iso
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS
from edgeaudit.store import Store
from edgeaudit.store.triggers import create_append_only_triggers, drop_append_only_triggers
from edgeaudit.store.values import QuarantineRecord
from edgeaudit.verify import verify_log
from tests.policy.helpers import ORIGIN, Evidence, event, logon, of, run, set_rule_params, the


def _verify(ev: Evidence, signer):  # type: ignore[no-untyped-def]
    return lambda: verify_log(ev.log, [Verifier.parse(signer.verifier_key)])


def _after(signed_at: str, hours: float) -> str:
    return iso(epoch(signed_at) + hours * 3600)


def test_store_verifies_with_a_fresh_covering_checkpoint(ev: Evidence, pol: Path) -> None:
    signer = generate(ORIGIN)
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))
    cp = ev.log.sign_checkpoint(signer)
    a = run(pol, ev.log, verify=_verify(ev, signer), now=_after(cp.signed_at, 1))
    r = the(a, "store-integrity")
    assert r.status == PASS, r.reason
    assert f"size {cp.tree_size}" in r.reason


def test_no_verifier_is_not_evaluated(ev: Evidence, pol: Path) -> None:
    assert the(run(pol, ev.log), "store-integrity").status == NOT_EVALUATED


def test_missing_checkpoint_fails(ev: Evidence, pol: Path) -> None:
    signer = generate(ORIGIN)
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))
    r = the(run(pol, ev.log, verify=_verify(ev, signer)), "store-integrity")
    assert r.status == FAIL
    assert "no checkpoint" in r.reason


def test_old_checkpoint_fails(ev: Evidence, pol: Path) -> None:
    signer = generate(ORIGIN)
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))
    cp = ev.log.sign_checkpoint(signer)
    r = the(
        run(pol, ev.log, verify=_verify(ev, signer), now=_after(cp.signed_at, 25)),
        "store-integrity",
    )
    assert r.status == FAIL
    assert "max 24 h" in r.reason


def test_checkpoint_not_covering_the_period_fails(ev: Evidence, pol: Path) -> None:
    signer = generate(ORIGIN)
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))
    cp = ev.log.sign_checkpoint(signer)
    ev.add(logon("2026-09-03T10:00:00Z", "lena.f", "fa-web-01"))  # in the period, after signing
    r = the(
        run(pol, ev.log, verify=_verify(ev, signer), now=_after(cp.signed_at, 1)), "store-integrity"
    )
    assert r.status == FAIL
    assert "does not cover" in r.reason


def test_tampered_store_fails(ev: Evidence, pol: Path, sqlite_store: Store) -> None:
    signer = generate(ORIGIN)
    ev.add(
        logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"),
        logon("2026-08-03T11:00:00Z", "ravi.k", "fa-db-01"),
    )
    cp = ev.log.sign_checkpoint(signer)
    with sqlite_store.engine.begin() as conn:
        drop_append_only_triggers(conn)
        body = conn.execute(
            text("SELECT body FROM entries WHERE log_id = :l AND idx = 1"), {"l": ev.log.log_id}
        ).scalar_one()
        forged = bytes(body).replace(b"ravi.k", b"lena.f")
        assert forged != bytes(body)
        conn.execute(
            text("UPDATE entries SET body = :b WHERE log_id = :l AND idx = 1"),
            {"b": forged, "l": ev.log.log_id},
        )
        create_append_only_triggers(conn)
    r = the(
        run(pol, ev.log, verify=_verify(ev, signer), now=_after(cp.signed_at, 1)), "store-integrity"
    )
    assert r.status == FAIL
    assert "store verification found" in r.reason


def _quarantine(source_kind: str, reason: str, n: int = 1) -> list[QuarantineRecord]:
    out = []
    for i in range(n):
        raw = f"{source_kind}:{reason}:{i}".encode()
        out.append(
            QuarantineRecord(
                source_kind, "host-1", f"f.log:{i}", reason, raw, hashlib.sha256(raw).hexdigest()
            )
        )
    return out


def test_quarantine_counts_fail_completeness(ev: Evidence, pol: Path) -> None:
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))  # source syslog
    ev.log.append([], quarantine=_quarantine("syslog", "unparseable line", 2))
    a = run(pol, ev.log)
    r = the(a, "collection-completeness", subject="source:syslog")
    assert r.status == FAIL
    assert "2 records quarantined (limit 0): unparseable line" in r.reason
    # tolerated up to the limit
    set_rule_params(pol / "rules.yaml", "collection-completeness", "{max_quarantined: 2}")
    assert the(run(pol, ev.log), "collection-completeness", subject="source:syslog").status == PASS


def test_source_gap_fails_completeness(ev: Evidence, pol: Path) -> None:
    ev.add(logon("2026-08-03T10:00:00Z", "lena.f", "fa-web-01"))
    gap = ev.one(
        event(
            "audit.pipeline",
            "2026-08-04T00:00:00Z",
            outcome="failure",
            source="syslog",
            attrs={"reason": "journal rotated before it was read"},
        )
    )
    r = the(run(pol, ev.log), "collection-completeness", subject="source:syslog")
    assert r.status == FAIL
    assert "1 gap reported" in r.reason
    assert [e.index for e in r.evidence] == [gap]


def test_forged_identity_quarantine_fails(ev: Evidence, pol: Path) -> None:
    ev.log.append([], quarantine=_quarantine("journald", "forged _COMM identity"))
    a = run(pol, ev.log)
    assert the(a, "forged-source-identity", subject="source:journald").status == FAIL
    assert not of(a, "forged-source-identity", subject="sources")
