"""Door controller CSV exports (physical access).

Framing ``lines``. The first non-blank line is the header; the parser is stateful only in
remembering it (and the last log id), and yields ``Resume`` after every line. A line that names
a time and an event column is taken as a (new) header wherever it appears, so concatenated
exports work.

Columns are found by header name, case, spacing and ``_`` aside. Without options the usual
names of access-control exports are recognised (Lenel OnGuard, Genetec Security Center,
Honeywell Pro-Watch, Gallagher Command Centre, HID, ...); the first name of each list present
in the header wins:

* ``time``: time, date/time, time/date, datetime, timestamp, event time, event timestamp,
  ... , date; a separate ``date`` column (date, event date) is put before it;
* ``event``: event, event type, event name, event description, description, message, ..., type;
* ``log_id`` (optional; the controller's sequential log number): log id, sequence, seq, ...;
* ``door``: door, access point, reader, device, location, ...;
* ``card``: card number, card no, card #, card, badge number, badge id, badge, credential
  code, credential number, credential, ...;
* ``holder``: cardholder, card holder, name, person, employee, ...; else first name + last name;
* ``company`` (company, organization, department, ...) and ``reason`` (reason, details, ...).

Option ``col.<column>`` (``col.time``, ``col.log_id``, ``col.event``, ``col.door``,
``col.card``, ``col.holder``, ``col.company``, ``col.reason``, ``col.date``,
``col.first_name``, ``col.last_name``) names the one header name to use instead. ``time`` and
``event`` are required. ``time_format`` (strptime; default: ISO 8601 such as
``2026-11-22 09:00:00``, ``2026-11-22T09:00:00.5`` or with an offset) parses the time (the date
and time joined by a space when they are two columns); ``encoding`` (default ``utf-8``) decodes
lines. A header option (``header=time,log_id,...``) stands in for the header line when a run
resumes after it.

Event names are compared in lower case with single spaces. Beyond the built-in list (the usual
spellings: "Door Forced Open", "Held Open", "Door Ajar", "Tamper Alarm", "Access Denied -
Invalid Time Zone", ...) options ``events.granted``, ``events.denied``, ``events.forced_open``,
``events.held_open`` and ``events.tamper`` each list a site's own names, ``|``-separated (e.g.
``--option 'events.tamper=Cabinet Open Alarm|Enclosure Breach'``); they take precedence.

Kinds: ``physical.access`` (granted, success), ``physical.denied`` (denied, failure, with the
reason; ``Access denied: <why>`` gives the reason when no reason column says it),
``physical.alarm`` (forced open / held open / open too long, ``attrs.alarm``),
``physical.tamper``, and ``audit.pipeline`` when the sequential log id jumps (failure;
``expected``/``found``/``missing``) or goes backwards (unknown; a controller reset or a
re-ordered export). A line quarantined before its log id could be read counts as missing in the
next gap event (its raw line is in the quarantine); after a resume the first line has no
predecessor, so no gap is checked there. Without a log id column there is no gap check and
events are identified by their location.

Traps handled: times are local without a zone, so ``ctx.timezone`` is required; an ambiguous
local time (DST fall back) takes the first occurrence and sets ``attrs.time_ambiguous``; a
non-existent one (spring forward) is quarantined.

Card numbers never leave the parser in clear, events and quarantine alike. The card column is
stored only as ``hmac-sha256:<16 hex>`` of HMAC-SHA256 under ``ctx.hmac_key`` (the actor's
``credential``). Anything else that looks like a card number (8 to 19 digits in a run, or in
groups of four separated by spaces or dashes as payment cards are written; no Luhn check, since
access cards are not Luhn numbers) is replaced by ``<card hmac-sha256:...>`` (the same keyed
hash, so a quarantined line can be matched with the events of that card), or by
``<card redacted>`` without a key: in the door, holder, company and reason of an event (their
names listed in ``attrs.redacted``), and in a quarantined line and its reason. A quarantined
line also has its card column and any other card or PIN column (badge id, credential, PIN,
facility code, ...) replaced; its log id is kept. Those events and quarantined lines, from
which anything was removed besides the hashed card column of an event, say ``redacted=True``
(the collect summary's ``redacted`` count; ``redacted_rows`` counts them per parser).

Skipped: blank lines and header lines. Quarantined: everything when no card hashing key is
configured; a line that is not valid text in the configured encoding or not valid CSV (e.g. an
unterminated quote), a header naming no time or no event column, a data line before any
recognised header, a wrong field count, a log id that is not an integer, a time that does not
match the format, no configured time zone, a local time in a DST gap, and an unknown event
type.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord, Resume
from edgeaudit.collect.model import Event, Provenance, Quarantined, Target, raw_sha256
from edgeaudit.collect.parsers._badge_cards import (
    _CARD_LIKE_BYTES,
    CARD_LIKE,
    PIN_REDACTED,
    REDACTED,
    CardRedaction,
)
from edgeaudit.collect.parsers._badge_columns import (
    _KNOWN_NAMES,
    CARD_COLUMNS,
    COLUMNS,
    EXTRA,
    PIN_COLUMNS,
    REQUIRED,
    SYNONYMS,
    normalize,
)
from edgeaudit.collect.parsers._badge_events import EVENT_OPTIONS, _event_type, event_words
from edgeaudit.collect.parsers._badge_header import HeaderColumns
from edgeaudit.collect.parsers._badge_local import LocalTimes, _Bad

# names this module has always offered (the tests and the damaged-input checks import them)
__all__ = [
    "CARD_COLUMNS",
    "CARD_LIKE",
    "COLUMNS",
    "EVENT_OPTIONS",
    "EXTRA",
    "NO_KEY",
    "PIN_COLUMNS",
    "PIN_REDACTED",
    "REDACTED",
    "REQUIRED",
    "SYNONYMS",
    "_CARD_LIKE_BYTES",
    "BadgeCsvParser",
    "event_words",
    "normalize",
]

NO_KEY: Final = "no card hashing key configured"


class BadgeCsvParser(CardRedaction, HeaderColumns, LocalTimes):
    name: ClassVar[str] = "badge-csv"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = True
    header_lines: ClassVar[int] = 1  # the runner re-feeds the header when resuming
    uses: ClassVar[frozenset[str]] = frozenset({"timezone", "hmac_key"})
    options: ClassVar[dict[str, str]] = {
        **{f"col.{c}": f"the header name of the {c} column" for c in (*COLUMNS, *EXTRA)},
        "time_format": "strptime format of the time column (default ISO 8601)",
        "encoding": "the export's text encoding (default utf-8)",
        "header": "the CSV header line, when the input has none (e.g. resuming)",
        **{
            k: f"more event names ('|'-separated) that mean {v[2] or v[0]}"
            for k, v in EVENT_OPTIONS.items()
        },
    }

    def __init__(self) -> None:
        self.redacted_rows = 0  # events and quarantined lines that had something removed

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        opts = ctx.options
        # column -> the header names that may hold it, in order of preference
        self._candidates: dict[str, tuple[str, ...]] = {}
        for c in (*COLUMNS, *EXTRA):
            given = opts.get(f"col.{c}")
            self._candidates[c] = (normalize(given),) if given is not None else SYNONYMS[c]
        configured = {normalize(v) for k, v in opts.items() if k.startswith("col.")}
        self._digit_names = any(any(ch.isdigit() for ch in n) for n in configured)
        self._format = opts.get("time_format")
        self._encoding = opts.get("encoding", "utf-8")
        self._events = {
            event_words(name): spec
            for option, spec in EVENT_OPTIONS.items()
            for name in opts.get(option, "").split("|")
            if name.strip()
        }
        self._index: dict[str, int] | None = None
        self._cols: tuple[int, ...] = ()  # field index of each of COLUMNS + EXTRA, -1 if absent
        self._card_fields: tuple[int, ...] = ()  # fields never quarantined in clear
        self._pin_fields: tuple[int, ...] = ()
        self._width = 0
        self._unrecognised: str | None = None  # location of a header line not recognised
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
            if self._maybe_header(text):
                if self._try_header(fields):
                    return
                known = sum(normalize(f) in _KNOWN_NAMES for f in fields)
                if self._index is None or known >= 2:
                    reason = self._not_a_header(fields, record.location)
                    yield self._quarantine(record, ctx, reason, None)  # names, not values
                    return
            yield from self._row(fields, record, ctx)
        except UnicodeDecodeError as exc:
            reason = f"not valid {self._encoding} text ({exc.reason} at byte {exc.start})"
            yield self._quarantine(record, ctx, reason, None)
        except LookupError:
            reason = f"unknown encoding {self._encoding!r} (option encoding)"
            yield self._quarantine(record, ctx, reason, None)
        except _Bad as exc:
            yield self._quarantine(record, ctx, str(exc), fields)

    # -- rows ----------------------------------------------------------------------------------

    def _row(
        self, fields: list[str], record: RawRecord, ctx: ParseContext
    ) -> Iterator[Event | Quarantined]:
        if ctx.hmac_key is None:
            raise _Bad(NO_KEY)
        key = ctx.hmac_key
        if self._index is None:
            if self._unrecognised is not None:
                raise _Bad(f"no recognised CSV header before this line (see {self._unrecognised})")
            raise _Bad("no CSV header before this line (when resuming, pass --option header=...)")
        if len(fields) != self._width:
            raise _Bad(f"expected {self._width} fields as in the header, found {len(fields)}")

        values = [fields[i].strip() if i >= 0 else "" for i in self._cols]
        time_text, log_text, event_text, door, card, holder, company, reason = values[:8]
        date, first, last = values[8:]
        if date:
            time_text = f"{date} {time_text}".strip()
        if not holder and (first or last):
            holder = f"{first} {last}".strip()
        log_id: int | None = None
        last_id = self._last_id
        if self._cols[1] >= 0:
            try:
                log_id = int(log_text)
            except ValueError:
                raise _Bad(f"log_id {log_text!r} is not an integer") from None
            self._last_id = log_id
        try:
            time, ambiguous = self._utc(time_text, ctx.timezone)
        except _Bad as exc:
            if log_id is not None and last_id is not None and log_id != last_id + 1:
                raise _Bad(f"{exc}; log_id went from {last_id} to {log_id}") from None
            raise
        raw_hash = raw_sha256(record.data)

        def provenance() -> Provenance:
            return Provenance(
                self.name,
                ctx.source,
                record.location,
                self.version,
                raw_hash,
                None if log_id is None else str(log_id),
            )

        if log_id is not None and last_id is not None and log_id != last_id + 1:
            gap = log_id > last_id + 1
            attrs: dict[str, Any] = {"expected": last_id + 1, "found": log_id}
            attrs["reason"] = "log_id gap" if gap else "log_id went backwards"
            if gap:
                attrs["missing"] = log_id - last_id - 1
            yield Event(
                kind="audit.pipeline",
                time=time,
                time_text=time_text,
                provenance=provenance(),
                outcome="failure" if gap else "unknown",
                attrs=tuple(sorted(attrs.items())),
            )
        found = _event_type(event_text, self._events)
        if found is None:
            raise _Bad(f"unknown event type {event_text!r}")
        kind, outcome, alarm, why = found
        reason = reason or why
        redacted: list[str] = []
        if CARD_LIKE.search(f"{door}\n{holder}\n{company}\n{reason}") is not None:
            before = {"door": door, "holder": holder, "company": company, "reason": reason}
            after = {name: self._scrub(value, key) for name, value in before.items()}
            redacted = [name for name in before if after[name] != before[name]]
            door, holder, company, reason = after.values()
        attrs_out: dict[str, Any] = {}
        if company:
            attrs_out["company"] = company
        if reason:
            attrs_out["reason"] = reason
        if alarm is not None:
            attrs_out["alarm"] = alarm
        if ambiguous:
            attrs_out["time_ambiguous"] = True
        if redacted:
            attrs_out["redacted"] = redacted
            self.redacted_rows += 1
        credential = self._hash(card, key) if card else None
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
            redacted=bool(redacted),
        )
