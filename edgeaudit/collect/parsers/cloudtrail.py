"""AWS CloudTrail log files, KMS events only (the CloudTrail record format AWS documents).

Framing ``file``: one record is a whole ``{"Records": [...]}`` file. The runner gunzips ``.gz``
files; gzip bytes (``1f 8b``) are accepted here too, decompressed up to 512 MiB.

Kinds: ``key.use`` (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt*, Sign, Verify, GenerateMac,
VerifyMac), ``key.rotate`` (RotateKey, including the ``AwsServiceEvent`` form that has no human
actor, and RotateKeyOnDemand), ``key.config`` (Create/Retire/RevokeGrant with the grant details
in ``attrs``, Enable/DisableKeyRotation, PutKeyPolicy, ScheduleKeyDeletion, CancelKeyDeletion,
EnableKey, DisableKey, and where key material lives: CreateKey with ``attrs.multi_region``,
ReplicateKey with ``attrs.replica_region``, UpdatePrimaryRegion with ``attrs.primary_region``).

Traps handled: records are unordered and repeated, so each ``eventID`` is emitted once per file
(``native_id`` = eventID, the store dedupes across files); the key identity comes from
``resources[].ARN`` and ``requestParameters.keyId`` (whatever the caller passed) only when there
is no ARN; assumed roles resolve through ``sessionContext.sessionIssuer.arn`` with the session
ARN kept as the credential, and when a record has no ``sessionIssuer`` (CloudTrail leaves
``sessionContext`` out of some records) through the role the session ARN names:
``arn:<partition>:sts::<account>:assumed-role/<role>/<session>`` is role
``arn:<partition>:iam::<account>:role/<role>``, or the inventory's role of that name in that
account under a path (``role/<path>/<role>``: session ARNs carry no path), with
``attrs.role_from_session_arn``; ``errorCode`` makes the outcome a failure; a
``sourceIPAddress`` that is a service name (``kms.amazonaws.com``) is kept in ``attrs`` rather
than as an address. A failed call that names no key at all is still emitted, with no key.

Records have no line of their own: ``raw_sha256`` is the hash of the record's canonical JSON
(sorted keys, no spaces) and the location is ``<file>#Records[<i>]``.

Skipped, and counted (``Skipped`` with the reason; well-formed but irrelevant): records whose
``eventSource`` is not ``kms.amazonaws.com``, KMS read-only or unrelated calls (DescribeKey,
ListKeys, ...), and exact repeats of an eventID already seen in the file.

Quarantined: a corrupt, truncated or oversized gzip stream, a file that is not JSON or has no
``Records`` list (the whole file); a record that is not an object, lacks a string
``eventID``/``eventTime``/``eventName``, has an ``eventTime`` that is not RFC 3339 UTC, or repeats
an eventID with different content (that record).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final, Literal

import orjson

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Skipped
from edgeaudit.collect.model import Actor, Event, KeyRef, Provenance, Quarantined, raw_sha256
from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time

MAX_GUNZIP: Final = 512 * 1024 * 1024
KMS_SOURCE: Final = "kms.amazonaws.com"
SKIP_SOURCE: Final = "not a KMS event (eventSource is not kms.amazonaws.com)"
SKIP_REPEAT: Final = "exact repeat of an eventID already seen in this file"
# arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>
_ASSUMED_ROLE: Final = re.compile(r"arn:([a-z0-9-]+):sts::(\d{12}):assumed-role/([^/]+)/.+")
_USE_OPS: Final = {
    "Encrypt": "encrypt",
    "Decrypt": "decrypt",
    "Sign": "sign",
    "Verify": "verify",
    "GenerateMac": "mac",
    "VerifyMac": "verify-mac",
}
_CONFIG_OPS: Final = {
    "CreateGrant": "create-grant",
    "RetireGrant": "retire-grant",
    "RevokeGrant": "revoke-grant",
    "EnableKeyRotation": "enable-rotation",
    "DisableKeyRotation": "disable-rotation",
    "PutKeyPolicy": "put-policy",
    "ScheduleKeyDeletion": "schedule-deletion",
    "CancelKeyDeletion": "cancel-deletion",
    "EnableKey": "enable",
    "DisableKey": "disable",
    # where key material lives: data residency judges these
    "CreateKey": "create",
    "ReplicateKey": "replicate",
    "UpdatePrimaryRegion": "update-primary-region",
}
# requestParameters / responseElements fields copied to attrs (name in attrs, where, field).
_CONFIG_ATTRS: Final = (
    ("grant_id", "requestParameters", "grantId"),
    ("grant_id", "responseElements", "grantId"),
    ("grantee_principal", "requestParameters", "granteePrincipal"),
    ("retiring_principal", "requestParameters", "retiringPrincipal"),
    ("grant_operations", "requestParameters", "operations"),
    ("grant_name", "requestParameters", "name"),
    ("rotation_period_days", "requestParameters", "rotationPeriodInDays"),
    ("pending_window_days", "requestParameters", "pendingWindowInDays"),
    ("policy_name", "requestParameters", "policyName"),
    ("deletion_date", "responseElements", "deletionDate"),
    ("replica_region", "requestParameters", "replicaRegion"),
    ("primary_region", "requestParameters", "primaryRegion"),
    ("multi_region", "requestParameters", "multiRegion"),
)


def _classify(name: str) -> tuple[str, str] | None:
    """(kind, operation) for a KMS eventName, or None when it is not audited."""
    op = _USE_OPS.get(name)
    if op is not None:
        return "key.use", op
    if name.startswith("GenerateDataKey"):
        return "key.use", "datakey"
    if name.startswith("ReEncrypt"):
        return "key.use", "rewrap"
    if name in ("RotateKey", "RotateKeyOnDemand"):
        return "key.rotate", "rotate"
    op = _CONFIG_OPS.get(name)
    return ("key.config", op) if op is not None else None


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _gunzip(data: bytes) -> bytes | str:
    """The decompressed bytes, or the reason they cannot be had."""
    out: list[bytes] = []
    size = 0
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = d.decompress(data, MAX_GUNZIP + 1 - size)
            size += len(chunk)
            out.append(chunk)
            if size > MAX_GUNZIP or d.unconsumed_tail:
                return "gzip content exceeds the 512 MiB limit"
            if not d.eof:
                return "gzip stream is truncated"
            data = d.unused_data  # a further gzip member, if any
    except zlib.error as exc:
        return f"corrupt gzip stream: {exc}"
    return b"".join(out)


class CloudTrailParser:
    name: ClassVar[str] = "cloudtrail"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "file"
    stateful: ClassVar[bool] = False

    def __init__(self) -> None:
        self._roles: dict[str, str | None] = {}  # session ARN -> its role (role_of_session)

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for record in records:
            yield from self._file(record, ctx)

    def _quarantine(self, ctx: ParseContext, location: str, reason: str, raw: bytes) -> Quarantined:
        return Quarantined(self.name, ctx.source, location, reason, raw)

    def _file(self, record: RawRecord, ctx: ParseContext) -> Iterator[Output]:
        data = record.data
        if data[:2] == b"\x1f\x8b":
            unzipped = _gunzip(data)
            if isinstance(unzipped, str):
                yield self._quarantine(ctx, record.location, unzipped, record.data)
                return
            data = unzipped
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield self._quarantine(ctx, record.location, f"not valid JSON: {exc}", record.data)
            return
        items = doc.get("Records") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            reason = "expected a JSON object with a 'Records' list"
            yield self._quarantine(ctx, record.location, reason, record.data)
            return
        seen: dict[str, dict[str, Any]] = {}
        for i, rec in enumerate(items):
            location = f"{record.location}#Records[{i}]"
            try:
                yield from self._record(rec, location, seen, ctx)
            except RecursionError:  # nested too deeply to serialize: keep the whole file
                reason = "record is nested too deeply to serialize"
                yield self._quarantine(ctx, location, reason, record.data)

    def _record(
        self, rec: object, location: str, seen: dict[str, dict[str, Any]], ctx: ParseContext
    ) -> Iterator[Output]:
        if not isinstance(rec, dict):
            reason = f"record is a JSON {type(rec).__name__}, not an object"
            yield self._quarantine(ctx, location, reason, _canonical(rec))
            return
        missing = [f for f in ("eventID", "eventTime", "eventName") if not _str(rec.get(f))]
        if missing:
            reason = f"record lacks {', '.join(missing)} (must be non-empty strings)"
            yield self._quarantine(ctx, location, reason, _canonical(rec))
            return
        event_id: str = rec["eventID"]
        first = seen.get(event_id)
        if first is not None:
            if first != rec:
                reason = f"eventID {event_id!r} repeated with different content"
                yield self._quarantine(ctx, location, reason, _canonical(rec))
            else:
                yield Skipped(location, SKIP_REPEAT)
            return
        seen[event_id] = rec
        if rec.get("eventSource") != KMS_SOURCE:
            yield Skipped(location, SKIP_SOURCE)
            return
        found = _classify(rec["eventName"])
        if found is None:
            yield Skipped(location, "KMS call that neither uses nor changes a key")
            return
        yield self._event(rec, found, location, ctx)

    def _event(
        self, rec: dict[str, Any], found: tuple[str, str], location: str, ctx: ParseContext
    ) -> Event | Quarantined:
        raw = _canonical(rec)
        time_text: str = rec["eventTime"]
        try:
            time, _ = parse_utc_time(time_text, "eventTime")
        except InputError as exc:
            return self._quarantine(ctx, location, str(exc), raw)
        kind, operation = found
        name: str = rec["eventName"]
        attrs: dict[str, Any] = {"api": name}
        for attr, field in (("region", "awsRegion"), ("account", "recipientAccountId")):
            if (value := _str(rec.get(field))) is not None:
                attrs[attr] = value

        actor = self._actor(rec, attrs, ctx)
        keys = self._keys(rec, operation, ctx)
        key = keys[0] if keys else None
        scope = set(ctx.scope(key=key, actor=actor))
        if len(keys) > 1:
            attrs["other_keys"] = [k.key for k in keys[1:]]
            scope.update(k.owner for k in keys[1:] if k.owner and k.owner != "shared")
        if kind == "key.config":
            for attr, where, field in _CONFIG_ATTRS:
                value = _dict(rec.get(where)).get(field)
                if value is not None and attr not in attrs:
                    attrs[attr] = value
            if name == "PutKeyPolicy":
                policy = _dict(rec.get("requestParameters")).get("policy")
                if isinstance(policy, str):
                    attrs["policy_sha256"] = hashlib.sha256(policy.encode()).hexdigest()
        elif name == "RotateKeyOnDemand":
            attrs["rotation_type"] = "on-demand"
        elif kind == "key.rotate":
            attrs["rotation_type"] = "automatic"
        if rec.get("eventType") == "AwsServiceEvent":
            attrs["service_event"] = True
        outcome = "success"
        error = _str(rec.get("errorCode"))
        if error is not None:
            outcome = "failure"
            attrs["error_code"] = error
            message = _str(rec.get("errorMessage"))
            if message is not None:
                attrs["error_message"] = message[:200]
        try:
            return Event(
                kind=kind,
                time=time,
                time_text=time_text,
                provenance=Provenance(
                    self.name, ctx.source, location, self.version, raw_sha256(raw), rec["eventID"]
                ),
                actor=actor,
                outcome=outcome,
                key=key,
                scope=tuple(sorted(scope)),
                attrs=tuple(sorted(attrs.items())),
            )
        except InputError as exc:  # pragma: no cover - every field is checked above
            return self._quarantine(ctx, location, str(exc), raw)

    def _actor(self, rec: dict[str, Any], attrs: dict[str, Any], ctx: ParseContext) -> Actor:
        ident = _dict(rec.get("userIdentity"))
        source = _str(rec.get("sourceIPAddress"))
        src_ip = None
        if source is not None:
            try:
                ipaddress.ip_address(source)
                src_ip = source
            except ValueError:
                attrs["source_host"] = source
        if (identity_type := _str(ident.get("type"))) is not None:
            attrs["identity_type"] = identity_type
        arn = _str(ident.get("arn"))
        issuer = _str(_dict(_dict(ident.get("sessionContext")).get("sessionIssuer")).get("arn"))
        if issuer is not None:
            return ctx.actor("aws_arn", issuer, credential=arn, src_ip=src_ip)
        role = None
        if arn is not None:
            if arn not in self._roles:
                if len(self._roles) > 4096:
                    self._roles.clear()
                self._roles[arn] = role_of_session(arn, ctx)
            role = self._roles[arn]
        if role is not None:
            attrs["role_from_session_arn"] = True
            return ctx.actor("aws_arn", role, credential=arn, src_ip=src_ip)
        if arn is not None:
            return ctx.actor("aws_arn", arn, src_ip=src_ip)
        # AWS service events: no human, only the invoking service or the account.
        service = _str(ident.get("invokedBy")) or _str(ident.get("principalId"))
        return Actor(user=service, src_ip=src_ip)

    @staticmethod
    def _keys(rec: dict[str, Any], operation: str, ctx: ParseContext) -> list[KeyRef]:
        arns: list[str] = []
        resources = rec.get("resources")
        for res in resources if isinstance(resources, list) else ():
            arn = _str(_dict(res).get("ARN"))
            kms_type = _dict(res).get("type") in (None, "AWS::KMS::Key")
            if arn is not None and kms_type and arn not in arns:
                arns.append(arn)
        if not arns:
            key_id = _str(_dict(rec.get("requestParameters")).get("keyId"))
            if key_id is None:
                key_id = _str(_dict(rec.get("serviceEventDetails")).get("keyId"))
            if key_id is not None:
                arns.append(key_id)
        return [ctx.key("aws-kms", arn, operation) for arn in arns]


def role_of_session(arn: str, ctx: ParseContext) -> str | None:
    """The IAM role ARN an assumed-role session ARN belongs to; None when ``arn`` is not one.

    A session ARN names the role without its path, so when the inventory knows no role
    ``arn:<partition>:iam::<account>:role/<name>`` but does know exactly one of that name under
    a path in that account, that one is meant."""
    m = _ASSUMED_ROLE.fullmatch(arn)
    if m is None:
        return None
    partition, account, name = m.groups()
    role = f"arn:{partition}:iam::{account}:role/{name}"
    if ctx.inventory.principal_for("aws_arn", role) is not None:
        return role
    prefix, suffix = f"arn:{partition}:iam::{account}:role/", f"/{name}"
    with_path = {
        ident
        for p in ctx.inventory.principals
        for kind, ident in p.identities
        if kind == "aws_arn" and ident.startswith(prefix) and ident.endswith(suffix)
    }
    return with_path.pop() if len(with_path) == 1 else role
