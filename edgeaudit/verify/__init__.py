"""Verification of evidence: the whole store, proofs and checkpoints.

Never imports signing code or private keys; ``tests/verify/test_imports.py`` checks that.
"""

from edgeaudit.verify.report import Problem, VerifyReport
from edgeaudit.verify.store import verify_log

__all__ = ["Problem", "VerifyReport", "verify_log"]
