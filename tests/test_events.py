"""edgeaudit.events: RFC 3339 UTC times, validation of the indexed fields, dedupe keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.errors import CanonicalError, InputError
from edgeaudit.events import MAX_ENTRY_BYTES, PreparedEntry, parse_utc_time, prepare

T = "2026-11-20T08:07:02Z"


def ev(**fields: object) -> dict[str, object]:
    return {"time": T, "kind": "auth.logon", **fields}


# -- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("2026-11-20T08:07:02Z", "2026-11-20T08:07:02Z"),
        ("2026-11-20T08:07:02+00:00", "2026-11-20T08:07:02Z"),
        ("2026-11-20t08:07:02z", "2026-11-20T08:07:02Z"),
        ("2026-11-20T08:07:02z", "2026-11-20T08:07:02Z"),
        ("2026-11-20 08:07:02Z", "2026-11-20T08:07:02Z"),
        ("2026-11-20 08:07:02.5+00:00", "2026-11-20T08:07:02.5Z"),
        ("2026-11-20T08:07:02.120Z", "2026-11-20T08:07:02.120Z"),  # digits kept as written
        ("2026-11-20T08:07:02.000000000Z", "2026-11-20T08:07:02.000000000Z"),
        ("2026-11-20t08:07:02.123456789z", "2026-11-20T08:07:02.123456789Z"),
    ],
)
def test_time_is_normalized(given: str, normalized: str) -> None:
    text, _ = parse_utc_time(given)
    assert text == normalized
    entry = prepare(ev(time=given))
    assert entry.time == normalized
    assert json.loads(entry.body)["time"] == normalized


@pytest.mark.parametrize(
    "given",
    [
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1969-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "1900-03-01T12:00:00Z",
        "2000-02-29T23:59:59Z",
        "2024-02-29T00:00:00Z",
        "2026-11-20T08:07:02.999999999Z",
        "2038-01-19T03:14:08Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_epoch_seconds_match_datetime(given: str) -> None:
    moment = datetime.strptime(given[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    assert parse_utc_time(given)[1] == expected


def test_fraction_does_not_change_the_second() -> None:
    assert parse_utc_time("2026-11-20T08:07:02.999Z")[1] == parse_utc_time(T)[1]
    assert parse_utc_time("2026-11-20T08:07:03Z")[1] == parse_utc_time(T)[1] + 1


def test_leap_second_is_refused_clearly() -> None:
    with pytest.raises(InputError) as info:
        parse_utc_time("2016-12-31T23:59:60Z")
    message = str(info.value)
    assert "'time'" in message
    assert "2016-12-31T23:59:60Z" in message
    assert "leap second" in message


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("2026-11-20T09:07:02+01:00", "not UTC"),
        ("2026-11-20T03:07:02-05:00", "not UTC"),
        ("2026-11-20T08:07:02-00:00", "not UTC"),
        ("2026-11-20T08:07:02", "RFC 3339"),
        ("2026-11-20", "RFC 3339"),
        ("2026-11-20T08:07Z", "RFC 3339"),
        ("20261120T080702Z", "RFC 3339"),
        ("2026-11-20T08:07:02.Z", "RFC 3339"),
        ("2026-11-20T08:07:02.1234567890Z", "RFC 3339"),
        ("2026-11-20T08:07:02Z\n", "RFC 3339"),
        (" 2026-11-20T08:07:02Z", "RFC 3339"),
        ("2026-11-20T08:07:02+0000", "RFC 3339"),
        ("\u0662\u0660\u0662\u0666-11-20T08:07:02Z", "RFC 3339"),  # Arabic-Indic digits
        ("2026-11-20T08:07:02.\uff11Z", "RFC 3339"),  # a fullwidth digit
        ("2026-02-30T08:07:02Z", "2026-02-30"),
        ("2026-02-29T08:07:02Z", "2026-02-29"),
        ("1900-02-29T08:07:02Z", "1900-02-29"),
        ("2026-13-01T08:07:02Z", "2026-13-01"),
        ("2026-00-10T08:07:02Z", "2026-00-10"),
        ("2026-11-00T08:07:02Z", "2026-11-00"),
        ("0000-01-01T00:00:00Z", "0000-01-01"),
        ("2026-11-20T24:00:00Z", "24:00:00"),
        ("2026-11-20T08:60:00Z", "08:60:00"),
        ("2026-11-20T08:07:61Z", "08:07:61"),
    ],
)
def test_bad_times_are_refused_naming_the_field(given: str, says: str) -> None:
    with pytest.raises(InputError) as info:
        parse_utc_time(given)
    assert "'time'" in str(info.value)
    assert says in str(info.value)
    with pytest.raises(InputError, match="'time'"):
        prepare(ev(time=given))


@pytest.mark.parametrize("value", [None, 1795161602, 1795161602.5, True, ["2026"], {"t": T}])
def test_time_must_be_a_string(value: object) -> None:
    with pytest.raises(InputError, match="'time'"):
        prepare(ev(time=value))


def test_time_field_name_is_used_in_messages() -> None:
    with pytest.raises(InputError, match="'observed_at'"):
        parse_utc_time("yesterday", field="observed_at")


def test_missing_time() -> None:
    with pytest.raises(InputError, match="'time'"):
        prepare({"kind": "auth.logon"})


# -- the other fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["auth.logon", "a", "probe.result_2", "grant.jit-expire", "x.y.z"])
def test_good_kinds(kind: str) -> None:
    assert prepare(ev(kind=kind)).kind == kind


@pytest.mark.parametrize(
    "kind",
    [None, "", "Auth.logon", "auth..logon", ".auth", "auth.", "1auth", "auth logon", 7, "a" * 129],
)
def test_bad_kinds(kind: object) -> None:
    with pytest.raises(InputError, match="'kind'"):
        prepare(ev(kind=kind))


def test_missing_kind() -> None:
    with pytest.raises(InputError, match="'kind'"):
        prepare({"time": T})


@pytest.mark.parametrize("field", ["tenant", "source"])
@pytest.mark.parametrize(
    "value", ["fintech-a", "ops@example.net", "door:pod-1/main", "a.b_c", "A1", "x" * 128]
)
def test_good_tenant_and_source(field: str, value: str) -> None:
    entry = prepare(ev(**{field: value}))
    assert getattr(entry, field) == value


@pytest.mark.parametrize("field", ["tenant", "source"])
def test_tenant_and_source_are_optional_or_null(field: str) -> None:
    assert getattr(prepare(ev()), field) is None
    entry = prepare(ev(**{field: None}))
    assert getattr(entry, field) is None
    assert json.loads(entry.body)[field] is None  # kept in the entry as written


@pytest.mark.parametrize("field", ["tenant", "source"])
@pytest.mark.parametrize(
    "value", ["", " a", "a b", "-a", "_a", "a\n", "é", "x" * 129, 42, True, ["a"], {"a": "b"}]
)
def test_bad_tenant_and_source(field: str, value: object) -> None:
    with pytest.raises(InputError) as info:
        prepare(ev(**{field: value}))
    assert f"'{field}'" in str(info.value)


@pytest.mark.parametrize("event", [[], "auth.logon", None, 1, [ev()]])
def test_event_must_be_an_object(event: object) -> None:
    with pytest.raises(InputError, match="JSON object"):
        prepare(event)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"n": float("inf")}, "field n"),
        ({"n": float("nan")}, "field n"),
        ({"a": {"b": -float("inf")}}, "field a.b"),
        ({"a": {"b": 2**60}}, "field a.b"),
        ({"a": [1, 2**53]}, "field a[1]"),
        ({"a": {"b": -(2**53)}}, "field a.b"),
        ({"s": "\ud800"}, "field s"),
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, "field when"),
    ],
)
def test_values_without_a_canonical_form_are_refused_naming_the_field(
    extra: dict[str, object], field: str
) -> None:
    with pytest.raises(CanonicalError) as info:
        prepare(ev(**extra))
    assert field in str(info.value)
    assert "$" not in str(info.value)


def test_limits_of_exact_numbers() -> None:
    body = prepare(ev(a=2**53 - 1, b=-(2**53 - 1), c=0.1, d=1e21, e=-0.0)).body
    assert json.loads(body)["a"] == 2**53 - 1
    assert b'"c":0.1' in body
    assert b'"d":1e+21' in body
    assert b'"e":0,' in body


# -- the prepared entry --------------------------------------------------------------------------


def test_prepared_entry_fields() -> None:
    event = {"tenant": "media-b", "time": "2026-11-20t08:07:02.50z", "kind": "key.use", "k": [1]}
    original = dict(event)
    entry = prepare(event, fingerprint="kms:42")
    assert isinstance(entry, PreparedEntry)
    normalized = {**event, "time": "2026-11-20T08:07:02.50Z"}
    assert entry.body == canonical_json(normalized)
    assert entry.body.startswith(b'{"k":[1],"kind":"key.use","tenant":"media-b","time":')
    assert entry.leaf_hash == leaf_hash(entry.body)
    assert (entry.time, entry.kind, entry.tenant, entry.source) == (
        "2026-11-20T08:07:02.50Z",
        "key.use",
        "media-b",
        None,
    )
    assert event == original  # the caller's dict is not changed
    with pytest.raises(AttributeError):
        entry.kind = "other"  # type: ignore[misc]


def test_entry_size_limit() -> None:
    base = len(prepare(ev(pad="")).body)
    at_limit = prepare(ev(pad="a" * (MAX_ENTRY_BYTES - base)))
    assert len(at_limit.body) == MAX_ENTRY_BYTES
    with pytest.raises(InputError) as info:
        prepare(ev(pad="a" * (MAX_ENTRY_BYTES - base + 1)))
    assert str(MAX_ENTRY_BYTES) in str(info.value)
    assert str(MAX_ENTRY_BYTES + 1) in str(info.value)


# -- dedupe keys -----------------------------------------------------------------------------------


def test_same_time_and_fingerprint_are_one_entry() -> None:
    a = prepare(ev(msg="first delivery"), fingerprint="syslog:host1:1234")
    b = prepare(ev(msg="re-delivered, reformatted"), fingerprint="syslog:host1:1234")
    assert a.body != b.body
    assert a.fp_key == b.fp_key


def test_fingerprint_key_depends_on_time_and_fingerprint() -> None:
    a = prepare(ev(), fingerprint="src:1")
    assert prepare(ev(time="2026-11-20T08:07:03Z"), fingerprint="src:1").fp_key != a.fp_key
    assert prepare(ev(), fingerprint="src:2").fp_key != a.fp_key
    assert prepare(ev(), fingerprint=None).fp_key != a.fp_key
    # Same second, other fraction: the key has second resolution plus the fingerprint.
    same_second = prepare(ev(time="2026-11-20T08:07:02.5Z"), fingerprint="src:1")
    assert same_second.fp_key == a.fp_key


def test_without_fingerprint_the_content_is_the_key() -> None:
    a = prepare(ev(user="alice"))
    assert prepare(ev(user="alice")).fp_key == a.fp_key
    assert prepare({"user": "alice", "kind": "auth.logon", "time": T}).fp_key == a.fp_key
    assert prepare(ev(user="alice", time="2026-11-20 08:07:02+00:00")).fp_key == a.fp_key
    assert prepare(ev(user="bob")).fp_key != a.fp_key
    assert prepare(ev(user="alice", time="2026-11-20T08:07:02.0Z")).fp_key != a.fp_key


def test_fingerprint_keys_sort_by_time() -> None:
    times = ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", T]
    prefixes = [prepare(ev(time=t), fingerprint="x").fp_key[:8] for t in times]
    assert prefixes == sorted(prefixes)
    assert len(set(prefixes)) == len(prefixes)
    assert all(len(prepare(ev(time=t)).fp_key) == 40 for t in times)


def test_every_entry_fits_a_tile_entry_bundle() -> None:
    """An entry the store accepts can be published in a C2SP entry bundle (uint16 lengths)."""
    from edgeaudit.merkle.c2sp import MAX_BUNDLE_ENTRY, bundle

    assert MAX_ENTRY_BYTES == MAX_BUNDLE_ENTRY == 65_535
    base = len(prepare(ev(pad="")).body)
    largest = prepare(ev(pad="a" * (MAX_ENTRY_BYTES - base))).body
    assert bundle([largest])[:2] == (65_535).to_bytes(2, "big")
