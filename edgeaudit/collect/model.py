"""The normalized event every collector produces (its fields are defined below), and its
quarantine.

Values are frozen and valid by construction. :meth:`Event.to_record` gives the JSON object the
store appends (via :func:`edgeaudit.events.prepare`); :meth:`Event.fingerprint` identifies the
source record, so ingesting the same input twice adds nothing.

Taxonomy: ``kind`` is edgeaudit's dotted name; ``class_uid`` the OCSF class (or an edgeaudit
extension class, numbered extension id x 100000 + category x 1000 + id, extension id 9).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from edgeaudit.errors import InputError
from edgeaudit.events import PreparedEntry, parse_utc_time, prepare_timed

EXT: Final = 9 * 100_000  # edgeaudit's OCSF extension id 9
OCSF_CLASS: Final[dict[str, int]] = {
    "auth.logon": 3002,
    "auth.logon_failed": 3002,
    "auth.logoff": 3002,
    "auth.verified": 3002,  # an authentication step that opens no session (auditd USER_AUTH)
    "priv.switch": 3002,
    "priv.denied": 3002,
    "session.start": 3002,
    "session.end": 3002,
    "session.command": 1007,
    "grant.request": EXT + 3000 + 1,
    "grant.review": EXT + 3000 + 1,
    "grant.approve": EXT + 3000 + 1,
    "grant.deny": EXT + 3000 + 1,
    "grant.activate": EXT + 3000 + 1,
    "grant.expire": EXT + 3000 + 1,
    "grant.revoke": EXT + 3000 + 1,
    "key.use": 6003,
    "vault.request": 6003,  # a Vault request of no more specific kind (e.g. by a root token)
    "key.rotate": 6003,
    "key.config": 6003,
    "key.state": EXT + 6000 + 1,
    "probe.run": 4001,
    "probe.result": 4001,
    "probe.missed": 4001,
    "physical.access": EXT + 1000 + 1,
    "physical.denied": EXT + 1000 + 1,
    "physical.alarm": EXT + 1000 + 1,
    "physical.tamper": EXT + 1000 + 1,
    "audit.pipeline": 1008,
    "policy.result": 2003,
}
OUTCOMES: Final = frozenset({"success", "failure", "unknown"})
ORGS: Final = frozenset({"operator", "partner", "tenant", "unknown"})


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != () and v != {}}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted. ``principal`` is the inventory id when the identity resolved, else None
    (the raw identity stays in ``user``/``credential``: unknown people are never dropped)."""

    user: str | None = None  # the identity as the source wrote it (unix user, ARN, ...)
    principal: str | None = None
    org: str = "unknown"
    tenant: str | None = None  # the principal's tenant, when org == "tenant"
    credential: str | None = None  # e.g. ssh key fingerprint or certificate key id
    original_user: str | None = None  # the human behind sudo/su (auid, SUDO_USER)
    session: str | None = None
    src_ip: str | None = None

    def __post_init__(self) -> None:
        if self.org not in ORGS:
            raise InputError(f"actor org {self.org!r} must be one of {sorted(ORGS)}")

    @property
    def resolved(self) -> bool:
        return self.principal is not None

    def to_dict(self) -> dict[str, Any]:
        # explicit tests rather than _drop_none: this runs for every collected event
        d: dict[str, Any] = {} if self.user is None else {"user": self.user}
        if self.principal is not None:
            d["principal"] = self.principal
        d["resolved"] = self.principal is not None
        d["org"] = self.org
        if self.tenant is not None:
            d["tenant"] = self.tenant
        if self.credential is not None:
            d["credential"] = self.credential
        if self.original_user is not None:
            d["original_user"] = self.original_user
        if self.session is not None:
            d["session"] = self.session
        if self.src_ip is not None:
            d["src_ip"] = self.src_ip
        return d


@dataclass(frozen=True, slots=True)
class Target:
    """What was acted on: an asset (host, BMC, ...), an account on it, or a resource."""

    asset: str | None = None
    account: str | None = None
    resource: str | None = None
    owner: str | None = None  # owner tenant id, "shared", or None when unknown

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.asset is not None:
            d["asset"] = self.asset
        if self.account is not None:
            d["account"] = self.account
        if self.resource is not None:
            d["resource"] = self.resource
        if self.owner is not None:
            d["owner"] = self.owner
        return d


