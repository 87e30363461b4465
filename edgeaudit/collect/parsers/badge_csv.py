"""Door controller CSV exports (FORMATS.md section 5, physical access).

Framing ``lines``. The first non-blank line is the header; the parser is stateful only in
remembering it (and the last log id), and yields ``Resume`` after every line. A line whose
fields include every required column name is taken as a (new) header wherever it appears, so
concatenated exports work. Columns are found by header name: options ``col.time``,
``col.log_id``, ``col.event``, ``col.door``, ``col.card``, ``col.holder``, ``col.company``,
``col.reason`` (defaults: the same names without ``col.``); ``time``, ``log_id`` and ``event``
are required, the others optional. ``time_format`` (default ``%Y-%m-%d %H:%M:%S``) parses the
time; ``encoding`` (default ``utf-8``) decodes lines. A header option (``header=time,log_id,...``)
stands in for the header line when a run resumes after it.

Kinds: ``physical.access`` (granted, success), ``physical.denied`` (denied, failure, with the
reason), ``physical.alarm`` (forced open / held open, ``attrs.alarm``), ``physical.tamper``, and
``audit.pipeline`` when the sequential log id jumps (failure; ``expected``/``found``/``missing``)
or goes backwards (unknown; a controller reset or a re-ordered export). A line quarantined
before its log id could be read counts as missing in the next gap event (its raw line is in the
quarantine); after a resume the first line has no predecessor, so no gap is checked there.

Traps handled: times are local without a zone, so ``ctx.timezone`` is required; an ambiguous
local time (DST fall back) takes the first occurrence and sets ``attrs.time_ambiguous``; a
non-existent one (spring forward) is quarantined. Card numbers are stored only as
``hmac-sha256:<16 hex>`` of HMAC-SHA256 under ``ctx.hmac_key``; the number itself appears in no
event, and quarantined lines have the card field replaced by ``<card redacted>``.

Skipped: blank lines and header lines. Quarantined: everything when no card hashing key is
configured; a line that is not valid text in the configured encoding or not valid CSV (e.g. an
unterminated quote), a data line before any header, a header lacking a required column, a wrong
field count, a log id that is not an integer, a time that does not match the format, no
configured time zone, a local time in a DST gap, and an unknown event type.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal
from zoneinfo import ZoneInfo

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume
from edgeaudit.collect.model import Event, Provenance, Quarantined, Target, raw_sha256

DEFAULT_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
COLUMNS: Final = ("time", "log_id", "event", "door", "card", "holder", "company", "reason")
REQUIRED: Final = ("time", "log_id", "event")
# normalized event text -> (kind, outcome, alarm)
_EVENTS: Final[dict[str, tuple[str, str, str | None]]] = {
    "granted": ("physical.access", "success", None),
    "access granted": ("physical.access", "success", None),
    "denied": ("physical.denied", "failure", None),
    "access denied": ("physical.denied", "failure", None),
    "forced open": ("physical.alarm", "unknown", "forced_open"),
    "door forced open": ("physical.alarm", "unknown", "forced_open"),
    "held open": ("physical.alarm", "unknown", "held_open"),
    "door held open": ("physical.alarm", "unknown", "held_open"),
    "tamper": ("physical.tamper", "unknown", None),
    "reader tamper": ("physical.tamper", "unknown", None),
}
NO_KEY: Final = "no card hashing key configured"
NO_ZONE: Final = "no time zone configured: badge times are local (set site.timezone or --timezone)"
DST_GAP: Final = "local time does not exist (DST gap)"


class _Bad(Exception):
    """A line to quarantine (internal control flow only)."""


def _utc_text(dt: datetime) -> str:
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


class BadgeCsvParser:
    name: ClassVar[str] = "badge-csv"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True
    header_lines: ClassVar[int] = 1  # the runner re-feeds the header when resuming

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        opts = ctx.options
        self._names = {c: opts.get(f"col.{c}", c) for c in COLUMNS}
        self._format = opts.get("time_format", DEFAULT_TIME_FORMAT)
        self._encoding = opts.get("encoding", "utf-8")
        self._probe = self._names["log_id"]  # cheap test for a header line
        self._index: dict[str, int] | None = None
        self._cols: tuple[int, ...] = ()  # field index of each of COLUMNS, -1 when absent
        self._width = 0
        self._last_id: int | None = None
        # local minute -> (offset, ambiguous, UTC "YYYY-MM-DDTHH:MM" or ""), None in a DST gap
        self._offsets: dict[datetime, tuple[timedelta, bool, str] | None] = {}
        self._cards: dict[str, str] = {}
        header = opts.get("header")
        if header is not None:
            self._try_header(next(csv.reader([header])))
        for record in records:
            yield from self._line(record, ctx)
            yield Resume(record.offset)

    def _try_header(self, fields: list[str]) -> bool:
        names = [f.strip() for f in fields]
        if not all(self._names[c] in names for c in REQUIRED):
            return False
        self._index = {c: names.index(n) for c, n in self._names.items() if n in names}
        self._cols = tuple(self._index.get(c, -1) for c in COLUMNS)
        self._width = len(names)
        return True

    def _line(self, record: RawRecord, ctx: ParseContext) -> Iterator[Event | Quarantined]:
        data = record.data
        fields: list[str] | None = None
        try:
            text = data.decode(self._encoding).lstrip("\ufeff")
            if not text.strip():
                return
            try:
                fields = next(csv.reader([text], strict=True))
            except csv.Error as exc:
                raise _Bad(f"not valid CSV: {exc}") from None  # fields stays None
            if self._probe in text and self._try_header(fields):
                return
            yield from self._row(fields, record, ctx)
        except UnicodeDecodeError as exc:
            reason = f"not valid {self._encoding} text ({exc.reason} at byte {exc.start})"
            yield Quarantined(
                self.name, ctx.source, record.location, reason, self._redact(data, None)
            )
        except LookupError:
            reason = f"unknown encoding {self._encoding!r} (option encoding)"
            yield Quarantined(self.name, ctx.source, record.location, reason, data)
        except _Bad as exc:
            yield Quarantined(
                self.name, ctx.source, record.location, str(exc), self._redact(data, fields)
            )

    def _redact(self, data: bytes, fields: list[str] | None) -> bytes:
        """The line with its card number replaced, for the quarantine (best effort when the
        line is not valid text or CSV: a plain comma split with the header's field count)."""
        idx = self._index.get("card") if self._index else None
        if fields is None:
            fields = data.decode(self._encoding, "replace").split(",")
            if len(fields) != self._width:
                return data
        if idx is None or idx >= len(fields):
            return data
        card = fields[idx].strip()
        return (
            data.replace(card.encode(self._encoding, "replace"), b"<card redacted>")
            if card
            else data
        )

    def _row(
        self, fields: list[str], record: RawRecord, ctx: ParseContext
    ) -> Iterator[Event | Quarantined]:
        if ctx.hmac_key is None:
            raise _Bad(NO_KEY)
        index = self._index
        if index is None:
            raise _Bad("no CSV header before this line (when resuming, pass --option header=...)")
        if len(fields) != self._width:
            raise _Bad(f"expected {self._width} fields as in the header, found {len(fields)}")

        values = [fields[i].strip() if i >= 0 else "" for i in self._cols]
        time_text, log_text, event_text, door, card, holder, company, reason = values
        try:
            log_id = int(log_text)
        except ValueError:
            raise _Bad(f"log_id {log_text!r} is not an integer") from None
        last, self._last_id = self._last_id, log_id
        try:
            time, ambiguous = self._utc(time_text, ctx.timezone)
        except _Bad as exc:
            if last is not None and log_id != last + 1:
                raise _Bad(f"{exc}; log_id went from {last} to {log_id}") from None
            raise
        raw_hash = raw_sha256(record.data)

        def provenance() -> Provenance:
            return Provenance(
                self.name, ctx.source, record.location, self.version, raw_hash, str(log_id)
            )

        if last is not None and log_id != last + 1:
            gap = log_id > last + 1
            attrs: dict[str, Any] = {"expected": last + 1, "found": log_id}
            attrs["reason"] = "log_id gap" if gap else "log_id went backwards"
            if gap:
                attrs["missing"] = log_id - last - 1
            yield Event(
                kind="audit.pipeline",
                time=time,
                time_text=time_text,
                provenance=provenance(),
                outcome="failure" if gap else "unknown",
                attrs=tuple(sorted(attrs.items())),
            )
        found = _EVENTS.get(event_text) or _EVENTS.get(
            " ".join(event_text.lower().replace("_", " ").split())
        )
        if found is None:
            raise _Bad(f"unknown event type {event_text!r}")
        kind, outcome, alarm = found
        attrs_out: dict[str, Any] = {}
        if company:
            attrs_out["company"] = company
        if reason:
            attrs_out["reason"] = reason
        if alarm is not None:
            attrs_out["alarm"] = alarm
        if ambiguous:
            attrs_out["time_ambiguous"] = True
        credential = self._hash(card, ctx.hmac_key) if card else None
        actor = ctx.actor("badge", holder or None, credential=credential)
        tenant = actor.tenant
        yield Event(
            kind=kind,
            time=time,
            time_text=time_text,
            provenance=provenance(),
            actor=actor,
            target=Target(resource=door or None),
            outcome=outcome,
            scope=(tenant,) if tenant and tenant != "shared" else (),  # = ctx.scope(actor=actor)
            attrs=tuple(sorted(attrs_out.items())),
        )

    def _hash(self, card: str, key: bytes) -> str:
        found = self._cards.get(card)
        if found is None:
            if len(self._cards) > 4096:
                self._cards.clear()
            digest = hmac.new(key, card.encode(), hashlib.sha256).hexdigest()
            found = self._cards[card] = f"hmac-sha256:{digest[:16]}"
        return found

    def _utc(self, text: str, zone: ZoneInfo | None) -> tuple[str, bool]:
        """RFC 3339 UTC text of a local time, and whether it was ambiguous."""
        if zone is None:
            raise _Bad(NO_ZONE)
        try:
            if self._format == DEFAULT_TIME_FORMAT and len(text) == 19 and text[10] == " ":
                local = datetime.fromisoformat(text)
            else:
                local = datetime.strptime(text, self._format)
        except ValueError:
            raise _Bad(f"time {text!r} does not match the format {self._format!r}") from None
        if local.tzinfo is not None:
            return _utc_text(local.astimezone(UTC)), False
        minute = local.replace(second=0, microsecond=0)
        try:
            if minute in self._offsets:
                found = self._offsets[minute]
            else:
                if len(self._offsets) > 4096:
                    self._offsets.clear()
                found = self._offsets[minute] = _offset(minute, zone)
            if found is None:
                raise _Bad(DST_GAP)
            offset, ambiguous, prefix = found
            if not prefix:  # an offset in seconds (old local mean time): no shortcut
                return _utc_text(local - offset), ambiguous
            fraction = f".{local.microsecond:06d}".rstrip("0") if local.microsecond else ""
            return f"{prefix}:{local.second:02d}{fraction}Z", ambiguous
        except (OverflowError, ValueError):
            raise _Bad(f"time {text!r} is out of the supported range") from None


def _offset(local: datetime, zone: ZoneInfo) -> tuple[timedelta, bool, str] | None:
    """The UTC offset of a naive local minute in ``zone`` (first occurrence), whether the time
    is ambiguous and the UTC minute as text ("" when the offset has seconds), or None when it
    does not exist (DST gap)."""
    first = local.replace(tzinfo=zone, fold=0)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != local:
        return None
    offset = first.utcoffset() or timedelta(0)
    second = local.replace(tzinfo=zone, fold=1).utcoffset()
    prefix = "" if offset.seconds % 60 or offset.microseconds else _utc_text(local - offset)[:16]
    return offset, second is not None and second != offset, prefix
