"""The one roll-up lattice: every combination of result statuses, and the exit codes."""

from __future__ import annotations

import itertools

import pytest

from edgeaudit.policy.statuses import (
    CONTROL_STATUSES,
    FAIL,
    NOT_EVALUATED,
    PASS,
    STALE,
    STATUSES,
    WAIVED,
    control_status,
    exit_code,
)


def _expected(statuses: set[str], supports_only: bool) -> str:
    # the rule as the README writes it, independently of the implementation's order of tests
    if FAIL in statuses:
        return "not-satisfied"
    if not statuses or NOT_EVALUATED in statuses or STALE in statuses:
        return "not-evaluated"
    word = "supported" if supports_only else "satisfied"
    return f"{word}-with-exceptions" if WAIVED in statuses else word


@pytest.mark.parametrize("supports_only", [False, True])
def test_every_combination_of_statuses(supports_only: bool) -> None:
    for n in range(len(STATUSES) + 1):
        for combo in itertools.combinations(STATUSES, n):
            got = control_status(combo, supports_only)
            assert got == _expected(set(combo), supports_only), combo
            assert got in CONTROL_STATUSES


def test_a_waived_result_never_leaves_a_plain_satisfied() -> None:
    assert control_status([PASS, PASS, WAIVED]) == "satisfied-with-exceptions"
    assert control_status([WAIVED], supports_only=True) == "supported-with-exceptions"
    assert control_status([PASS, WAIVED, STALE]) == "not-evaluated"
    assert control_status([PASS, WAIVED, FAIL]) == "not-satisfied"


@pytest.mark.parametrize(
    ("statuses", "plain", "strict"),
    [
        ([PASS], 0, 0),
        ([PASS, WAIVED], 0, 0),
        ([PASS, STALE], 0, 1),
        ([NOT_EVALUATED], 0, 1),
        ([PASS, FAIL], 1, 1),
        ([WAIVED, FAIL, STALE], 1, 1),
        ([], 0, 0),
    ],
)
def test_exit_codes(statuses: list[str], plain: int, strict: int) -> None:
    assert exit_code(statuses) == plain
    assert exit_code(statuses, strict=True) == strict