@dataclass(frozen=True, slots=True)
class Grant:
    """A just-in-time access request or grant, in any state of its life."""

    id: str
    state: str | None = None  # pending / approved / denied / expired / revoked / ...
    roles: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    reason: str | None = None
    requester: str | None = None
    reviewer: str | None = None
    admin_override: bool = False  # approved without a preceding review
    max_duration_s: int | None = None
    expires: str | None = None  # RFC 3339 UTC

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("a grant needs an id")
        if self.expires is not None:
            parse_utc_time(self.expires, "grant.expires")

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "id": self.id,
                "state": self.state,
                "roles": list(self.roles) or None,
                "resources": list(self.resources) or None,
                "reason": self.reason,
                "requester": self.requester,
                "reviewer": self.reviewer,
                "admin_override": self.admin_override or None,
                "max_duration_s": self.max_duration_s,
                "expires": self.expires,
            }
        )


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A tenant key and what was done with it."""

    key: str  # the inventory key id when resolved, else the provider's identity (ARN, name)
    provider: str  # vault-transit, aws-kms, ...
    operation: str | None = None  # encrypt, decrypt, sign, rotate, read, ...
    owner: str | None = None  # owner tenant id when resolved
    resolved: bool = False
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "key": self.key,
                "provider": self.provider,
                "operation": self.operation,
                "owner": self.owner,
                "resolved": self.resolved,
                "version": self.version,
            }
        )


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an event came from, precisely enough to find the raw record again."""

    source_kind: str  # the parser name: syslog, journald, auditd, ...
    source: str  # the source id (e.g. host or file name as configured)
    location: str  # file:line or file@offset
    parser_version: str
    raw_sha256: str  # hex SHA-256 of the raw record bytes
    native_id: str | None = None  # the source's own record id (eventID, __CURSOR, ...)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source_kind": self.source_kind,
            "source": self.source,
            "location": self.location,
            "parser": f"{self.source_kind}/{self.parser_version}",
            "raw_sha256": self.raw_sha256,
        }
        if self.native_id is not None:
            d["native_id"] = self.native_id
        return d


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized event. ``time`` is RFC 3339 UTC; ``time_text`` what the source wrote."""

    kind: str
    time: str
    time_text: str
    provenance: Provenance
    actor: Actor = field(default_factory=Actor)
    target: Target = field(default_factory=Target)
    outcome: str = "unknown"
    grant: Grant | None = None
    key: KeyRef | None = None
    scope: tuple[str, ...] = ()  # tenants that may see this event; () = operator only
    attrs: tuple[tuple[str, Any], ...] = ()  # extra fields, JSON values, sorted by name
    # the parser removed a secret from the source record (a card number outside its column):
    # counted in the collect summary, not stored (attrs say which fields when it matters)
    redacted: bool = field(default=False, compare=False, repr=False)
    # epoch seconds of ``time``, from the one validation of it (here): the store needs them
    seconds: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in OCSF_CLASS:
            raise InputError(f"unknown event kind {self.kind!r}")
        text, seconds = parse_utc_time(self.time)
        if text != self.time:
            object.__setattr__(self, "time", text)  # normalized: upper-case T and Z
        object.__setattr__(self, "seconds", seconds)
        if self.outcome not in OUTCOMES:
            raise InputError(f"outcome {self.outcome!r} must be one of {sorted(OUTCOMES)}")
        scope = self.scope
        if len(scope) > 1 and list(scope) != sorted(set(scope)):
            object.__setattr__(self, "scope", tuple(sorted(set(scope))))

    @property
    def class_uid(self) -> int:
        return OCSF_CLASS[self.kind]

    @property
    def tenant(self) -> str | None:
        """The one tenant this event belongs to, when there is exactly one."""
        return self.scope[0] if len(self.scope) == 1 else None

    def fingerprint(self) -> str:
        """One source record: source kind + native id + raw hash when the source gives records
        their own ids (CloudTrail eventID, journald cursor, ...: the same record collected
        from two files is one record), else source + location + raw hash."""
        p = self.provenance
        if p.native_id is not None:
            return f"{p.source_kind}:id:{p.native_id}:{p.raw_sha256}:{self.kind}"
        return f"{p.source_kind}:{p.source}:{p.location}:{p.raw_sha256}:{self.kind}"

    def prepared(self) -> PreparedEntry:
        """The entry the store appends: :meth:`to_record` validated and canonicalized, with the
        time validated once (at construction) and this event's fingerprint."""
        return prepare_timed(self.to_record(), self.seconds, fingerprint=self.fingerprint())

    def to_record(self) -> dict[str, Any]:
        """The JSON object the store appends."""
        record: dict[str, Any] = {
            "time": self.time,
            "time_text": self.time_text,
            "kind": self.kind,
            "class_uid": self.class_uid,
            "outcome": self.outcome,
            "source": self.provenance.source_kind,
            "scope": list(self.scope),
            "actor": self.actor.to_dict(),
            "target": self.target.to_dict(),
            "provenance": self.provenance.to_dict(),
        }
        if self.tenant is not None:
            record["tenant"] = self.tenant
        if self.grant is not None:
            record["grant"] = self.grant.to_dict()
        if self.key is not None:
            record["key"] = self.key.to_dict()
        if self.attrs:
            record["attrs"] = dict(self.attrs)
        return record


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A raw record a parser could not turn into an event: kept, never silently dropped."""

    source_kind: str
    source: str
    location: str
    reason: str
    raw: bytes
    redacted: bool = False  # ``raw`` (or the reason) had a secret replaced, e.g. a card number

    @property
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def raw_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
