"""Teleport audit events (JSON lines).

Emitted kinds:

* ``access_request.create`` (T5000I) -> ``grant.request`` (requester = ``user``);
* ``access_request.review`` (T5002I) -> ``grant.review``: actor and ``Grant.reviewer`` are
  ``reviewer``, ``Grant.state`` is the reviewer's ``proposed_state``; the request's resulting
  ``state`` is kept as ``attrs.request_state``;
* ``access_request.update`` (T5001I) -> ``grant.approve`` (APPROVED, and PROMOTED: granted
  through an access list), ``grant.deny`` (DENIED), ``grant.request`` (back to PENDING); the
  actor and ``Grant.reviewer`` are ``updated_by``. Every state change is kept, also after an
  approval. An approval of a request with no preceding review in the stream is an admin
  override: ``Grant.admin_override = True``;
* ``access_request.delete`` (T5003I) -> ``grant.revoke``; ``access_request.expire`` (T5005I)
  -> ``grant.expire``;
* ``session.start`` (T2000I) / ``session.end`` (T2004I) -> ``session.start`` / ``session.end``
  on ``ctx.target(server_hostname or the host of server_addr, account=login)``; the request
  ids in ``access_requests`` go to ``attrs.access_requests`` and the first one to ``Grant.id``.

Grant targets: the first ``resource_ids`` entry whose name is an inventory asset becomes the
target, so a request for a tenant's host is in that tenant's scope. ``max_duration`` is a
timestamp in Teleport (the latest time the access may last): kept as ``attrs.max_duration``
(UTC); ``Grant.max_duration_s`` is set only when the source gives a number of seconds.

* ``user.login`` (T1000I / T1000W) -> ``auth.logon`` / ``auth.logon_failed`` by the Teleport
  user, target resource ``teleport:<cluster_name>`` (attrs ``method``, ``connector``, the
  ``error`` as ``reason``).

Skipped, and counted (``Skipped``): well-formed events of any other type (``cert.create``,
exec, port forwards, uploads, ...). Blank lines are ignored.
Quarantined: bad JSON or not an object, no ``event`` name, a missing or invalid ``time``, an
access request event without ``id``, an update with an unknown ``state``, an invalid ``expires``.

Review memory and resuming: the override flag depends on earlier records. The parser remembers
request ids that were reviewed but not yet decided (removed when an update decides the request,
when it is deleted or expires, or 7 days after the review by event time), and yields
``Resume`` after a record only when that memory is empty, so restarting at a ``Resume`` never
forgets a relevant review. Ids decided by a review itself (its resulting state is APPROVED,
DENIED or PROMOTED) are kept in a bounded side memory that does not hold back ``Resume``: only
a later redundant update of such a request, after a restart in between, could be flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Event, Grant, Provenance, Quarantined, Target, raw_sha256
from edgeaudit.collect.parsers._teleport_vault_common import (
    ZERO_TIME,
    host_of,
    load_object,
    text,
    texts,
    utc_time,
)
from edgeaudit.events import parse_utc_time

_REQUEST_EVENTS: Final = {
    "access_request.create": "grant.request",
    "access_request.review": "grant.review",
    "access_request.update": "",  # by state
    "access_request.delete": "grant.revoke",
    "access_request.expire": "grant.expire",
}
_SESSION_EVENTS: Final = {"session.start": "session.start", "session.end": "session.end"}
_UPDATE_KINDS: Final = {
    "APPROVED": "grant.approve",
    "PROMOTED": "grant.approve",
    "DENIED": "grant.deny",
    "PENDING": "grant.request",
}
_DECIDED: Final = frozenset({"APPROVED", "PROMOTED", "DENIED"})
_REVIEW_HORIZON_S: Final = 7 * 86400
_SIDE_MEMORY: Final = 10_000


class TeleportParser:
    name: ClassVar[str] = "teleport"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True

    def __init__(self) -> None:
        self._reviewed: dict[str, int] = {}  # request id -> epoch of the review, undecided
        self._decided_by_review: dict[str, None] = {}  # insertion-ordered, bounded

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for record in records:
            out = self._one(record, ctx)
            if out is not None:
                yield out
            if not self._reviewed:
                yield Resume(record.offset)

    def _one(self, record: RawRecord, ctx: ParseContext) -> Event | Quarantined | Skipped | None:
        data = record.data
        if not data.strip():
            return None
        obj, reason = load_object(data)
        if obj is None:
            return self._quarantine(record, ctx, reason)
        event = obj.get("event")
        if not isinstance(event, str) or not event:
            return self._quarantine(record, ctx, "no 'event' name")
        if event not in _REQUEST_EVENTS and event not in _SESSION_EVENTS and event != "user.login":
            reason = f"teleport event {event[:64]!r} is not an access event"
            return Skipped(record.location, reason)
        time_text = obj.get("time")
        time = utc_time(time_text)
        if time is None:
            return self._quarantine(record, ctx, f"missing or invalid 'time': {time_text!r}")
        assert isinstance(time_text, str)
        prov = Provenance(
            self.name, ctx.source, record.location, self.version, raw_sha256(data), text(obj, "uid")
        )
        if event in _SESSION_EVENTS:
            return _session(_SESSION_EVENTS[event], obj, time, time_text, prov, ctx)
        if event == "user.login":
            return _login(obj, time, time_text, prov, ctx)
        return self._request(event, obj, time, time_text, prov, record, ctx)

    def _request(
        self,
        event: str,
        obj: dict[str, Any],
        time: str,
        time_text: str,
        prov: Provenance,
        record: RawRecord,
        ctx: ParseContext,
    ) -> Event | Quarantined:
        request_id = text(obj, "id")
        if request_id is None:
            return self._quarantine(record, ctx, f"{event} without a request 'id'")
        expires_text = text(obj, "expires")
        expires = utc_time(expires_text) if expires_text else None
        if expires_text and expires is None:
            return self._quarantine(record, ctx, f"invalid 'expires': {expires_text!r}")
        if expires == ZERO_TIME:
            expires = None
        state = (text(obj, "state") or "").upper()
        user = text(obj, "user")
        kind, actor_id, reviewer, requester = _REQUEST_EVENTS[event], user, None, None
        grant_state, override = state.lower() or None, False
        attrs: dict[str, Any] = {}
        if event == "access_request.create":
            requester = user
        elif event == "access_request.review":
            actor_id = reviewer = text(obj, "reviewer") or user
            grant_state = (text(obj, "proposed_state") or "").lower() or None
            if state:
                attrs["request_state"] = state.lower()
            epoch = parse_utc_time(time)[1]
            self._expire_reviews(epoch)
            if state in _DECIDED:
                self._reviewed.pop(request_id, None)
                self._remember_decided(request_id)
            else:
                self._reviewed[request_id] = epoch
        elif event == "access_request.update":
            if state not in _UPDATE_KINDS:
                return self._quarantine(record, ctx, f"update to unknown state {state!r}")
            kind = _UPDATE_KINDS[state]
            actor_id = reviewer = text(obj, "updated_by") or user
            if state in _DECIDED:
                reviewed = self._reviewed.pop(request_id, None) is not None
                reviewed = reviewed or request_id in self._decided_by_review
                override = kind == "grant.approve" and not reviewed
                self._remember_decided(request_id)
        else:  # delete, expire: the request is gone
            self._reviewed.pop(request_id, None)
            self._decided_by_review.pop(request_id, None)
        resource_ids = obj.get("resource_ids")
        found = (_resource(r) for r in resource_ids) if isinstance(resource_ids, list) else ()
        resources = tuple(r for r in found if r)
        max_duration = obj.get("max_duration")
        seconds = None
        if isinstance(max_duration, int) and not isinstance(max_duration, bool):
            seconds = max_duration if max_duration > 0 else None
        elif (until := utc_time(max_duration)) not in (None, ZERO_TIME):
            attrs["max_duration"] = until
        grant = Grant(
            id=request_id,
            state=grant_state,
            roles=texts(obj.get("roles")),
            resources=resources,
            reason=text(obj, "reason"),
            requester=requester,
            reviewer=reviewer,
            admin_override=override,
            max_duration_s=seconds,
            expires=expires,
        )
        actor = ctx.actor("teleport", actor_id)
        target = _grant_target(resource_ids, ctx)
        _common_attrs(obj, attrs)
        return Event(
            kind=kind,
            time=time,
            time_text=time_text,
            provenance=prov,
            actor=actor,
            target=target,
            outcome=_outcome(obj),
            grant=grant,
            scope=ctx.scope(target=target, actor=actor),
            attrs=tuple(sorted(attrs.items())),
        )

    def _expire_reviews(self, now: int) -> None:
        old = [rid for rid, at in self._reviewed.items() if now - at > _REVIEW_HORIZON_S]
        for rid in old:
            del self._reviewed[rid]

    def _remember_decided(self, request_id: str) -> None:
        self._decided_by_review[request_id] = None
        if len(self._decided_by_review) > _SIDE_MEMORY:
            del self._decided_by_review[next(iter(self._decided_by_review))]

    def _quarantine(self, record: RawRecord, ctx: ParseContext, reason: str) -> Quarantined:
        return Quarantined(self.name, ctx.source, record.location, reason, record.data)


def _session(
    kind: str, obj: dict[str, Any], time: str, time_text: str, prov: Provenance, ctx: ParseContext
) -> Event:
    src_ip = host_of(text(obj, "addr.remote"))  # Teleport writes the dotted name as one key
    actor = ctx.actor("teleport", text(obj, "user"), session=text(obj, "sid"), src_ip=src_ip)
    server = text(obj, "server_hostname") or host_of(text(obj, "server_addr"))
    target = ctx.target(server, account=text(obj, "login"))
    requests = texts(obj.get("access_requests"))
    attrs: dict[str, Any] = {}
    if requests:
        attrs["access_requests"] = list(requests)
    _common_attrs(obj, attrs)
    return Event(
        kind=kind,
        time=time,
        time_text=time_text,
        provenance=prov,
        actor=actor,
        target=target,
        outcome=_outcome(obj),
        grant=Grant(id=requests[0]) if requests else None,
        scope=ctx.scope(target=target, actor=actor),
        attrs=tuple(sorted(attrs.items())),
    )


def _login(
    obj: dict[str, Any], time: str, time_text: str, prov: Provenance, ctx: ParseContext
) -> Event:
    """``user.login`` (T1000I, or T1000W when it failed): a login to the Teleport cluster
    itself (target: the cluster, as a resource)."""
    src_ip = host_of(text(obj, "addr.remote"))
    actor = ctx.actor("teleport", text(obj, "user"), src_ip=src_ip)
    target = Target(resource=f"teleport:{text(obj, 'cluster_name') or 'cluster'}")
    attrs: dict[str, Any] = {}
    for name in ("method", "connector"):
        value = text(obj, name)
        if value is not None:
            attrs[name] = value
    outcome = _outcome(obj)
    error = text(obj, "error")
    if error is not None:
        attrs["reason"] = error[:200]
    _common_attrs(obj, attrs)
    return Event(
        kind="auth.logon" if outcome != "failure" else "auth.logon_failed",
        time=time,
        time_text=time_text,
        provenance=prov,
        actor=actor,
        target=target,
        outcome=outcome,
        scope=ctx.scope(actor=actor),
        attrs=tuple(sorted(attrs.items())),
    )


def _common_attrs(obj: dict[str, Any], attrs: dict[str, Any]) -> None:
    for name in ("code", "cluster_name"):
        value = text(obj, name)
        if value is not None:
            attrs[name] = value


def _outcome(obj: dict[str, Any]) -> str:
    success = obj.get("success")
    if isinstance(success, bool):
        return "success" if success else "failure"
    code = text(obj, "code") or ""
    if code.endswith("I"):
        return "success"
    if code.endswith(("W", "E")):
        return "failure"
    return "unknown"


def _resource(value: object) -> str | None:
    """A resource id as Teleport's string form ``/cluster/kind/name``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        kind, name = value.get("kind"), value.get("name")
        if isinstance(kind, str) and isinstance(name, str) and kind and name:
            cluster = value.get("cluster")
            return f"/{cluster if isinstance(cluster, str) else ''}/{kind}/{name}"
    return None


def _grant_target(resource_ids: object, ctx: ParseContext) -> Target:
    if not isinstance(resource_ids, list):
        return Target()
    for r in resource_ids:
        name = r.get("name") if isinstance(r, dict) else None
        if isinstance(r, str) and r.count("/") >= 3:
            name = r.split("/", 3)[3]
        if isinstance(name, str) and name and ctx.inventory.asset(name) is not None:
            return ctx.target(name, resource=_resource(r))
    return Target()
