"""CloudTrailParser: KMS events from CloudTrail files (fixtures in data/cloudtrail)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import ParseContext, RawRecord, Skipped
from edgeaudit.collect.inventory import load_inventory
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.cloudtrail import CloudTrailParser
from edgeaudit.events import prepare
from tests.collect.parsers.harness import mutated_document

from .harness import inventory, run

DATA = Path(__file__).resolve().parents[1] / "data" / "cloudtrail"
FA_KEY = "arn:aws:kms:ap-south-1:111122223333:key/1b2c3d4e-0000-4000-8000-00000000000a"
FA_ROLE = "arn:aws:iam::111122223333:role/fintech-a-app"
FA_SESSION = "arn:aws:sts::111122223333:assumed-role/fintech-a-app/i-0abc123"
CTX = ParseContext("trail-blr", inventory())


def parse(name: str, data: bytes | None = None):
    raw = (DATA / name).read_bytes() if data is None else data
    return run(CloudTrailParser(), raw, CTX, name)


def attrs(event: Event) -> dict[str, object]:
    return dict(event.attrs)


def test_assumed_role_decrypt_resolves_issuer_and_key_from_resources_arn() -> None:
    events, quarantined, _ = parse("assumed_role_decrypt.json")
    assert quarantined == []
    [e] = events
    assert (e.kind, e.time, e.time_text, e.outcome) == (
        "key.use",
        "2026-11-22T10:15:00Z",
        "2026-11-22T10:15:00Z",
        "success",
    )
    # the session role resolves through its issuer; the session ARN is the credential
    assert (e.actor.user, e.actor.principal, e.actor.tenant) == (
        FA_ROLE,
        "svc-fintech-a",
        "fintech-a",
    )
    assert e.actor.credential == FA_SESSION
    assert e.actor.src_ip == "10.10.0.11"
    # requestParameters.keyId says alias/something-else: the resources ARN wins
    assert (e.key.key, e.key.resolved, e.key.owner, e.key.operation) == (
        "fintech-a-kms",
        True,
        "fintech-a",
        "decrypt",
    )
    assert e.scope == ("fintech-a",)
    assert e.provenance.native_id == "e-decrypt-1"
    assert e.provenance.location == "assumed_role_decrypt.json#Records[0]"
    record = json.loads((DATA / "assumed_role_decrypt.json").read_bytes())["Records"][0]
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    assert e.provenance.raw_sha256 == hashlib.sha256(canonical).hexdigest()
    assert attrs(e)["api"] == "Decrypt"


def test_duplicates_emitted_once_in_file_order_with_subsecond_time() -> None:
    events, quarantined, _ = parse("duplicates_unordered.json")
    assert quarantined == []
    assert [(e.provenance.native_id, e.key.operation) for e in events] == [
        ("e-gdk-1", "datakey"),
        ("e-enc-1", "encrypt"),
    ]
    assert events[0].time == "2026-11-22T10:20:00.123Z"
    assert len({e.fingerprint() for e in events}) == 2


def test_service_rotation_has_no_human_actor() -> None:
    events, quarantined, _ = parse("service_rotation.json")
    assert quarantined == []
    auto, on_demand = events
    assert (auto.kind, auto.key.key, auto.key.operation) == ("key.rotate", "ai-c-kms", "rotate")
    assert auto.actor.user == "kms.amazonaws.com"
    assert not auto.actor.resolved
    assert auto.actor.src_ip is None  # "kms.amazonaws.com" is not an address
    assert attrs(auto)["source_host"] == "kms.amazonaws.com"
    assert attrs(auto)["service_event"] is True
    assert attrs(auto)["rotation_type"] == "automatic"
    assert auto.scope == ("ai-c",)
    assert on_demand.kind == "key.rotate"
    assert attrs(on_demand)["rotation_type"] == "on-demand"
    assert on_demand.actor.user == "arn:aws:iam::444455556666:user/keyadmin"
    assert not on_demand.actor.resolved


def test_grants_and_configuration_changes() -> None:
    events, quarantined, _ = parse("grant_and_config.json")
    assert quarantined == []
    assert [(e.kind, e.key.operation) for e in events] == [
        ("key.config", "create-grant"),
        ("key.config", "revoke-grant"),
        ("key.config", "disable-rotation"),
        ("key.config", "put-policy"),
        ("key.config", "schedule-deletion"),
    ]
    create, revoke, _, policy, deletion = events
    assert attrs(create)["grant_id"] == "g-0123456789abcdef"
    assert attrs(create)["grantee_principal"] == "arn:aws:iam::444455556666:role/ai-c-trainer"
    assert attrs(create)["grant_operations"] == ["Decrypt", "GenerateDataKey"]
    assert attrs(revoke)["grant_id"] == "g-0123456789abcdef"
    assert attrs(policy)["policy_name"] == "default"
    assert len(attrs(policy)["policy_sha256"]) == 64
    assert "policy" not in attrs(policy)
    assert attrs(deletion)["pending_window_days"] == 7
    assert all(e.scope == ("fintech-a",) for e in events)


def test_access_denied_with_keyid_only_and_failure_without_any_key() -> None:
    events, quarantined, _ = parse("access_denied_keyid_only.json")
    assert quarantined == []
    denied, no_key = events
    assert denied.outcome == "failure"
    assert attrs(denied)["error_code"] == "AccessDeniedException"
    assert attrs(denied)["error_message"].startswith("User is not authorized")
    # no resources: requestParameters.keyId (an alias) is the key identity
    assert (denied.key.key, denied.key.owner) == ("fintech-a-kms", "fintech-a")
    assert denied.actor.principal == "svc-ai-c"
    assert denied.scope == ("ai-c", "fintech-a")  # a cross-tenant attempt: both may see it
    assert no_key.outcome == "failure"
    assert no_key.key is None
    assert no_key.scope == ("fintech-a",)


def test_reencrypt_names_both_keys_and_both_tenants() -> None:
    [e], quarantined, _ = parse("reencrypt_two_keys.json")
    assert quarantined == []
    assert (e.key.key, e.key.operation) == ("fintech-a-kms", "rewrap")
    assert attrs(e)["other_keys"] == ["ai-c-kms"]
    assert e.scope == ("ai-c", "fintech-a")


def test_non_kms_and_read_only_calls_are_skipped_unknown_key_kept() -> None:
    events, quarantined, _ = parse("skipped_non_kms_and_readonly.json")
    assert quarantined == []
    [sign] = events
    assert sign.provenance.native_id == "e-sign"
    assert not sign.key.resolved
    assert sign.key.key.endswith("000000000099")
    assert not sign.actor.resolved
    assert sign.actor.src_ip == "203.0.113.9"
    assert sign.scope == ()


def test_bad_records_are_quarantined_with_their_index() -> None:
    events, quarantined, _ = parse("bad_records.json")
    assert [e.provenance.native_id for e in events] == ["e-good"]
    got = [(q.location, q.reason) for q in quarantined]
    assert got[0] == ("bad_records.json#Records[0]", "record is a JSON str, not an object")
    assert got[1] == ("bad_records.json#Records[1]", "record is a JSON int, not an object")
    assert got[2] == (
        "bad_records.json#Records[2]",
        "record lacks eventID (must be non-empty strings)",
    )
    assert got[3][0] == "bad_records.json#Records[3]"
    assert "is not an RFC 3339 timestamp" in got[3][1]
    assert got[4][0] == "bad_records.json#Records[4]"
    assert "is not UTC" in got[4][1]
    assert quarantined[0].raw == b'"not an object"'


def test_same_event_id_with_different_content_is_quarantined() -> None:
    events, quarantined, _ = parse("conflicting_duplicate.json")
    assert len(events) == 1
    [q] = quarantined
    assert q.reason == "eventID 'e-conflict' repeated with different content"
    assert q.location == "conflicting_duplicate.json#Records[1]"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not_json.json", "not valid JSON: unexpected end of data"),
        ("no_records_list.json", "expected a JSON object with a 'Records' list"),
    ],
)
def test_unreadable_files_are_quarantined_whole(name: str, reason: str) -> None:
    events, [q], _ = parse(name)
    assert events == []
    assert q.reason.startswith(reason)
    assert q.location == name
    assert q.raw == (DATA / name).read_bytes()


def test_gzip_bytes_are_accepted() -> None:
    plain = (DATA / "duplicates_unordered.json").read_bytes()
    events, quarantined, _ = parse("t.json.gz", gzip.compress(plain))
    assert quarantined == []
    assert [e.provenance.native_id for e in events] == ["e-gdk-1", "e-enc-1"]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda gz: gz[: len(gz) // 2], "gzip stream is truncated"),
        (lambda gz: gz[:10] + b"\xff" * 20 + gz[30:], "corrupt gzip stream"),
    ],
)
def test_corrupt_gzip_is_quarantined(mangle, reason: str) -> None:
    data = mangle(gzip.compress((DATA / "assumed_role_decrypt.json").read_bytes()))
    events, [q], _ = parse("t.json.gz", data)
    assert events == []
    assert q.reason.startswith(reason)
    assert q.raw == data


def test_gzip_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeaudit.collect.parsers import cloudtrail

    monkeypatch.setattr(cloudtrail, "MAX_GUNZIP", 1000)
    data = gzip.compress(b'{"Records": [' + b" " * 5000 + b"]}")
    _, [q], _ = parse("bomb.json.gz", data)
    assert q.reason == "gzip content exceeds the 512 MiB limit"


def test_events_are_storable() -> None:
    for path in sorted(DATA.glob("*.json")):
        for e in parse(path.name)[0]:
            prepare(e.to_record(), fingerprint=e.fingerprint())


SEED = (DATA / "grant_and_config.json").read_bytes()


def _check(data: bytes) -> None:
    out = list(CloudTrailParser().parse([RawRecord(data, "fuzz", len(data))], CTX))
    events = [o for o in out if isinstance(o, Event)]
    for e in events:
        assert e.provenance.native_id
        prepare(e.to_record(), fingerprint=e.fingerprint())
    try:
        doc = json.loads(data)
    except ValueError:
        return
    items = doc.get("Records") if isinstance(doc, dict) else None
    if isinstance(items, list):
        # every record is an event, a quarantine entry or a counted skip: exactly one each
        locations = [e.provenance.location for e in events]
        locations += [o.location for o in out if isinstance(o, Quarantined | Skipped)]
        assert len(locations) == len(set(locations)) == len(items)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_real_file(data: st.DataObject) -> None:
    blob = data.draw(mutated_document(SEED))
    _check(blob)


FIELDS = [
    "eventID",
    "eventTime",
    "eventName",
    "eventSource",
    "userIdentity",
    "resources",
    "requestParameters",
    "errorCode",
    "sourceIPAddress",
    "responseElements",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(FIELDS),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.text(max_size=20),
                st.sampled_from(["kms.amazonaws.com", "Decrypt", "CreateGrant", "RotateKey"]),
                st.sampled_from(["2026-11-22T10:15:00Z", "2026-13-40T99:00:00Z"]),
                st.lists(st.dictionaries(st.sampled_from(["ARN", "type"]), st.text(max_size=5))),
                st.dictionaries(st.sampled_from(["arn", "keyId", "grantId"]), st.text(max_size=5)),
            ),
        ),
        max_size=6,
    )
)
def test_fuzz_structured_records(records: list[dict[str, object]]) -> None:
    _check(json.dumps({"Records": records}).encode())


@pytest.mark.parametrize("depth", [900, 1000, 5000])
def test_deeply_nested_records_never_raise(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    head = b'{"eventID":"a","eventTime":"2026-01-01T00:00:00Z","eventName":"Decrypt",'
    data = b'{"Records": [' + nested + b"," + head + b'"x":' + nested + b"}]}"
    events, quarantined, _ = parse("deep.json", data)
    assert len(events) + len(quarantined) >= 1
    for q in quarantined:
        assert q.reason.startswith(("not valid JSON", "record is"))


# -- assumed roles without sessionContext (assumed_role_no_session_context.json: userIdentity as
# the CloudTrail userIdentity element documents it for an AssumedRole, sessionContext absent) --


def test_assumed_role_without_session_context_is_attributed_to_its_role() -> None:
    events, quarantined, _ = parse("assumed_role_no_session_context.json")
    assert quarantined == []
    decrypt, unknown, china = events
    # arn:aws:sts::111122223333:assumed-role/fintech-a-app/batch-42 is a session of
    # arn:aws:iam::111122223333:role/fintech-a-app, the inventory's svc-fintech-a
    assert (decrypt.actor.user, decrypt.actor.principal, decrypt.actor.tenant) == (
        FA_ROLE,
        "svc-fintech-a",
        "fintech-a",
    )
    assert (
        decrypt.actor.credential == "arn:aws:sts::111122223333:assumed-role/fintech-a-app/batch-42"
    )
    assert attrs(decrypt)["role_from_session_arn"] is True
    assert decrypt.scope == ("fintech-a",)
    # a role the inventory lacks: its role ARN, unresolved, the session kept as credential
    assert (unknown.actor.user, unknown.actor.principal) == (
        "arn:aws:iam::111122223333:role/etl-runner",
        None,
    )
    assert unknown.actor.credential.endswith(":assumed-role/etl-runner/job-7")
    # other partitions keep theirs
    assert china.actor.user == "arn:aws-cn:iam::999988887777:role/ai-c-trainer"
    for e in events:
        prepare(e.to_record(), fingerprint=e.fingerprint())


def test_a_session_of_a_role_with_a_path_finds_the_inventory_role(tmp_path: Path) -> None:
    inventory_file = tmp_path / "inventory.yaml"
    inventory_file.write_text(
        "site: {name: t}\n"
        "tenants: [{id: fintech-a}]\n"
        "principals:\n"
        "  - id: svc-etl\n"
        "    type: service\n"
        "    org: tenant\n"
        "    tenant: fintech-a\n"
        "    identities:\n"
        '      aws_arn: ["arn:aws:iam::111122223333:role/pipelines/etl-runner"]\n'
    )
    ctx = ParseContext("trail-blr", load_inventory(inventory_file))
    data = (DATA / "assumed_role_no_session_context.json").read_bytes()
    events, _, _ = run(CloudTrailParser(), data, ctx, "t.json")
    etl = events[1]
    # session ARNs carry no role path: the inventory's one etl-runner role in that account
    assert (etl.actor.user, etl.actor.principal) == (
        "arn:aws:iam::111122223333:role/pipelines/etl-runner",
        "svc-etl",
    )


def test_skipped_records_are_counted_with_a_reason() -> None:
    data = (DATA / "assumed_role_no_session_context.json").read_bytes()
    out = list(CloudTrailParser().parse([RawRecord(data, "f.json", len(data))], CTX))
    assert [(o.location, o.reason) for o in out if isinstance(o, Skipped)] == [
        ("f.json#Records[3]", "not a KMS event (eventSource is not kms.amazonaws.com)")
    ]
    data = (DATA / "skipped_non_kms_and_readonly.json").read_bytes()
    out = list(CloudTrailParser().parse([RawRecord(data, "s.json", len(data))], CTX))
    reasons = sorted(o.reason for o in out if isinstance(o, Skipped))
    assert reasons == [
        "KMS call that neither uses nor changes a key",
        "KMS call that neither uses nor changes a key",
        "not a KMS event (eventSource is not kms.amazonaws.com)",
    ]


def test_multi_region_creation_replication_and_primary_moves_are_events() -> None:
    # records in the shape AWS documents for KMS CreateKey (MultiRegion), ReplicateKey and
    # UpdatePrimaryRegion: where a key's material lives is evidence for data residency
    events, quarantined, _ = parse("multi_region.json")
    assert quarantined == []
    assert [(e.kind, e.key.operation if e.key else None) for e in events] == [
        ("key.config", "create"),
        ("key.config", "replicate"),
        ("key.config", "update-primary-region"),
    ]
    create, replicate, primary = events
    assert attrs(create)["multi_region"] is True
    assert attrs(replicate)["replica_region"] == "eu-west-1"
    assert attrs(primary)["primary_region"] == "eu-west-1"
    assert replicate.key is not None
    assert replicate.key.key == "fintech-a-kms"
    assert all(attrs(e)["region"] == "ap-south-1" for e in events)
