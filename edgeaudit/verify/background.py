"""A whole-store verification run in another process while the caller does other work.

The policy engine's store-integrity rule needs a full verification (every entry re-hashed):
on a 1 M-entry store that is a quarter of an evaluation. Started here at the beginning of an
evaluation, it runs on the second core beside the checks; the rule then waits for its report.
The child opens its own connection (SQLite and PostgreSQL both allow concurrent readers) and
verifies one snapshot exactly as ``edgeaudit verify`` does. Nothing is trusted from the child
but its report: it runs this module's code on the same store with the same verifier keys.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from edgeaudit.verify.report import VerifyReport


def _run(db_url: str, origin: str, keys: Sequence[str]) -> VerifyReport:
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.store import Store
    from edgeaudit.verify.store import verify_log

    with Store.open(db_url) as store:
        return verify_log(store.log(origin), [Verifier.parse(k) for k in keys])


class BackgroundVerify:
    """``start`` now, ``__call__`` for the report (raises what the verification raised)."""

    def __init__(self, db_url: str, origin: str, keys: Sequence[str]) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._future = self._pool.submit(_run, db_url, origin, list(keys))

    def __call__(self) -> VerifyReport:
        try:
            return self._future.result()
        finally:
            self._pool.shutdown(wait=True)

    def close(self) -> None:
        """Let the worker finish and release it. It is never killed: a reader interrupted
        while SQLite recovers its write-ahead log could leave the shared-memory index for others
        to trip over, and a verification only reads."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class BackgroundVerifyLogs:
    """Several logs of one store verified one after another in one other process (a campus
    assessment: the central log and each mirrored pod's, each with its own keys);
    :meth:`report` waits for one log's report."""

    def __init__(self, db_url: str, logs: Sequence[tuple[str, Sequence[str]]]) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._futures = {
            origin: self._pool.submit(_run, db_url, origin, list(keys)) for origin, keys in logs
        }

    def report(self, origin: str) -> VerifyReport:
        return self._futures[origin].result()

    def close(self) -> None:
        """As :meth:`BackgroundVerify.close`: the worker finishes, it is never killed."""
        self._pool.shutdown(wait=True, cancel_futures=True)
