"""Statuses and their roll-up: the one lattice every view uses (CLI tables and exit codes, JSON,
OSCAL, packs, the dashboard).

A result is ``pass``, ``fail``, ``not-evaluated``, ``waived`` or ``stale``. A control rolls up
the results mapped to it:

1. any ``fail`` -> ``not-satisfied``;
2. otherwise any ``not-evaluated`` or ``stale`` (or no result at all) -> ``not-evaluated``;
3. otherwise any ``waived`` -> ``satisfied-with-exceptions`` (``supported-with-exceptions``
   for controls automated evidence can only support);
4. otherwise ``satisfied`` (``supported``).

Pure: no imports beyond the standard library, so the light verifier and the pack reader can
use it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

PASS: Final = "pass"  # noqa: S105 (a status, not a password)
FAIL: Final = "fail"
NOT_EVALUATED: Final = "not-evaluated"
WAIVED: Final = "waived"
STALE: Final = "stale"
STATUSES: Final = (PASS, FAIL, NOT_EVALUATED, WAIVED, STALE)
# results an auditor calls findings: failing or waived (accepted exceptions)
FINDING_STATUSES: Final = frozenset({FAIL, WAIVED})

SATISFIED: Final = "satisfied"
SATISFIED_EXC: Final = "satisfied-with-exceptions"
SUPPORTED: Final = "supported"
SUPPORTED_EXC: Final = "supported-with-exceptions"
NOT_SATISFIED: Final = "not-satisfied"
CONTROL_NOT_EVALUATED: Final = "not-evaluated"
# display order, best first
CONTROL_STATUSES: Final = (
    SATISFIED,
    SATISFIED_EXC,
    SUPPORTED,
    SUPPORTED_EXC,
    NOT_SATISFIED,
    CONTROL_NOT_EVALUATED,
)


def control_status(statuses: Iterable[str], supports_only: bool = False) -> str:
    """The roll-up of a control's result statuses (see the module docstring)."""
    seen = set(statuses)
    if FAIL in seen:
        return NOT_SATISFIED
    if not seen or seen & {NOT_EVALUATED, STALE} or not seen <= {PASS, WAIVED}:
        return CONTROL_NOT_EVALUATED
    if WAIVED in seen:
        return SUPPORTED_EXC if supports_only else SATISFIED_EXC
    return SUPPORTED if supports_only else SATISFIED


def exit_code(statuses: Iterable[str], strict: bool = False) -> int:
    """``evaluate``'s exit code: 1 when a result fails (``strict``: also when one is not
    evaluated or stale); waived alone is 0."""
    bad = {FAIL, NOT_EVALUATED, STALE} if strict else {FAIL}
    return 1 if any(s in bad for s in statuses) else 0


def is_finding(status: str) -> bool:
    return status in FINDING_STATUSES


def findings(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The findings among results (``Result.to_dict`` shape): failing, then waived."""
    rs = list(results)
    return [r for r in rs if r.get("status") == FAIL] + [r for r in rs if r.get("status") == WAIVED]
