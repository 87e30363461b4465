"""``canonical_json_fast`` (the collector's entry point) is exactly ``canonical_json``: the same
bytes (hence RFC 8785's, which tests/test_canonical.py proves for ``canonical_json``) or the
same CanonicalError, on the fast set, on floats, on subclasses and non-JSON types, on keys at
or above U+E000 and on integers across the safe range. And real collector records take its
orjson path."""

from __future__ import annotations

import datetime
import math
import uuid
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from edgeaudit.canonical import _types_ok, canonical_json, canonical_json_fast
from edgeaudit.errors import CanonicalError
from tests.test_canonical import (
    FAST,
    MAX_SAFE,
    SLOW,
    Colour,
    Level,
    MyStr,
    Point,
    fast_set_values,
    float_values,
    guard_accepted_values,
    subclass_values,
)


def same_as_canonical_json(value: object) -> None:
    try:
        expected = canonical_json(value)
    except CanonicalError as exc:
        message = str(exc)
    else:
        message = None
    if message is not None:
        with pytest.raises(CanonicalError) as got:
            canonical_json_fast(value)
        assert str(got.value) == message
        return
    got_bytes = canonical_json_fast(value)
    assert type(got_bytes) is bytes
    assert got_bytes == expected


@FAST
@given(st.one_of(fast_set_values, guard_accepted_values))
def test_fast_set_is_identical(value: Any) -> None:
    same_as_canonical_json(value)
    same_as_canonical_json({"v": value})
    assert canonical_json_fast({"v": value}) == rfc8785.dumps({"v": value})


@SLOW
@given(st.one_of(float_values, subclass_values))
def test_floats_subclasses_and_tuples_are_identical(value: Any) -> None:
    same_as_canonical_json(value)
    same_as_canonical_json({"v": value, "w": [value]})


@FAST
@given(
    st.one_of(
        st.integers(-(2**54), 2**54),
        st.sampled_from([MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE, -MAX_SAFE - 1, 2**63, -(2**64)]),
    )
)
def test_integers_across_the_safe_range(number: int) -> None:
    # The type guard lets every int through; orjson's strict-integer mode must refuse the
    # unsafe ones so that the exact encoder reports them.
    assert _types_ok({"n": number}, 0)
    for value in ({"n": number}, {"a": [number]}):
        same_as_canonical_json(value)
    if abs(number) > MAX_SAFE:
        with pytest.raises(CanonicalError, match="outside"):
            canonical_json_fast({"n": number})


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # orjson and JCS order these keys differently
        {"a": {"\uffff": 1, "\U00010000": 2}},
        {"é": "\U0001f600", "z": 1},
        {"x": 1.0},
        {"x": -0.0},
        {"x": math.nan},
        {"x": (1, 2)},
        {"x": MyStr("s")},
        {MyStr("k"): 1},
        {"x": Colour.RED},
        {"x": Level.HIGH},
        {"x": uuid.UUID(int=7)},
        {"x": datetime.datetime(2026, 1, 1)},
        {"x": Point(1)},
        {1: "non-string key"},
        {"x": "\ud800"},  # a lone surrogate
        {"x": b"bytes"},
        {"x": {1, 2}},
        [1, 2],  # not an object: always the exact path's answer
        "text",
    ],
)
def test_values_off_the_fast_path(value: Any) -> None:
    same_as_canonical_json(value)


def test_deep_nesting_is_identical() -> None:
    deep: Any = "leaf"
    for _ in range(80):
        deep = {"k": deep}
    same_as_canonical_json(deep)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    same_as_canonical_json(cycle)


def test_a_collector_record_takes_the_orjson_path() -> None:
    record = {
        "time": "2026-11-01T02:30:00Z",
        "kind": "auth.logon",
        "class_uid": 3002,
        "scope": ["fintech-a"],
        "actor": {"user": "ravi", "resolved": True, "org": "operator"},
        "attrs": {"pid": 1000, "program": "sshd"},
    }
    assert _types_ok(record, 0)
    assert canonical_json_fast(record) == orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    assert canonical_json_fast(record) == rfc8785.dumps(record)
