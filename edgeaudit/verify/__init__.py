"""Verification of evidence: the whole store, proofs and checkpoints.

Never imports signing code or private keys; ``tests/verify/test_imports.py`` checks that.
"""

from typing import TYPE_CHECKING, Any

from edgeaudit.verify.report import Problem, VerifyReport

if TYPE_CHECKING:
    from edgeaudit.verify.store import verify_log

__all__ = ["Problem", "VerifyReport", "verify_log"]


def __getattr__(name: str) -> Any:
    # Lazy: the store verifier needs the database layer; `edgeaudit.verify.pack` must not.
    if name == "verify_log":
        from edgeaudit.verify.store import verify_log

        return verify_log
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
