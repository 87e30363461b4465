"""VaultKeyStateParser: `vault read -format=json transit/keys/<name>` documents."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext
from edgeaudit.collect.model import Event
from edgeaudit.collect.parsers.keystate import VaultKeyStateParser
from tests.collect.parsers.harness import inventory, mutate, run

DATA = Path(__file__).resolve().parents[1] / "data" / "vault"
CTX = ParseContext(source="vault-1", inventory=inventory())


def parse(name: str, ctx: ParseContext = CTX):
    return run(VaultKeyStateParser(), (DATA / name).read_bytes(), ctx, name)


def attrs(event: Event) -> dict:
    return dict(event.attrs)


def test_symmetric_key() -> None:
    events, quarantined, resumes = parse("keystate_symmetric.json")
    assert not quarantined
    assert resumes == []
    (e,) = events
    assert e.kind == "key.state"
    assert e.outcome == "success"
    assert e.time == "2024-12-20T00:00:00Z"  # latest version's creation: no observed_at given
    assert e.time_text == "1734652800"
    assert e.key is not None
    assert (e.key.key, e.key.provider, e.key.owner, e.key.version) == (
        "fintech-a-data",
        "vault-transit",
        "fintech-a",
        3,
    )
    assert e.key.resolved
    assert e.scope == ("fintech-a",)
    assert e.provenance.native_id == "9a1c-read"
    assert e.provenance.location == "keystate_symmetric.json"
    assert e.provenance.source_kind == "vault-keystate"
    a = attrs(e)
    assert a["latest_version"] == 3
    assert a["latest_version_created"] == "2024-12-20T00:00:00Z"
    assert a["versions"] == {
        "1": "2024-11-01T00:00:00Z",
        "2": "2024-11-20T00:00:00Z",
        "3": "2024-12-20T00:00:00Z",
    }
    assert a["min_decryption_version"] == 2
    assert a["auto_rotate_period_s"] == 2592000
    assert a["type"] == "aes256-gcm96"
    assert a["exportable"] is False
    assert "min_encryption_version" in a


def test_observed_at_sets_the_event_time() -> None:
    ctx = ParseContext(
        source="vault-1",
        inventory=inventory(),
        options={"observed_at": "2026-11-22T08:00:00+05:30"},
    )
    (e,), _, _ = parse("keystate_symmetric.json", ctx)
    assert e.time == "2026-11-22T02:30:00Z"
    assert e.time_text == "2026-11-22T08:00:00+05:30"
    assert attrs(e)["latest_version_created"] == "2024-12-20T00:00:00Z"


def test_bad_observed_at_is_quarantined() -> None:
    ctx = ParseContext(source="v", inventory=inventory(), options={"observed_at": "now"})
    events, quarantined, _ = parse("keystate_symmetric.json", ctx)
    assert events == []
    assert quarantined[0].reason == "option observed_at 'now' is not an RFC 3339 time"


def test_asymmetric_key_creation_times() -> None:
    (e,), _, _ = parse("keystate_asymmetric.json")
    assert attrs(e)["versions"] == {
        "1": "2026-01-10T02:30:00.123456789Z",
        "2": "2026-06-10T08:00:00Z",
    }
    assert e.time == "2026-06-10T08:00:00Z"
    assert e.key is not None
    assert e.key.owner == "ai-c"


def test_trimmed_versions_and_mount_option() -> None:
    ctx = ParseContext(source="v", inventory=inventory(), options={"mount": "/transit/"})
    (e,), _, _ = parse("keystate_trimmed.json", ctx)
    assert sorted(attrs(e)["versions"]) == ["4", "5"]
    assert e.key is not None
    assert (e.key.key, e.key.version) == ("media-b-data", 5)
    other = ParseContext(source="v", inventory=inventory(), options={"mount": "tenants/mb"})
    (e,), _, _ = parse("keystate_trimmed.json", other)
    assert e.key is not None
    assert e.key.key == "tenants/mb/media-b-data"
    assert not e.key.resolved
    assert e.scope == ()


def test_bare_data_object_without_latest_version() -> None:
    (e,), _, _ = parse("keystate_bare_data.json")
    assert e.key is not None
    assert e.key.version == 3  # the highest listed version
    assert not e.key.resolved
    assert e.provenance.native_id is None


def test_malformed_documents_are_quarantined() -> None:
    expected = {
        "keystate_latest_missing.json": "latest_version 7 has no creation time in 'keys'",
        "keystate_bad_creation_time.json": (
            "key version 2: creation time 'last tuesday' is not Unix or RFC 3339"
        ),
        "keystate_bad_version.json": "key version 'v1' is not a positive integer",
    }
    for name, reason in expected.items():
        events, quarantined, _ = parse(name)
        assert events == []
        assert [q.reason for q in quarantined] == [reason]
        assert quarantined[0].raw == (DATA / name).read_bytes()
    _, quarantined, _ = parse("keystate_truncated.json")
    assert quarantined[0].reason.startswith("not valid JSON")


def test_other_shapes_are_quarantined() -> None:
    cases = {
        b"": "empty input: no JSON document",
        b"[]": "not a JSON object (a JSON list)",
        b'{"data": {"keys": {"1": 1}}}': "no key 'name' in data",
        b'{"warnings": null}': "no 'data' object (expected the output of vault read -format=json)",
        b'{"data": {"name": "k", "keys": {}}}': (
            "'keys' must be a non-empty object of version: creation time"
        ),
        b'{"data": {"name": "k", "keys": {"1": true}}}': (
            "key version 1: creation time True is not Unix or RFC 3339"
        ),
        b'{"data": {"name": "k", "keys": {"0": 1}}}': "key version '0' is not a positive integer",
        b'{"data": {"name": "k", "latest_version": "1", "keys": {"1": 1}}}': (
            "latest_version '1' is not a positive integer"
        ),
    }
    for data, reason in cases.items():
        events, quarantined, _ = run(VaultKeyStateParser(), data, CTX)
        assert events == []
        assert [q.reason for q in quarantined] == [reason], data


def test_utf8_bom_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + (DATA / "keystate_symmetric.json").read_bytes()
    events, _, _ = run(VaultKeyStateParser(), data, CTX)
    assert len(events) == 1


def _one_output(data: bytes) -> None:
    events, quarantined, _ = run(VaultKeyStateParser(), data, CTX)
    assert len(events) + len(quarantined) == 1
    for e in events:
        e.to_record()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    _one_output(data)


SAMPLE = (DATA / "keystate_symmetric.json").read_bytes()
ASYM = (DATA / "keystate_asymmetric.json").read_bytes()


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([SAMPLE, ASYM]),
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=1, max_value=255),
    st.sampled_from(["truncate", "flip", "insert"]),
    st.binary(min_size=1, max_size=8),
)
def test_fuzz_mutated_documents(doc: bytes, pos: int, byte: int, how: str, junk: bytes) -> None:
    _one_output(mutate(doc, pos, byte, how, junk))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=4),
        st.one_of(
            st.integers(min_value=-(2**70), max_value=2**70),
            st.floats(allow_nan=False),
            st.text(max_size=40),
            st.none(),
            st.booleans(),
            st.fixed_dictionaries({"creation_time": st.text(max_size=40)}),
        ),
        max_size=4,
    ),
    st.one_of(st.none(), st.integers(min_value=-3, max_value=5), st.text(max_size=3)),
)
def test_fuzz_structured_keys(keys: dict, latest: object) -> None:
    doc = {"data": {"name": "fintech-a-data", "keys": keys}}
    if latest is not None:
        doc["data"]["latest_version"] = latest
    try:
        data = json.dumps(doc).encode()
    except ValueError:
        return
    _one_output(data)
