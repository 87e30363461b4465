"""VaultAuditParser: request/response pairing, transit paths, actors, outcomes, resume, fuzzing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.collect.interface import Output, ParseContext, Resume, Skipped
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.vault import VaultAuditParser
from tests.collect.parsers.harness import frame_lines, inventory, mutate, run

DATA = Path(__file__).resolve().parents[1] / "data" / "vault"
CTX = ParseContext(source="vault-1", inventory=inventory())


def parse(name: str, ctx: ParseContext = CTX):
    return run(VaultAuditParser(), (DATA / name).read_bytes(), ctx, name)


def attrs(event: Event) -> dict:
    return dict(event.attrs)


def test_encrypt_pair_is_one_event_at_the_response() -> None:
    events, quarantined, resumes = parse("encrypt_pair.jsonl")
    assert not quarantined
    assert len(events) == 1
    e = events[0]
    assert e.kind == "key.use"
    assert e.outcome == "success"
    assert e.time == "2026-11-20T09:30:00.125Z"
    assert e.provenance.location == "encrypt_pair.jsonl:2"
    assert e.provenance.native_id == "r-enc-1"
    assert e.key is not None
    assert (e.key.key, e.key.operation, e.key.owner) == ("fintech-a-data", "encrypt", "fintech-a")
    assert e.key.resolved
    # "token-svc-fintech-a" does not resolve; the name after the auth-method prefix does
    assert e.actor.user == "token-svc-fintech-a"
    assert e.actor.principal == "svc-fintech-a"
    assert e.actor.src_ip == "10.10.0.11"
    assert e.scope == ("fintech-a",)
    a = attrs(e)
    assert a["path"] == "transit/encrypt/fintech-a-data"
    assert a["operation"] == "update"
    assert a["policies"] == ["default", "fintech-a-app"]
    assert a["entity_id"] == "7d2e-entity"
    # no resume while the request waits for its response
    assert [r.offset for r in resumes] == [len((DATA / "encrypt_pair.jsonl").read_bytes())]


def test_interleaved_pairs() -> None:
    events, _, resumes = parse("interleaved_pairs.jsonl")
    assert [e.provenance.native_id for e in events] == ["r-b", "r-a"]
    datakey, decrypt = events
    assert datakey.key is not None
    assert (datakey.key.key, datakey.key.operation) == ("ai-c-data", "datakey")
    assert datakey.scope == ("ai-c",)
    assert decrypt.key is not None
    assert (decrypt.key.key, decrypt.key.operation) == ("media-b-data", "decrypt")
    assert decrypt.actor.principal == "svc-media-b"
    assert len(resumes) == 1  # only after the last line is nothing buffered


def test_text_prefix_is_stripped_and_sign_algorithm_is_not_the_key() -> None:
    events, quarantined, _ = parse("text_prefix.jsonl")
    assert not quarantined
    assert len(events) == 1
    assert events[0].key is not None
    assert (events[0].key.key, events[0].key.operation) == ("fintech-a-data", "sign")
    assert events[0].time == "2026-11-20T09:32:00.01Z"


def test_nested_mounts() -> None:
    events, _, _ = parse("nested_mount.jsonl")
    first, second = events
    assert first.key is not None
    assert first.key.key == "tenants/fintech-a/transit/orders"
    assert not first.key.resolved
    assert first.scope == ("fintech-a",)  # from the actor's tenant
    assert second.key is not None
    assert (second.key.key, second.key.operation) == ("team/keys/transit/keys", "hmac")


def test_rotate_and_config() -> None:
    events, quarantined, _ = parse("rotate_and_config.jsonl")
    assert not quarantined
    assert [e.kind for e in events] == ["key.rotate", "key.config", "key.config", "key.config"]
    ops = [e.key.operation if e.key else None for e in events]
    assert ops == ["rotate", "config", "create", "delete"]
    rotate = events[0]
    assert rotate.actor.user == "userpass-meera.s"
    assert rotate.actor.principal == "meera.s"
    assert rotate.actor.org == "operator"
    assert rotate.scope == ("fintech-a",)
    assert events[2].actor.user == "root"
    assert not events[2].actor.resolved
    assert events[2].scope == ()


def test_error_response_is_a_failure() -> None:
    events, _, _ = parse("error_response.jsonl")
    assert len(events) == 1
    e = events[0]
    assert e.outcome == "failure"
    assert "permission denied" in attrs(e)["error"]
    # media-b's service touching fintech-a's key: both tenants see it
    assert e.scope == ("fintech-a", "media-b")


def test_unpaired_request_is_flushed_with_unknown_outcome() -> None:
    events, _, resumes = parse("unpaired.jsonl")
    assert [e.provenance.native_id for e in events] == ["r-orphan", "r-lost"]
    orphan, lost = events
    assert orphan.outcome == "success"  # a response alone is enough
    assert lost.outcome == "unknown"
    assert lost.provenance.location == "unpaired.jsonl:1"
    assert attrs(lost)["entry"] == "request"
    assert resumes == []  # the lost request stayed buffered to the end


def test_hmac_display_name_is_an_opaque_credential() -> None:
    events, _, _ = parse("hmac_display_name.jsonl")
    actor = events[0].actor
    assert actor.user is None
    assert actor.credential is not None
    assert actor.credential.startswith("hmac-sha256:")
    assert not actor.resolved


def test_other_paths_are_skipped() -> None:
    events, quarantined, resumes = parse("not_transit.jsonl")
    assert events == []
    assert quarantined == []
    assert len(resumes) == 7


def test_entries_without_mount_type_use_the_configured_mounts() -> None:
    events, _, _ = parse("no_mount_type.jsonl")
    assert [e.provenance.native_id for e in events] == ["r-old1"]
    ctx = ParseContext(
        source="vault-1", inventory=inventory(), options={"transit_mounts": "transit, crypto/"}
    )
    events, _, _ = parse("no_mount_type.jsonl", ctx)
    assert [e.provenance.native_id for e in events] == ["r-old1", "r-old2"]
    assert events[1].key is not None
    assert events[1].key.key == "crypto/fintech-a-data"


def test_namespace_prefixes_the_key_identity() -> None:
    events, _, _ = parse("namespace.jsonl")
    assert events[0].key is not None
    assert events[0].key.key == "fintech-a/transit/fintech-a-data"
    assert not events[0].key.resolved


def test_bad_records_are_quarantined_with_reasons() -> None:
    events, quarantined, _ = parse("bad_records.jsonl")
    assert events == []
    reasons = [q.reason for q in quarantined]
    assert reasons[0] == "no JSON object in the line"
    assert reasons[1].startswith("not valid JSON")
    assert reasons[2] == "no JSON object in the line"  # '[1,2]'
    assert reasons[3] == "request entry without request.id or request.path"
    assert reasons[4] == "response entry without request.id or request.path"
    assert reasons[5] == "missing or invalid 'time': 'yesterday'"
    assert len(reasons) == 6


def test_resume_then_restart_gives_the_same_events() -> None:
    data = b"".join((DATA / n).read_bytes() for n in ("interleaved_pairs.jsonl", "unpaired.jsonl"))
    events, _, resumes = run(VaultAuditParser(), data, CTX)
    ends = [r.offset for r in frame_lines(data)]
    for resume in resumes:
        done = ends.index(resume.offset) + 1
        again, _, _ = run(VaultAuditParser(), data, CTX, start=resume.offset)
        assert again == [e for e in events if int(e.provenance.location.split(":")[1]) > done]


REAL_LINES = [
    line
    for p in sorted(DATA.glob("*.jsonl"))
    for line in p.read_bytes().splitlines()
    if line.strip()
]


def check_every_record(data: bytes) -> None:
    """Never raises; at most one output per record; a line with no parseable JSON object is
    always quarantined; every event is valid."""
    out = [o for o in VaultAuditParser().parse(frame_lines(data), CTX) if not isinstance(o, Resume)]
    seen: dict[str, int] = {}
    for o in out:
        where = o.provenance.location if isinstance(o, Event) else o.location
        seen[where] = seen.get(where, 0) + 1
        if isinstance(o, Event):
            o.to_record()
    assert all(n == 1 for n in seen.values())
    for record in frame_lines(data):
        start = record.data.find(b"{")
        try:
            obj = orjson.loads(record.data[start:]) if start >= 0 else None
        except orjson.JSONDecodeError:
            obj = None
        if record.data.strip() and not isinstance(obj, dict):
            assert seen.get(record.location) == 1, record


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    check_every_record(data)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(REAL_LINES),
            st.integers(min_value=0, max_value=4000),
            st.integers(min_value=1, max_value=255),
            st.sampled_from(["truncate", "flip", "insert", "keep"]),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_mutated_lines(mutations: list[tuple[bytes, int, int, str, bytes]]) -> None:
    lines = [
        mutate(line, pos, byte, how, junk).replace(b"\n", b" ").replace(b"\r", b" ")
        for line, pos, byte, how, junk in mutations
    ]
    check_every_record(b"\n".join(lines))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.jsonl")))
def test_fixtures_account_for_every_record(name: str) -> None:
    check_every_record((DATA / name).read_bytes())


def test_repeated_request_id_flushes_the_first_request() -> None:
    line = (DATA / "encrypt_pair.jsonl").read_bytes().splitlines()
    data = b"\n".join([line[0], line[0], line[1]])
    events, _, resumes = run(VaultAuditParser(), data, CTX)
    assert [(e.outcome, e.provenance.location) for e in events] == [
        ("unknown", "input:1"),
        ("success", "input:3"),
    ]
    assert [r.offset for r in resumes] == [len(data)]


# -- root tokens (root_token.jsonl: entries as the Vault audit device writes them for a token
# carrying the root policy; secrets HMAC-ed, as by default) ----------------------------------


def outputs(name: str, ctx: ParseContext = CTX) -> list[Output]:
    data = (DATA / name).read_bytes()
    return list(VaultAuditParser().parse(frame_lines(data, name), ctx))


def test_root_token_requests_are_events_on_any_path() -> None:
    events, quarantined, _ = parse("root_token.jsonl")
    assert quarantined == []
    by_id = {e.provenance.native_id: e for e in events}
    assert list(by_id) == [
        "r-root-policy",
        "r-root-kv",
        "r-root-enc",
        "r-root-keyread",
        "r-root-audit",
        "r-root-ns",
    ]
    for e in events:  # the credential is recorded on every one of them
        assert e.actor.credential == "root-token"
        assert attrs(e)["root_token"] is True
        assert not e.actor.resolved
        e.to_record()
    policy = by_id["r-root-policy"]
    assert (policy.kind, policy.outcome, policy.key) == ("vault.request", "success", None)
    assert policy.actor.user == "root"
    assert policy.actor.src_ip == "10.0.0.5"
    assert policy.target.resource == "sys/policies/acl/tenant-admin"
    assert (attrs(policy)["operation"], attrs(policy)["mount_type"]) == ("update", "system")
    assert attrs(policy)["policies"] == ["root"]
    assert policy.scope == ()  # an unresolved root token: operator only
    assert policy.provenance.location == "root_token.jsonl:2"  # the response completes it
    kv = by_id["r-root-kv"]
    assert (kv.kind, kv.target.resource, attrs(kv)["operation"]) == (
        "vault.request",
        "secret/data/fintech-a/db",
        "read",
    )
    audit = by_id["r-root-audit"]
    assert (audit.kind, audit.target.resource, attrs(audit)["operation"]) == (
        "vault.request",
        "sys/audit/file2",
        "delete",
    )


def test_root_token_transit_requests_keep_their_key_kind() -> None:
    events, _, _ = parse("root_token.jsonl")
    by_id = {e.provenance.native_id: e for e in events}
    enc = by_id["r-root-enc"]
    # what the request did decides the kind: a transit encrypt is a key use, by a root token
    assert enc.kind == "key.use"
    assert enc.key is not None
    assert (enc.key.key, enc.key.operation, enc.key.owner) == (
        "fintech-a-data",
        "encrypt",
        "fintech-a",
    )
    assert enc.actor.credential == "root-token"
    assert enc.scope == ("fintech-a",)
    # reading a key's configuration uses and changes nothing: a request, still recorded
    read = by_id["r-root-keyread"]
    assert (read.kind, read.key, read.target.resource) == (
        "vault.request",
        None,
        "transit/keys/fintech-a-data",
    )


def test_root_token_in_a_namespace_with_an_hmac_display_name_and_an_error() -> None:
    events, _, _ = parse("root_token.jsonl")
    e = next(e for e in events if e.provenance.native_id == "r-root-ns")
    assert (e.kind, e.outcome) == ("vault.request", "failure")
    assert e.target.resource == "fintech-a/auth/token/create"
    assert e.actor.user is None
    assert e.actor.credential == "root-token"
    assert attrs(e)["display_name"].startswith("hmac-sha256:")
    assert "invalid role name" in attrs(e)["error"]


def test_other_tokens_requests_elsewhere_are_counted_skips_with_reasons() -> None:
    out = outputs("root_token.jsonl")
    skipped = [o for o in out if isinstance(o, Skipped)]
    assert [(s.location, s.reason) for s in skipped] == [
        ("root_token.jsonl:10", "not a transit mount (token other than root)"),
        ("root_token.jsonl:11", "not a transit mount (token other than root)"),
    ]
    # every record of not_transit.jsonl is now a counted skip, none vanishes
    out = outputs("not_transit.jsonl")
    reasons = [o.reason for o in out if isinstance(o, Skipped)]
    assert reasons == [
        "not a transit mount (token other than root)",
        "not a transit mount (token other than root)",
        "not a transit mount (token other than root)",
        "not a transit mount (token other than root)",
        "an operation that neither uses nor changes a key (token other than root)",
        "not a request or response entry",
    ]
    assert not [o for o in out if isinstance(o, Event | Quarantined)]


def test_every_record_is_an_event_part_a_quarantine_entry_or_a_counted_skip() -> None:
    """A request line is part of its response's event (same request id); every other
    non-blank line has exactly one output."""
    for path in sorted(DATA.glob("*.jsonl")):
        data = path.read_bytes()
        out = list(VaultAuditParser().parse(frame_lines(data, path.name), CTX))
        covered = {o.location for o in out if isinstance(o, Quarantined | Skipped)}
        events = [o for o in out if isinstance(o, Event)]
        covered |= {e.provenance.location for e in events}
        ids = {e.provenance.native_id for e in events}
        for record in frame_lines(data, path.name):
            if not record.data.strip() or record.location in covered:
                continue
            entry = orjson.loads(record.data[record.data.find(b"{") :])
            assert entry["type"] == "request", record.location
            assert entry["request"]["id"] in ids, record.location
