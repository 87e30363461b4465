"""Verifying a store while it is being appended to and signed reports no false tampering."""

from __future__ import annotations

import threading

from edgeaudit.events import prepare
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import Store
from edgeaudit.verify import verify_log

ORIGIN = "audit.example.net/test-log"


def _batch(start: int) -> list:
    return [
        prepare({"time": f"2026-11-20T08:00:{i % 60:02d}Z", "kind": "a.b", "n": i})
        for i in range(start, start + 50)
    ]


def test_verify_during_appends_and_signing(store: Store, signer) -> None:
    log = store.log(ORIGIN, create=True)
    log.append(_batch(0))
    log.sign_checkpoint(signer)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        n = 50
        try:
            while not stop.is_set() and n < 5000:
                log.append(_batch(n))
                n += 50
                if n % 200 == 0:
                    log.sign_checkpoint(signer)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        verifiers = [Verifier.parse(signer.verifier_key)]
        reports = [verify_log(log, verifiers) for _ in range(15)]
    finally:
        stop.set()
        t.join(30)
    assert not errors
    assert all(r.ok for r in reports), [p for r in reports for p in r.problems][:3]
    assert log.size > 50  # the writer appended during the test (a check that can fail)
    assert [r.tree_size for r in reports] == sorted(r.tree_size for r in reports)
    assert verify_log(log, verifiers).ok
