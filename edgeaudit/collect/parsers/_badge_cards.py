"""Card number redaction of the ``badge-csv`` parser: what looks like a card number, its keyed
hash (``hmac-sha256:<16 hex>``), and the lines quarantined with their card and PIN columns and
anything card-like replaced. :class:`CardRedaction` is a part of
:class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`, which sets the state it reads (the
header's card, PIN and log id fields, the encoding) while parsing."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import ClassVar, Final

from edgeaudit.collect.interface import ParseContext, RawRecord
from edgeaudit.collect.model import Quarantined

REDACTED: Final = "<card redacted>"
PIN_REDACTED: Final = "<pin redacted>"
# A card number written anywhere: 8 to 19 digits in a run, or in groups as payment cards are
# printed (4-4-4-4[-3], 4-6-5). No Luhn check: access-control card numbers are not Luhn numbers.
_CARD_LIKE: Final = (
    r"(?<![0-9])(?:[0-9]{8,19}|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?"
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{5})(?![0-9])"
)
CARD_LIKE: Final = re.compile(_CARD_LIKE)
_CARD_LIKE_BYTES: Final = re.compile(_CARD_LIKE.encode())


class CardRedaction:
    """The card number handling of :class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`."""

    name: ClassVar[str]
    redacted_rows: int
    _encoding: str
    _index: dict[str, int] | None
    _cols: tuple[int, ...]
    _card_fields: tuple[int, ...]
    _pin_fields: tuple[int, ...]
    _width: int
    _cards: dict[str, str]

    def _token(self, card: str, key: bytes | None) -> str:
        return f"<card {self._hash(card, key)}>" if key is not None else REDACTED

    def _scrub(self, text: str, key: bytes | None, keep: str | None = None) -> str:
        """``text`` with everything that looks like a card number replaced (except ``keep``)."""
        if CARD_LIKE.search(text) is None:
            return text
        return CARD_LIKE.sub(
            lambda m: m.group() if m.group() == keep else self._token(m.group(), key), text
        )

    def _quarantine(
        self, record: RawRecord, ctx: ParseContext, reason: str, fields: list[str] | None
    ) -> Quarantined:
        raw = self._redact(record.data, fields, ctx.hmac_key)
        redacted = raw != record.data
        if redacted:
            self.redacted_rows += 1
        reason = self._scrub(reason, ctx.hmac_key)
        return Quarantined(self.name, ctx.source, record.location, reason, raw, redacted)

    def redact(self, data: bytes, ctx: ParseContext) -> bytes:
        """Raw bytes the runner quarantines itself (a binary region, an over-long line): their
        card and PIN columns by position (best effort) and anything card-like replaced."""
        if not hasattr(self, "_cols"):  # not parsing yet: no header, card-like runs only
            return _CARD_LIKE_BYTES.sub(REDACTED.encode(), data)
        return b"\n".join(
            self._redact(line, line.decode("latin-1").split(","), ctx.hmac_key)
            for line in data.split(b"\n")  # each as a head or a tail of a row: both ways
        )

    def _redact(self, data: bytes, fields: list[str] | None, key: bytes | None) -> bytes:
        """The line for the quarantine: the values of its card and PIN columns replaced (by
        position in the header; best effort when the line does not match the header), and
        anything else that looks like a card number, except the line's own log id."""
        try:
            text = data.decode(self._encoding)
        except (UnicodeDecodeError, LookupError):  # digits are ASCII in any usual encoding
            fields = data.decode("latin-1").split(",")
            text = None
        secrets: dict[str, str | None] = {}  # value -> its replacement (None: keyed hash)
        keep = None
        if fields is not None:
            if self._index is None:  # no recognised header: any field of 4+ digits may be one
                for value in fields:
                    if len(value.strip()) >= 4 and value.strip().isdigit():
                        secrets[value.strip()] = None
            # by position from the start and, for a line that is not as wide as the header
            # (e.g. the tail of a row cut by a damaged region), from the end too
            shifts = {0, len(fields) - self._width} if self._width else {0}
            for shift in shifts:
                for i in self._pin_fields:
                    if 0 <= i + shift < len(fields) and fields[i + shift].strip():
                        secrets[fields[i + shift].strip()] = PIN_REDACTED
                for i in self._card_fields:
                    if 0 <= i + shift < len(fields) and fields[i + shift].strip():
                        secrets[fields[i + shift].strip()] = None
            log_at = self._index.get("log_id", -1) if self._index is not None else -1
            if len(fields) == self._width and log_at >= 0 and fields[log_at].strip().isdigit():
                keep = fields[log_at].strip()
        ordered = sorted(secrets.items(), key=lambda item: len(item[0]), reverse=True)
        if text is None:
            out = data
            for value, fixed in ordered:
                token = (fixed or REDACTED).encode()
                out = _replace_bytes(out, value.encode("latin-1"), token)
            return _CARD_LIKE_BYTES.sub(
                lambda m: m.group() if m.group().decode() == keep else REDACTED.encode(), out
            )
        for value, fixed in ordered:
            text = _replace(text, value, fixed or self._token(value, key))
        text = self._scrub(text, key, keep)
        try:
            return text.encode(self._encoding)
        except (UnicodeEncodeError, LookupError):  # pragma: no cover - decoded from it above
            return text.encode("utf-8")

    def _hash(self, card: str, key: bytes) -> str:
        found = self._cards.get(card)
        if found is None:
            if len(self._cards) > 4096:
                self._cards.clear()
            digest = hmac.new(key, card.encode(), hashlib.sha256).hexdigest()
            found = self._cards[card] = f"hmac-sha256:{digest[:16]}"
        return found


def _replace(text: str, value: str, token: str) -> str:
    """``text`` with each occurrence of ``value`` that stands alone (not inside a longer word
    or number) replaced by ``token``."""
    pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")
    return pattern.sub(lambda _: token, text)


def _replace_bytes(data: bytes, value: bytes, token: bytes) -> bytes:
    pattern = re.compile(rb"(?<![0-9A-Za-z])" + re.escape(value) + rb"(?![0-9A-Za-z])")
    return pattern.sub(token, data)
