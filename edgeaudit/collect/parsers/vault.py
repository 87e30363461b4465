"""Vault audit device logs (JSON lines, optional text prefix).

Each line is one audit entry; anything before the first ``{`` (a syslog header, a configured
``prefix``) is ignored. ``request`` and ``response`` entries are paired by ``request.id``: one
event per pair, emitted when the response arrives and built from the response entry alone
(which repeats the request and auth sections), so the same response always gives the same
event whether or not its request was seen (e.g. after a restart). A request still without a
response at the end of the input is emitted as an event with outcome ``unknown`` (``failure``
if the request entry itself carries an ``error``). At most 10,000 requests are buffered; the
oldest is then emitted the same way.

Emitted kinds, for transit mounts:

* ``<mount>/(encrypt|decrypt|rewrap|sign|verify|hmac|backup)/<key>[/<algorithm>]``,
  ``<mount>/datakey/<plaintext|wrapped>/<key>`` and ``<mount>/export/<type>/<key>[/<version>]``
  -> ``key.use`` (``KeyRef.operation`` = encrypt, decrypt, datakey, export, ...);
* ``<mount>/keys/<key>/rotate`` -> ``key.rotate``;
* ``<mount>/keys/<key>/config`` and ``/trim`` -> ``key.config``, and ``<mount>/keys/<key>``
  with create/update/delete -> ``key.config`` (operation create or delete).

The mount is ``request.mount_point`` when Vault writes it; otherwise it is derived from the
path (the first operation segment after the first segment whose remainder has the right
shape), so nested mounts such as ``tenants/fintech-a/transit`` and keys named like an
operation (``transit/keys/sign/rotate``) work. A path counts only when ``request.mount_type`` is
``transit``; entries without ``mount_type`` (older Vault) count when the mount is listed in
``ctx.options["transit_mounts"]`` (comma separated, default ``transit``). In a non-root
namespace the key identity is ``<namespace path><mount>/<key>``. Keys resolve through
``ctx.key("vault-transit", "<mount>/<key>")``.

Root tokens: a request made with a root token (``auth.policies`` or ``auth.token_policies``
holds ``root``, the policy only root tokens carry) is an event on any path and for any
operation: the kind above when the path is a transit key operation, else ``vault.request``
(target resource: the path, with the namespace path before it), so the policy engine can judge
every use of a root token. Its actor has ``credential`` ``root-token`` (an HMAC-ed display name
moves to ``attrs.display_name``) and ``attrs.root_token`` true.

Actor: ``ctx.actor("vault", auth.display_name)``; when that does not resolve and the name has
an auth-method prefix (``token-``, ``userpass-``, ``ldap-``, ``oidc-``: anything before the
first ``-``), the part after the first ``-`` is tried, and ``user`` keeps the full name.
``hmac-sha256:`` values are never looked up: such a display name is kept as an opaque
``credential``. ``src_ip`` is ``request.remote_address``. Outcome: ``failure`` when the
response entry has a top-level ``error`` or a ``response.error``/``response.data.error``, else
``success``.

Skipped, and counted (``Skipped`` with the reason): entries of another ``type`` and, for tokens
other than root, other paths (not transit, reads of key metadata, list/help operations); blank
lines are not records. Quarantined: lines without a JSON object, bad JSON or not an
object, a request/response without ``request.id`` or ``request.path``, a missing or invalid
``time`` (for entries that become events; the time of a skipped entry is not checked). ``Resume`` is
yielded after a record whenever no request is buffered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, ClassVar, Final, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume, Skipped
from edgeaudit.collect.model import Actor, Event, Provenance, Quarantined, Target, raw_sha256
from edgeaudit.collect.parsers._kinds import VAULT_REQUEST
from edgeaudit.collect.parsers._teleport_vault_common import (
    host_of,
    load_object,
    mapping,
    text,
    texts,
    utc_time,
)

_HMAC: Final = "hmac-sha256:"
_MAX_BUFFERED: Final = 10_000
# operation segment -> allowed number of segments after it (the key first)
_USE: Final = {
    "encrypt": (1,),
    "decrypt": (1,),
    "rewrap": (1,),
    "backup": (1,),
    "sign": (1, 2),
    "verify": (1, 2),
    "hmac": (1, 2),
    "datakey": (2,),
    "export": (2, 3),
}
_KEY_SUBPATHS: Final = {"rotate": "key.rotate", "config": "key.config", "trim": "key.config"}
_IGNORED_OPERATIONS: Final = frozenset({"read", "list", "help"})
ROOT_POLICY: Final = "root"  # only root tokens carry it
ROOT_CREDENTIAL: Final = "root-token"
SKIP_TYPE: Final = "not a request or response entry"
SKIP_MOUNT: Final = "not a transit mount (token other than root)"
SKIP_OPERATION: Final = "an operation that neither uses nor changes a key (token other than root)"
SKIP_PATH: Final = "not a transit key operation (token other than root)"


class VaultAuditParser:
    name: ClassVar[str] = "vault"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True
    options: ClassVar[dict[str, str]] = {
        "transit_mounts": "transit mounts of entries without mount_type, comma separated "
        "(default transit)",
    }

    def __init__(self) -> None:
        # request.id -> (record, entry, classification) of requests awaiting their response
        self._pending: dict[str, tuple[RawRecord, dict[str, Any], tuple[str, str, str]]] = {}

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        mounts = frozenset(
            m.strip().strip("/") for m in ctx.options.get("transit_mounts", "transit").split(",")
        )
        pending = self._pending
        for record in records:
            yield from self._one(record, ctx, mounts)
            if not pending:
                yield Resume(record.offset)
        while pending:
            request_id = next(iter(pending))
            rec, entry, found = pending.pop(request_id)
            yield self._event(rec, entry, found, ctx, paired=False)

    def _one(
        self, record: RawRecord, ctx: ParseContext, mounts: frozenset[str]
    ) -> Iterator[Event | Quarantined | Skipped]:
        data = record.data
        start = data.find(b"{")
        if start < 0:
            if data.strip():
                yield self._quarantine(record, ctx, "no JSON object in the line")
            return
        entry, reason = load_object(data[start:] if start else data)
        if entry is None:
            yield self._quarantine(record, ctx, reason)
            return
        kind = entry.get("type")
        if kind not in ("request", "response"):
            yield Skipped(record.location, SKIP_TYPE)
            return
        request = mapping(entry, "request")
        request_id, path = text(request, "id"), text(request, "path")
        if request_id is None or path is None:
            yield self._quarantine(record, ctx, f"{kind} entry without request.id or request.path")
            return
        found = _classify(request, path, mounts)
        if isinstance(found, str):
            if not is_root_token(mapping(entry, "auth")):
                yield Skipped(record.location, found)
                return
            found = (VAULT_REQUEST, "", text(request, "operation") or "")
        if utc_time(entry.get("time")) is None:
            yield self._quarantine(record, ctx, f"missing or invalid 'time': {entry.get('time')!r}")
            return
        if kind == "request":
            previous = self._pending.pop(request_id, None)
            if previous is not None:  # the same id again: the first never got its response
                yield self._event(*previous, ctx, paired=False)
            self._pending[request_id] = (record, entry, found)
            if len(self._pending) > _MAX_BUFFERED:
                oldest = next(iter(self._pending))
                yield self._event(*self._pending.pop(oldest), ctx, paired=False)
            return
        self._pending.pop(request_id, None)
        yield self._event(record, entry, found, ctx, paired=True)

    def _event(
        self,
        record: RawRecord,
        entry: dict[str, Any],
        found: tuple[str, str, str],
        ctx: ParseContext,
        paired: bool,
    ) -> Event:
        kind, identity, operation = found
        request, auth = mapping(entry, "request"), mapping(entry, "auth")
        actor = _actor(auth, request, ctx)
        root = is_root_token(auth)
        if root:
            actor = replace(actor, credential=ROOT_CREDENTIAL)
        key = ctx.key("vault-transit", identity, operation) if identity else None
        target = Target()
        if key is None:  # a root token's request on another path: the path is the target
            namespace = (text(mapping(request, "namespace"), "path") or "").strip("/")
            path = request["path"].strip("/")
            target = Target(resource=f"{namespace}/{path}" if namespace else path)
        time_text = entry["time"]
        if paired:
            response = mapping(entry, "response")
            failed = text(entry, "error") or text(response, "error")
            failed = failed or text(mapping(response, "data"), "error")
            outcome = "failure" if failed else "success"
        else:
            outcome = "failure" if text(entry, "error") else "unknown"
        attrs: dict[str, Any] = {
            "path": request["path"],
            "operation": text(request, "operation"),
            "entry": entry.get("type"),
            "entity_id": text(auth, "entity_id"),
            "policies": list(texts(auth.get("policies"))) or None,
            "error": text(entry, "error"),
        }
        if root:
            name = text(auth, "display_name")
            attrs["root_token"] = True
            attrs["display_name"] = name if name and name.startswith(_HMAC) else None
            attrs["mount_type"] = text(request, "mount_type")
            attrs["token_type"] = text(auth, "token_type")
        return Event(
            kind=kind,
            time=utc_time(time_text) or "",
            time_text=time_text,
            provenance=Provenance(
                self.name,
                ctx.source,
                record.location,
                self.version,
                raw_sha256(record.data),
                request["id"],
            ),
            actor=actor,
            target=target,
            outcome=outcome,
            key=key,
            scope=ctx.scope(key=key, actor=actor),
            attrs=tuple(sorted((k, v) for k, v in attrs.items() if v is not None)),
        )

    def _quarantine(self, record: RawRecord, ctx: ParseContext, reason: str) -> Quarantined:
        return Quarantined(self.name, ctx.source, record.location, reason, record.data)


def is_root_token(auth: dict[str, Any]) -> bool:
    """Whether the request was made with a root token: one carrying the ``root`` policy."""
    return ROOT_POLICY in texts(auth.get("policies")) or ROOT_POLICY in texts(
        auth.get("token_policies")
    )


def _actor(auth: dict[str, Any], request: dict[str, Any], ctx: ParseContext) -> Actor:
    src_ip = host_of(text(request, "remote_address"))
    name = text(auth, "display_name")
    if name is None or name.startswith(_HMAC):
        return Actor(credential=name, src_ip=src_ip)
    actor = ctx.actor("vault", name, src_ip=src_ip)
    if not actor.resolved and "-" in name:
        stripped = ctx.actor("vault", name.split("-", 1)[1], src_ip=src_ip)
        if stripped.resolved:
            return replace(stripped, user=name)
    return actor


def _classify(
    request: dict[str, Any], path: str, mounts: frozenset[str]
) -> tuple[str, str, str] | str:
    """(kind, key identity, operation) for a transit key path, else why it is none."""
    operation = text(request, "operation") or ""
    mount_type = request.get("mount_type")
    if mount_type is not None and mount_type != "transit":
        return SKIP_MOUNT
    if operation in _IGNORED_OPERATIONS:
        return SKIP_OPERATION
    parts = path.strip("/").split("/")
    mount_point = (text(request, "mount_point") or "").strip("/")
    if mount_point and path.startswith(mount_point + "/"):
        found = _match(parts, mount_point.count("/") + 1)
    else:
        found = None
        for i in range(1, len(parts) - 1):
            found = _match(parts, i)
            if found is not None:
                break
    if found is None:
        return SKIP_PATH
    mount_len, kind, key, op = found
    mount = "/".join(parts[:mount_len])
    if mount_type is None and mount not in mounts:
        return SKIP_MOUNT
    if kind == "key.config" and op == "":
        if operation not in ("create", "update", "delete"):
            return SKIP_OPERATION
        op = "delete" if operation == "delete" else "create"
    namespace = (text(mapping(request, "namespace"), "path") or "").strip("/")
    return kind, f"{namespace}/{mount}/{key}" if namespace else f"{mount}/{key}", op


def _match(parts: list[str], i: int) -> tuple[int, str, str, str] | None:
    """Parse ``parts[i:]`` as a transit operation; (mount length, kind, key, operation)."""
    if i < 1 or i >= len(parts):
        return None
    segment, rest = parts[i], parts[i + 1 :]
    if not all(rest):
        return None
    if segment in _USE and len(rest) in _USE[segment]:
        key = rest[1] if segment in ("datakey", "export") else rest[0]
        return i, "key.use", key, segment
    if segment == "keys" and len(rest) == 1:
        return i, "key.config", rest[0], ""
    if segment == "keys" and len(rest) == 2 and rest[1] in _KEY_SUBPATHS:
        return i, _KEY_SUBPATHS[rest[1]], rest[0], rest[1]
    return None
