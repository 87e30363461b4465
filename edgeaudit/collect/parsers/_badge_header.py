"""The CSV header of the ``badge-csv`` parser: which field holds each column (by header name),
which fields hold card numbers or PINs, and the cheap test of whether a line may be a header.
:class:`HeaderColumns` is a part of
:class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`, which sets the column candidates
from its options before parsing."""

from __future__ import annotations

import re
from typing import Final

from edgeaudit.collect.parsers._badge_columns import (
    CARD_COLUMNS,
    COLUMNS,
    EXTRA,
    PIN_COLUMNS,
    REQUIRED,
    normalize,
)

_HEADER_HINT: Final = re.compile(r"time|date|stamp", re.IGNORECASE)
_DIGIT: Final = re.compile(r"[0-9]")


class HeaderColumns:
    """The header handling of :class:`~edgeaudit.collect.parsers.badge_csv.BadgeCsvParser`."""

    _candidates: dict[str, tuple[str, ...]]  # column -> header names that may hold it
    _digit_names: bool  # a configured column name has digits
    _index: dict[str, int] | None
    _cols: tuple[int, ...]
    _card_fields: tuple[int, ...]
    _pin_fields: tuple[int, ...]
    _width: int
    _unrecognised: str | None

    def _columns(self, fields: list[str]) -> dict[str, int]:
        """The field index of each column the header names (a field serves one column)."""
        names = [normalize(f) for f in fields]
        index: dict[str, int] = {}
        for column, candidates in self._candidates.items():
            for candidate in candidates:
                if candidate in names:
                    i = names.index(candidate)
                    if i not in index.values():
                        index[column] = i
                        break
        return index

    def _try_header(self, fields: list[str]) -> bool:
        index = self._columns(fields)
        if not all(c in index for c in REQUIRED):
            return False
        self._index = index
        self._cols = tuple(index.get(c, -1) for c in (*COLUMNS, *EXTRA))
        self._secrets(fields, index.get("card"))
        self._unrecognised = None
        return True

    def _not_a_header(self, fields: list[str], location: str) -> str:
        """Take ``fields`` as a header that names no time or no event column: the lines after
        it are quarantined (their card and PIN columns still found by name), and why."""
        index = self._columns(fields)
        self._index, self._cols, self._unrecognised = None, (), location
        self._secrets(fields, index.get("card"))
        missing = " or ".join(c for c in REQUIRED if c not in index)
        return (
            f"header not recognised: no {missing} column in {[f.strip() for f in fields]} "
            "(name the columns with --option col.time=NAME, col.event=NAME, ...)"
        )

    def _secrets(self, fields: list[str], card: int | None) -> None:
        """Remember the header's width and which of its fields hold card numbers or PINs."""
        names = [normalize(f) for f in fields]
        cards = {i for i, n in enumerate(names) if n in CARD_COLUMNS}
        if card is not None:
            cards.add(card)
        self._card_fields = tuple(sorted(cards))
        self._pin_fields = tuple(i for i, n in enumerate(names) if n in PIN_COLUMNS)
        self._width = len(fields)

    def _maybe_header(self, text: str) -> bool:
        """Cheap test: header lines hold no digits (data lines always do: the time), unless a
        configured column name has some; before any header, a line naming a time column."""
        return (
            self._digit_names
            or _DIGIT.search(text) is None
            or (self._index is None and _HEADER_HINT.search(text) is not None)
        )
