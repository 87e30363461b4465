"""Key state snapshots: what a key management system says about its keys at one moment.

Each parser here turns a state listing into ``key.state`` events (one per key), so rotation
age and configuration can be checked against policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256
from edgeaudit.collect.parsers._vault_keystate import vault_key_state

# --- Vault transit key state -------------------------------------------------------------------


class VaultKeyStateParser:
    """``vault read -format=json <mount>/keys/<name>`` output: one ``key.state`` event per file.

    Framing ``file``: one JSON document, ``{"request_id", "data": {...}}`` or the bare ``data``
    object. ``data.keys`` maps each version to its creation time: Unix seconds (symmetric keys),
    RFC 3339 text, or an object with ``creation_time`` (asymmetric keys); trimmed versions are
    simply absent. The key is ``ctx.key("vault-transit", "<mount>/<name>")`` with option
    ``mount`` (default ``transit``) and ``KeyRef.version`` = ``latest_version`` (the highest
    listed version when absent). Attrs: ``latest_version``, ``latest_version_created``,
    ``versions`` ({version: created, UTC}), ``min_decryption_version``,
    ``min_encryption_version``, ``auto_rotate_period_s``, ``type``, ``deletion_allowed``,
    ``exportable``. The event time is option ``observed_at`` (RFC 3339, any offset) when given,
    else the latest version's creation time; ``native_id`` is ``request_id``.

    Quarantined: empty input, input that is not one JSON object (a UTF-8 BOM is allowed), no
    ``data``/``name``/``keys``, a version that is not a positive integer, a creation time that is
    neither Unix seconds nor RFC 3339, a ``latest_version`` that is not listed, a bad
    ``observed_at``. Nothing is skipped.
    """

    name: ClassVar[str] = "vault-keystate"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "file"
    stateful: ClassVar[bool] = False
    options: ClassVar[dict[str, str]] = {
        "observed_at": "when the key state was read (RFC 3339; default: its latest version's "
        "creation)",
        "mount": "the transit mount of the key (default transit)",
    }

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for record in records:
            yield vault_key_state(record, ctx, self.name, self.version)


# KmsRotationParser: see below

# --- AWS KMS rotation status -------------------------------------------------------------------

_KMS_NO_TIME = "no observation time: pass --option observed_at=..."


def _kms_time(value: object, field: str) -> str:
    """RFC 3339 UTC text of an AWS CLI date: ISO 8601 with an offset, or epoch seconds."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            when = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            when = datetime.fromisoformat(value)
            if when.tzinfo is None:
                raise _KmsBad(f"{field} {value!r} has no UTC offset")
            when = when.astimezone(UTC)
        else:
            raise _KmsBad(f"{field} must be a date string or epoch seconds, got {value!r}")
    except (ValueError, OverflowError, OSError):
        raise _KmsBad(f"{field} {value!r} is not an ISO 8601 date") from None
    text = (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


class _KmsBad(Exception):
    """A document to quarantine (internal control flow only)."""


def _kms_documents(data: bytes) -> list[dict[str, Any]]:
    """Every JSON object in the file: one object, an array of objects, or several concatenated."""
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise _KmsBad(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    decoder = json.JSONDecoder()
    docs: list[dict[str, Any]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits
            raise _KmsBad(f"not valid JSON: {exc}") from None
        for doc in value if isinstance(value, list) else [value]:
            if not isinstance(doc, dict):
                raise _KmsBad(f"expected JSON objects, found a JSON {type(doc).__name__}")
            docs.append(doc)
    if not docs:
        raise _KmsBad("no JSON document in the file")
    return docs


def _kms_merge(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Documents grouped by key (file order), status fields merged, rotations collected."""
    keys: dict[str, dict[str, Any]] = {}
    for doc in docs:
        rotations = doc.get("Rotations", [])
        if not isinstance(rotations, list) or not all(isinstance(r, dict) for r in rotations):
            raise _KmsBad("Rotations must be a list of objects")
        ids = [r.get("KeyId") for r in rotations] + ([doc["KeyId"]] if "KeyId" in doc else [])
        if not ids or not all(isinstance(k, str) and k for k in ids):
            raise _KmsBad("a document without a KeyId (in itself or in each of its Rotations)")
        named: set[str] = set(ids)
        if len(named) > 1:
            raise _KmsBad(f"one document names several keys: {', '.join(sorted(named))}")
        merged = keys.setdefault(named.pop(), {"Rotations": []})
        for field in ("KeyRotationEnabled", "RotationPeriodInDays", "NextRotationDate"):
            if field in doc:
                if field in merged and merged[field] != doc[field]:
                    raise _KmsBad(f"conflicting {field} for the same key across documents")
                merged[field] = doc[field]
        for field in ("OnDemandRotationStartDate", "Truncated"):
            if field in doc:
                merged[field] = doc[field]
        merged["Rotations"].extend(rotations)
    return keys


class KmsRotationParser:
    """``aws kms get-key-rotation-status`` and/or ``aws kms list-key-rotations`` output.

    Framing ``file``. Accepts one JSON object (either shape, or both merged), a JSON array of
    them, or several concatenated; documents are grouped by key, and each key gives one
    ``key.state`` event (``native_id`` = the KeyId, ``raw_sha256`` of the file) with attrs
    ``rotation_enabled``, ``rotation_period_days``, ``last_rotation`` (latest RotationDate),
    ``last_rotation_type``, ``next_rotation``, ``rotation_count`` (the first four are null when
    the documents do not say) and ``rotations_truncated`` when the listing was paginated. Dates
    may be ISO 8601 with an offset or epoch seconds (the CLI's ``cli_timestamp_format``). The
    event time is option ``observed_at`` (RFC 3339, any offset), else the latest rotation date.

    Quarantined (the whole file when it cannot be read, else the one key): not UTF-8, not JSON,
    a non-object document, a document with no KeyId or naming several keys, conflicting status
    fields for one key, wrongly typed fields, bad dates, a bad ``observed_at``, and no time at
    all. Nothing is skipped.
    """

    name: ClassVar[str] = "kms-rotation"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "file"
    stateful: ClassVar[bool] = False
    options: ClassVar[dict[str, str]] = {
        "observed_at": "when the rotation state was read (RFC 3339; default: the last rotation)",
    }

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for record in records:
            try:
                keys = _kms_merge(_kms_documents(record.data))
            except _KmsBad as exc:
                yield Quarantined(self.name, ctx.source, record.location, str(exc), record.data)
                continue
            for key_id, merged in keys.items():
                try:
                    yield self._event(key_id, merged, record, ctx)
                except _KmsBad as exc:
                    reason = f"key {key_id}: {exc}"
                    yield Quarantined(self.name, ctx.source, record.location, reason, record.data)

    def _event(
        self, key_id: str, merged: dict[str, Any], record: RawRecord, ctx: ParseContext
    ) -> Event:
        enabled = merged.get("KeyRotationEnabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise _KmsBad(f"KeyRotationEnabled must be true or false, got {enabled!r}")
        period = merged.get("RotationPeriodInDays")
        if period is not None and (isinstance(period, bool) or not isinstance(period, int)):
            raise _KmsBad(f"RotationPeriodInDays must be an integer, got {period!r}")
        nxt = merged.get("NextRotationDate")
        latest: tuple[str, str, object] | None = None  # (utc, as written, type)
        for rotation in merged["Rotations"]:
            written = rotation.get("RotationDate")
            utc = _kms_time(written, "RotationDate")
            if latest is None or utc > latest[0]:
                latest = (utc, str(written), rotation.get("RotationType"))
        attrs: dict[str, Any] = {
            "rotation_enabled": enabled,
            "rotation_period_days": period,
            "last_rotation": latest[0] if latest else None,
            "next_rotation": _kms_time(nxt, "NextRotationDate") if nxt is not None else None,
            "rotation_count": len(merged["Rotations"]),
        }
        if latest is not None and isinstance(latest[2], str):
            attrs["last_rotation_type"] = latest[2]
        if merged.get("OnDemandRotationStartDate") is not None:
            start = merged["OnDemandRotationStartDate"]
            attrs["on_demand_rotation_start"] = _kms_time(start, "OnDemandRotationStartDate")
        if merged.get("Truncated") is True:
            attrs["rotations_truncated"] = True
        observed = ctx.options.get("observed_at")
        if observed is not None:
            time, time_text = _kms_time(observed, "option observed_at"), observed
        elif latest is not None:
            time, time_text = latest[0], latest[1]
        else:
            raise _KmsBad(_KMS_NO_TIME)
        key = ctx.key("aws-kms", key_id)
        return Event(
            kind="key.state",
            time=time,
            time_text=time_text,
            provenance=Provenance(
                self.name,
                ctx.source,
                record.location,
                self.version,
                raw_sha256(record.data),
                key_id,
            ),
            outcome="success",
            key=key,
            scope=ctx.scope(key=key),
            attrs=tuple(sorted(attrs.items())),
        )
