"""Header recognition of door controller CSV exports (the ``badge-csv`` parser): the columns a
badge export has, the header names each may go by, the columns that hold card numbers or PINs,
and how a header name is normalized before it is compared."""

from __future__ import annotations

import unicodedata
from typing import Final

COLUMNS: Final = ("time", "log_id", "event", "door", "card", "holder", "company", "reason")
EXTRA: Final = ("date", "first_name", "last_name")  # parts of a time or a holder
REQUIRED: Final = ("time", "event")
# Header names of each column, most specific first (normalized: lower case, single spaces, no
# spaces around "/"). Gathered from the exports of the common access-control systems.
SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "time": (
        "time",
        "date/time",
        "time/date",
        "date time",
        "datetime",
        "date and time",
        "timestamp",
        "time stamp",
        "event time",
        "event timestamp",
        "event date/time",
        "event date time",
        "event datetime",
        "occurrence time",
        "occurred",
        "local time",
        "date",
    ),
    "log_id": (
        "log_id",
        "log id",
        "log no",
        "log number",
        "sequence",
        "sequence number",
        "sequence no",
        "seq",
        "seq no",
        "event sequence",
        "record number",
    ),
    "event": (
        "event",
        "event type",
        "event name",
        "event description",
        "event text",
        "event message",
        "description",
        "message",
        "alarm description",
        "transaction",
        "transaction type",
        "type",
    ),
    "door": (
        "door",
        "door name",
        "access point",
        "reader",
        "reader name",
        "reader description",
        "device",
        "device name",
        "logical device",
        "location",
        "entrance",
    ),
    "card": (
        "card number",
        "card no",
        "card #",
        "card",
        "card id",
        "cardnumber",
        "badge number",
        "badge no",
        "badge #",
        "badge id",
        "badge",
        "credential code",
        "credential number",
        "credential",
    ),
    "holder": (
        "holder",
        "cardholder",
        "cardholder name",
        "card holder",
        "badge holder",
        "name",
        "full name",
        "person",
        "employee",
        "user",
    ),
    "company": ("company", "company name", "organization", "organisation", "department"),
    "reason": ("reason", "denial reason", "details", "detail"),
    "date": ("date", "event date"),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
}
# Other columns whose values never go to the quarantine in clear: every card name above and
# card parts (keyed-hashed like the card), and PINs (replaced).
CARD_COLUMNS: Final = frozenset(
    {
        *SYNONYMS["card"],
        "credential name",
        "card data",
        "raw card data",
        "card code",
        "facility code",
        "issue code",
    }
)
PIN_COLUMNS: Final = frozenset({"pin", "pin code", "pin number"})
_KNOWN_NAMES: Final = (
    frozenset(n for names in SYNONYMS.values() for n in names) | CARD_COLUMNS | PIN_COLUMNS
)


def normalize(name: str) -> str:
    """A header name as compared: lower case, ``_`` as a space, single spaces, none around
    ``/``, without a byte order mark or other invisible characters (control and format
    characters other than white space: a stray one must not hide a card or PIN column)."""
    visible = "".join(
        ch for ch in name if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    text = " ".join(visible.replace("_", " ").lower().split())
    return text.replace(" / ", "/").replace("/ ", "/").replace(" /", "/")
