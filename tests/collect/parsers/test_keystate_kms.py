"""KmsRotationParser: `aws kms get-key-rotation-status` / `list-key-rotations` output."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers.keystate import KmsRotationParser
from edgeaudit.events import prepare
from tests.collect.parsers.harness import mutated_document

from .harness import inventory, run

FA_KEY = "arn:aws:kms:ap-south-1:111122223333:key/1b2c3d4e-0000-4000-8000-00000000000a"
AC_KEY = "arn:aws:kms:ap-south-1:444455556666:key/1b2c3d4e-0000-4000-8000-00000000000c"
INV = inventory()
STATUS = {
    "KeyRotationEnabled": True,
    "KeyId": FA_KEY,
    "RotationPeriodInDays": 365,
    "NextRotationDate": "2027-03-02T10:11:36.564000+00:00",
}
ROTATIONS = {
    "Rotations": [
        {
            "KeyId": FA_KEY,
            "RotationDate": "2026-03-02T10:11:36.564000+00:00",
            "RotationType": "AUTOMATIC",
        },
        {"KeyId": FA_KEY, "RotationDate": "2026-06-10T16:00:00+05:30", "RotationType": "ON_DEMAND"},
        {"KeyId": FA_KEY, "RotationDate": "2025-03-02T10:11:36+00:00", "RotationType": "AUTOMATIC"},
    ],
    "Truncated": False,
}


def ctx(**options: str) -> ParseContext:
    return ParseContext("aws-kms-ap-south-1", INV, options=options)


def parse(doc: object, context: ParseContext | None = None, raw: bytes | None = None):
    data = json.dumps(doc, indent=2).encode() if raw is None else raw
    return run(KmsRotationParser(), data, context or ctx(), "rotation.json")


def attrs(event: Event) -> dict[str, object]:
    return dict(event.attrs)


def test_status_and_rotations_merged_in_one_object() -> None:
    data = json.dumps(STATUS | ROTATIONS).encode()
    [e], quarantined, _ = parse(None, ctx(observed_at="2026-11-22T10:00:00Z"), data)
    assert quarantined == []
    assert (e.kind, e.time, e.time_text, e.outcome) == (
        "key.state",
        "2026-11-22T10:00:00Z",
        "2026-11-22T10:00:00Z",
        "success",
    )
    assert (e.key.key, e.key.resolved, e.key.owner, e.key.provider) == (
        "fintech-a-kms",
        True,
        "fintech-a",
        "aws-kms",
    )
    assert e.scope == ("fintech-a",)
    assert attrs(e) == {
        "rotation_enabled": True,
        "rotation_period_days": 365,
        # +05:30 converted: 10:30Z is later than the March rotation
        "last_rotation": "2026-06-10T10:30:00Z",
        "last_rotation_type": "ON_DEMAND",
        "next_rotation": "2027-03-02T10:11:36.564Z",
        "rotation_count": 3,
    }
    assert e.provenance.native_id == FA_KEY
    assert e.provenance.raw_sha256 == hashlib.sha256(data).hexdigest()
    prepare(e.to_record(), fingerprint=e.fingerprint())


def test_status_only_needs_observed_at() -> None:
    events, [q], _ = parse(STATUS)
    assert events == []
    assert q.reason == f"key {FA_KEY}: no observation time: pass --option observed_at=..."
    [e], _, _ = parse(STATUS, ctx(observed_at="2026-11-22T15:30:00+05:30"))
    assert e.time == "2026-11-22T10:00:00Z"
    assert attrs(e)["last_rotation"] is None
    assert attrs(e)["rotation_count"] == 0


def test_rotations_only_takes_time_from_latest_rotation() -> None:
    [e], quarantined, _ = parse(ROTATIONS)
    assert quarantined == []
    assert (e.time, e.time_text) == ("2026-06-10T10:30:00Z", "2026-06-10T16:00:00+05:30")
    assert attrs(e)["rotation_enabled"] is None  # list-key-rotations does not say


def test_concatenated_documents_and_epoch_dates() -> None:
    status = {"KeyRotationEnabled": False, "KeyId": AC_KEY}
    rotations = {"Rotations": [{"KeyId": AC_KEY, "RotationDate": 1767225600.5}], "Truncated": True}
    raw = (json.dumps(status) + "\n" + json.dumps(rotations) + "\n").encode()
    [e], quarantined, _ = parse(None, raw=raw)
    assert quarantined == []
    assert (e.key.key, e.scope) == ("ai-c-kms", ("ai-c",))
    assert e.time == "2026-01-01T00:00:00.5Z"
    assert attrs(e)["rotation_enabled"] is False
    assert attrs(e)["rotations_truncated"] is True


def test_array_of_documents_for_two_keys_gives_two_events() -> None:
    other = {"KeyRotationEnabled": True, "KeyId": AC_KEY, "RotationPeriodInDays": 90}
    unknown = {"KeyRotationEnabled": True, "KeyId": "arn:aws:kms:eu-west-1:1:key/x"}
    events, quarantined, _ = parse(
        [STATUS, other, unknown], ctx(observed_at="2026-11-22T00:00:00Z")
    )
    assert quarantined == []
    assert [(e.key.key, e.key.resolved) for e in events] == [
        ("fintech-a-kms", True),
        ("ai-c-kms", True),
        ("arn:aws:kms:eu-west-1:1:key/x", False),
    ]
    assert events[2].scope == ()
    assert len({e.fingerprint() for e in events}) == 3


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ("not json at all", "not valid JSON"),
        ([1, 2], "expected JSON objects, found a JSON int"),
        ({"KeyRotationEnabled": True}, "a document without a KeyId"),
        ({"KeyId": FA_KEY, "Rotations": [{"KeyId": AC_KEY}]}, "one document names several keys"),
        ({"Rotations": "none"}, "Rotations must be a list of objects"),
        ([STATUS, STATUS | {"KeyRotationEnabled": False}], "conflicting KeyRotationEnabled"),
        ("", "no JSON document in the file"),
    ],
)
def test_unreadable_files_are_quarantined_whole(doc: object, reason: str) -> None:
    raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    events, [q], _ = parse(None, raw=raw)
    assert events == []
    assert q.reason.startswith(reason)
    assert q.raw == raw
    assert q.location == "rotation.json"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"KeyRotationEnabled": "yes"}, "KeyRotationEnabled must be true or false"),
        ({"RotationPeriodInDays": 365.5}, "RotationPeriodInDays must be an integer"),
        ({"NextRotationDate": "next tuesday"}, "NextRotationDate 'next tuesday' is not an ISO"),
        (
            {"NextRotationDate": "2027-03-02T10:11:36"},
            "NextRotationDate '2027-03-02T10:11:36' has no",
        ),
    ],
)
def test_bad_fields_quarantine_the_key(change: dict[str, object], reason: str) -> None:
    events, [q], _ = parse(STATUS | change, ctx(observed_at="2026-11-22T00:00:00Z"))
    assert events == []
    assert q.reason.startswith(f"key {FA_KEY}: {reason}")


def test_bad_observed_at_is_quarantined() -> None:
    _, [q], _ = parse(STATUS, ctx(observed_at="yesterday"))
    assert q.reason == f"key {FA_KEY}: option observed_at 'yesterday' is not an ISO 8601 date"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
FIELD = st.sampled_from(
    [
        "KeyId",
        "KeyRotationEnabled",
        "RotationPeriodInDays",
        "NextRotationDate",
        "Rotations",
        "Truncated",
        "RotationDate",
        "OnDemandRotationStartDate",
    ]
)


def _check(data: bytes, context: ParseContext) -> None:
    events, quarantined, _ = run(KmsRotationParser(), data, context, "fuzz")
    assert events or quarantined
    for e in events:
        assert e.kind == "key.state"
        prepare(e.to_record(), fingerprint=e.fingerprint())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(data, ctx())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_real_document(data: st.DataObject) -> None:
    blob = data.draw(mutated_document(json.dumps(STATUS | ROTATIONS).encode()))
    _check(blob, ctx(observed_at="2026-11-22T00:00:00Z"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(FIELD, JSONISH | st.sampled_from([FA_KEY, "2026-01-01T00:00:00Z", 1.7e9])),
    st.lists(st.dictionaries(FIELD, JSONISH | st.just(FA_KEY)), max_size=3),
    st.sampled_from([None, "2026-11-22T00:00:00Z", "bad"]),
)
def test_fuzz_structured_documents(
    status: dict[str, object], rotations: list[dict[str, object]], observed: str | None
) -> None:
    doc = dict(status)
    if rotations:
        doc["Rotations"] = rotations
    _check(json.dumps(doc).encode(), ctx(observed_at=observed) if observed else ctx())
