"""Physical access: room entries inside approved windows (site-local working hours or a
maintenance window), decided in Cedar (``door.entry`` with ``in_window``)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edgeaudit.errors import ConfigError
from edgeaudit.policy.cedar import Request
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, who
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"(\w{3})(?:-(\w{3}))?\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})")


def parse_window(text: str) -> tuple[frozenset[int], int, int]:
    """``Mon-Sat 08:00-20:00`` -> (weekdays, start minute, end minute)."""
    m = _WINDOW.fullmatch(text.strip())
    if (
        m is None
        or m.group(1).lower() not in DAYS
        or (m.group(2) and m.group(2).lower() not in DAYS)
    ):
        raise ConfigError(f"window {text!r}: expected e.g. 'Mon-Sat 08:00-20:00'")
    a = DAYS.index(m.group(1).lower())
    b = DAYS.index(m.group(2).lower()) if m.group(2) else a
    days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
    lo = int(m.group(3)) * 60 + int(m.group(4))
    hi = int(m.group(5)) * 60 + int(m.group(6))
    if int(m.group(4)) > 59 or int(m.group(6)) > 59 or lo > 23 * 60 + 59 or hi > 24 * 60:
        raise ConfigError(
            f"window {text!r}: {m.group(3)}:{m.group(4)} or {m.group(5)}:"
            f"{m.group(6)} is not a time of day (00:00 to 24:00)"
        )
    if hi <= lo:
        raise ConfigError(
            f"window {text!r} ends before it starts; split an overnight window in two, "
            "e.g. 'Mon-Fri 22:00-24:00' and 'Tue-Sat 00:00-06:00'"
        )
    return days, lo, hi


def _check_maintenance(ms: tuple[Mapping[str, str], ...]) -> None:
    for m in ms:
        _check_window(m)


def _check_window(m: Mapping[str, str]) -> None:
    extra = set(m) - {"from", "to", "reason"}
    if extra or not {"from", "to"} <= set(m):
        raise ValueError(f"each maintenance window needs from and to (and optional reason): {m}")
    if epoch(m["to"]) <= epoch(m["from"]):
        raise ValueError(f"maintenance window ends before it starts: {m}")


@check(
    "physical.windows",
    "Room entries happen inside approved windows",
    ("PHYS",),
    windows=Param(
        "texts",
        ("Mon-Sat 08:00-20:00",),
        "site-local weekly windows",
        lambda ws: [parse_window(w) for w in ws],
    ),
    maintenance=Param(
        "records",
        (),
        "maintenance windows: {from, to} in UTC, optional reason",
        _check_maintenance,
    ),
    orgs=Param("texts", ("operator", "partner", "tenant"), "whose entries are checked"),
)
def windows(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    weekly = [parse_window(w) for w in params["windows"]]
    maint = [(epoch(m["from"]), epoch(m["to"])) for m in params["maintenance"]]
    zone = ZoneInfo(ctx.inventory.timezone or "UTC")
    orgs = set(params["orgs"])
    entries = [
        ev
        for ev in ctx.events("physical.access")
        if ev.get("actor", "org") in orgs or not ev.get("actor", "principal")
    ]

    def inside(t: float) -> bool:
        if any(lo <= t < hi for lo, hi in maint):
            return True
        local = datetime.fromtimestamp(t, UTC).astimezone(zone)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in d and lo <= minute < hi for d, lo, hi in weekly)

    requests = [
        Request(
            who(ev),
            "door.entry",
            "Door",
            str(ev.get("target", "resource") or "?"),
            (False, False, inside(ev.t), False),
        )
        for ev in entries
    ]
    decisions = ctx.cedar.decide(requests)
    groups: dict[tuple[str, str], list[tuple[Ev, bool]]] = defaultdict(list)
    for ev, req, dec in zip(entries, requests, decisions, strict=True):
        groups[(req.principal, req.resource)].append((ev, dec.allowed))
    for (user, door), items in sorted(groups.items()):
        scope = Scope(principal=user, subject=door)
        bad = [ev for ev, ok in items if not ok]
        if bad:
            local = [
                datetime.fromtimestamp(e.t, UTC).astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
                for e in bad[:5]
            ]
            yield Outcome(
                scope,
                FAIL,
                f"{user} entered {door} {plural(len(bad), 'time')} outside approved windows "
                f"({'; '.join(local)} {zone.key}); first at {when(bad[0].t)}",
                cite(bad),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'entry')} of {user} at {door}, all inside approved windows",
                cite((ev for ev, _ in items), MAX_PASS_CITATIONS),
            )
