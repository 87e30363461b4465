"""The work of :class:`edgeaudit.collect.parsers.keystate.VaultKeyStateParser`: one
``vault read -format=json <mount>/keys/<name>`` document becomes one ``key.state`` event."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edgeaudit.collect.interface import ParseContext, RawRecord
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._teleport_vault_common import (
    load_object,
    mapping,
    text,
    unix_time,
    utc_time,
)

_BOM = b"\xef\xbb\xbf"


class _Bad(Exception):
    """A document to quarantine (internal control flow only)."""


def vault_key_state(
    record: RawRecord, ctx: ParseContext, source_kind: str, version: str
) -> Event | Quarantined:
    try:
        return _event(record, ctx, source_kind, version)
    except _Bad as exc:
        return Quarantined(source_kind, ctx.source, record.location, str(exc), record.data)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _created(number: str, value: object) -> tuple[str, str]:
    """(UTC time, as written) of one key version's creation."""
    written = value.get("creation_time") if isinstance(value, dict) else value  # asymmetric keys
    utc = utc_time(written) if isinstance(written, str) else unix_time(written)
    if utc is None:
        raise _Bad(f"key version {number}: creation time {written!r} is not Unix or RFC 3339")
    return utc, str(written)


def _event(record: RawRecord, ctx: ParseContext, source_kind: str, version: str) -> Event:
    data = record.data.removeprefix(_BOM)
    if not data.strip():
        raise _Bad("empty input: no JSON document")
    doc, reason = load_object(data)
    if doc is None:
        raise _Bad(reason)
    body = mapping(doc, "data") or (doc if "keys" in doc else None)
    if body is None:
        raise _Bad("no 'data' object (expected the output of vault read -format=json)")
    name = text(body, "name")
    if name is None:
        raise _Bad("no key 'name' in data")
    keys = body.get("keys")
    if not isinstance(keys, dict) or not keys:
        raise _Bad("'keys' must be a non-empty object of version: creation time")
    versions: dict[int, tuple[str, str]] = {}
    for number, value in keys.items():
        if not number.isdigit() or not number.isascii() or int(number) < 1:
            raise _Bad(f"key version {number!r} is not a positive integer")
        versions[int(number)] = _created(number, value)
    latest = _int(body.get("latest_version"))
    if "latest_version" in body and (latest is None or latest < 1):
        raise _Bad(f"latest_version {body.get('latest_version')!r} is not a positive integer")
    latest = latest or max(versions)
    if latest not in versions:
        raise _Bad(f"latest_version {latest} has no creation time in 'keys'")
    observed = ctx.options.get("observed_at")
    if observed is not None:
        time = utc_time(observed)
        if time is None:
            raise _Bad(f"option observed_at {observed!r} is not an RFC 3339 time")
        time_text = observed
    else:
        time, time_text = versions[latest]
    mount = ctx.options.get("mount", "transit").strip("/") or "transit"
    key = replace(ctx.key("vault-transit", f"{mount}/{name}"), version=latest)
    attrs: dict[str, Any] = {
        "latest_version": latest,
        "latest_version_created": versions[latest][0],
        "versions": {str(n): versions[n][0] for n in sorted(versions)},
        "min_decryption_version": _int(body.get("min_decryption_version")),
        "min_encryption_version": _int(body.get("min_encryption_version")),
        "auto_rotate_period_s": _int(body.get("auto_rotate_period")),
        "type": text(body, "type"),
    }
    for flag in ("deletion_allowed", "exportable"):
        if isinstance(body.get(flag), bool):
            attrs[flag] = body[flag]
    return Event(
        kind="key.state",
        time=time,
        time_text=time_text,
        provenance=Provenance(
            source_kind,
            ctx.source,
            record.location,
            version,
            raw_sha256(record.data),
            text(doc, "request_id"),
        ),
        outcome="success",
        key=key,
        scope=ctx.scope(key=key),
        attrs=tuple(sorted((k, v) for k, v in attrs.items() if v is not None)),
    )
