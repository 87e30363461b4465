"""Event types of door controller CSV exports (the ``badge-csv`` parser): the built-in event
names, the ``events.*`` options that add a site's own, and the lookup of an event text's kind,
outcome, alarm and denial reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# normalized event text -> (kind, outcome, alarm)
_EVENTS: Final[dict[str, tuple[str, str, str | None]]] = {
    "granted": ("physical.access", "success", None),
    "access granted": ("physical.access", "success", None),
    "local grant": ("physical.access", "success", None),
    "host grant": ("physical.access", "success", None),
    "denied": ("physical.denied", "failure", None),
    "access denied": ("physical.denied", "failure", None),
    "local deny": ("physical.denied", "failure", None),
    "host deny": ("physical.denied", "failure", None),
    "invalid badge": ("physical.denied", "failure", None),
    "invalid card": ("physical.denied", "failure", None),
    "invalid credential": ("physical.denied", "failure", None),
    "unknown credential": ("physical.denied", "failure", None),
    "forced open": ("physical.alarm", "unknown", "forced_open"),
    "door forced open": ("physical.alarm", "unknown", "forced_open"),
    "door forced": ("physical.alarm", "unknown", "forced_open"),
    "held open": ("physical.alarm", "unknown", "held_open"),
    "door held open": ("physical.alarm", "unknown", "held_open"),
    "open too long": ("physical.alarm", "unknown", "held_open"),
    "door open too long": ("physical.alarm", "unknown", "held_open"),
    "tamper": ("physical.tamper", "unknown", None),
    "reader tamper": ("physical.tamper", "unknown", None),
    "door tamper": ("physical.tamper", "unknown", None),
    "hardware tamper": ("physical.tamper", "unknown", None),
    # other spellings of the common products (a site adds its own with the events.* options)
    "access denied (invalid time zone)": ("physical.denied", "failure", None),
    "invalid time zone": ("physical.denied", "failure", None),
    "invalid timezone": ("physical.denied", "failure", None),
    "expired badge": ("physical.denied", "failure", None),
    "expired card": ("physical.denied", "failure", None),
    "invalid pin": ("physical.denied", "failure", None),
    "anti-passback violation": ("physical.denied", "failure", None),
    "antipassback violation": ("physical.denied", "failure", None),
    "door forced open alarm": ("physical.alarm", "unknown", "forced_open"),
    "forced door": ("physical.alarm", "unknown", "forced_open"),
    "forced entry": ("physical.alarm", "unknown", "forced_open"),
    "door held open alarm": ("physical.alarm", "unknown", "held_open"),
    "door held": ("physical.alarm", "unknown", "held_open"),
    "door ajar": ("physical.alarm", "unknown", "held_open"),
    "door propped open": ("physical.alarm", "unknown", "held_open"),
    "propped open": ("physical.alarm", "unknown", "held_open"),
    "tamper alarm": ("physical.tamper", "unknown", None),
    "reader tamper alarm": ("physical.tamper", "unknown", None),
    "door tamper alarm": ("physical.tamper", "unknown", None),
    "panel tamper": ("physical.tamper", "unknown", None),
    "cabinet tamper": ("physical.tamper", "unknown", None),
    "enclosure tamper": ("physical.tamper", "unknown", None),
    "case tamper": ("physical.tamper", "unknown", None),
}
# option -> what the event names it lists ("|"-separated, compared like the defaults) mean
EVENT_OPTIONS: Final[dict[str, tuple[str, str, str | None]]] = {
    "events.granted": ("physical.access", "success", None),
    "events.denied": ("physical.denied", "failure", None),
    "events.forced_open": ("physical.alarm", "unknown", "forced_open"),
    "events.held_open": ("physical.alarm", "unknown", "held_open"),
    "events.tamper": ("physical.tamper", "unknown", None),
}
_DENIED_PREFIXES: Final = ("access denied", "denied")  # "Access denied: Expired credential"


def event_words(text: str) -> str:
    """An event text as compared: lower case, ``_`` as a space, single spaces."""
    return " ".join(text.lower().replace("_", " ").split())


def _event_type(
    text: str, extra: Mapping[str, tuple[str, str, str | None]] | None = None
) -> tuple[str, str, str | None, str] | None:
    """(kind, outcome, alarm, reason) of an event text (the site's own names in ``extra``
    first); None when it is not a known type."""
    words = event_words(text)
    found = (extra or {}).get(words) or _EVENTS.get(text) or _EVENTS.get(words)
    if found is not None:
        return (*found, "")
    for prefix in _DENIED_PREFIXES:  # "Access denied: Invalid PIN", "Denied - expired card"
        if words.startswith(prefix) and words[len(prefix) : len(prefix) + 1] in (":", "-", " "):
            why = text.strip()[len(prefix) :].lstrip(" :-\u2013\u2014").strip()
            if why:
                return "physical.denied", "failure", None, why
    return None
