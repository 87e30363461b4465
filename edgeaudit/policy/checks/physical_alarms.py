"""Physical alarms and what follows them: door alarms and tamper answered by an incident or a
review within a deadline, repeated denied badges of one card, and console sessions on a pod
asset by someone the doors did not let into its room.

A follow-up names the alarm by ``entry`` (its index) or ``entries`` (a list of indices), or by
its ``door`` and ``alarm_time`` (the alarm's RFC 3339 UTC time, to the second) when it was
written before the alarm's index was known. A ``review.alarm`` counts when its ``reviewer``
holds R or A for the rule's RACI activity; an incident record (``incident.open`` by default)
counts as it is.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any, Final

from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, reviewer_problem, who
from edgeaudit.policy.checks._sessions import Session, describe, sessions
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

ALARM: Final = "physical.alarm"
TAMPER: Final = "physical.tamper"
DENIED: Final = "physical.denied"
ENTRY: Final = "physical.access"
REVIEW: Final = "review.alarm"


def _alarm_name(ev: Ev) -> str:
    if ev.kind == TAMPER:
        return "tamper"
    return str(ev.get("attrs", "alarm") or "alarm")


def _door(ev: Ev) -> str:
    door = ev.get("target", "resource")
    return door if isinstance(door, str) and door else "?"


def _second(t: float) -> int:
    return int(t // 1)


@check(
    "physical.alarm_follow_up",
    "Every door-forced, held-open or tamper alarm is followed by an incident or a review",
    ("PHYS",),
    deadline=Param("duration", 24 * 3600, "time allowed between the alarm and its follow-up"),
    alarms=Param("texts", ("forced_open", "held_open", "tamper"), "alarms that need a follow-up"),
    follow_ups=Param("texts", (REVIEW, "incident.open"), "record kinds that answer an alarm"),
)
def alarm_follow_up(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    deadline = float(params["deadline"])
    wanted = set(params["alarms"])
    alarms = [e for e in ctx.events(ALARM, TAMPER) if _alarm_name(e) in wanted]
    by_entry: dict[tuple[str, int], list[Ev]] = defaultdict(list)  # entries of its own log
    by_door: dict[tuple[str, int], list[Ev]] = defaultdict(list)
    for rec in ctx.events(*params["follow_ups"]):
        entries = rec.rec.get("entries")
        refs = list(entries) if isinstance(entries, list) else [rec.rec.get("entry")]
        for ref in refs:
            if isinstance(ref, int) and not isinstance(ref, bool):
                by_entry[(rec.key[0], ref)].append(rec)
        door, at = rec.rec.get("door"), rec.rec.get("alarm_time")
        if isinstance(door, str) and isinstance(at, str):
            try:
                by_door[(door, _second(epoch(at)))].append(rec)
            except ValueError:
                continue
    if not alarms:
        doors = len(ctx.events(ENTRY)) + len(ctx.events(DENIED))
        if doors:  # the door controllers reported, and raised none of these alarms
            yield Outcome(
                Scope(subject="doors"),
                PASS,
                f"no {' / '.join(sorted(wanted))} alarm among {plural(doors, 'door record')} "
                "in the period",
            )
        return
    groups: dict[str, list[tuple[Ev, Ev | None, str]]] = defaultdict(list)
    for a in alarms:
        found = {f.key: f for f in by_entry.get(a.key, [])}
        found.update({f.key: f for f in by_door.get((_door(a), _second(a.t)), [])})
        best: Ev | None = None
        notes: list[str] = []
        for f in sorted(found.values(), key=lambda e: e.t):
            why = None
            if f.kind == REVIEW:
                why = reviewer_problem(ctx, f.rec.get("reviewer"), set(), None)
            if why is None and f.t < a.t:
                why = "recorded before the alarm"
            if why:
                notes.append(f"{f.kind} at {when(f.t)} not counted: {why}")
            elif best is None:
                best = f
        groups[_door(a)].append((a, best, "; ".join(notes)))
    for door, items in sorted(groups.items()):
        scope = Scope(subject=f"door {door}")
        late: list[tuple[Ev, Ev]] = []
        missing: list[Ev] = []
        pending: list[Ev] = []
        for a, answer, _ in items:
            due = a.t + deadline
            if answer is not None and answer.t <= due:
                continue
            if answer is not None:
                late.append((a, answer))
            elif due > ctx.as_of:
                pending.append(a)
            else:
                missing.append(a)
        cited = cite([*(a for a, _, _ in items), *(f for _, f, _ in items if f is not None)])
        said = "; ".join(n for _, _, n in items if n)
        note = f" ({said})" if said else ""
        if missing or late:
            words = [
                f"{_alarm_name(a)} at {when(a.t)} not followed up by {when(a.t + deadline)}"
                for a in missing[:5]
            ] + [
                f"{_alarm_name(a)} at {when(a.t)} followed up late ({f.kind} at {when(f.t)})"
                for a, f in late[:5]
            ]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(missing) + len(late), 'alarm')} at {door} without a timely "
                f"incident or review: {'; '.join(words)}{note}",
                cited,
            )
        elif pending:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"{plural(len(pending), 'alarm')} at {door} still within the "
                f"{describe(deadline)} allowed for a follow-up{note}",
                cited,
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'alarm')} at {door}, each followed up within "
                f"{describe(deadline)}{note}",
                cited,
            )


@check(
    "physical.denied_repeated",
    "No card is denied repeatedly within a short time",
    ("PHYS",),
    threshold=Param("int", 3, "denials of one card that are a finding"),
    window=Param("duration", 600, "the window the denials fall in"),
)
def denied_repeated(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    threshold, window = int(params["threshold"]), float(params["window"])
    denials = ctx.events(DENIED)
    by_card: dict[str, list[Ev]] = defaultdict(list)
    for ev in denials:
        card = ev.get("actor", "credential") or ev.get("actor", "principal")
        card = card or ev.get("actor", "user")
        if isinstance(card, str) and card:
            by_card[card].append(ev)
    failed = 0
    for card, evs in sorted(by_card.items()):
        if len(evs) < threshold:
            continue
        evs.sort(key=lambda e: (e.t, e.key))
        bursts: list[list[Ev]] = []
        lo = 0
        marked: set[int] = set()
        for hi in range(len(evs)):
            while evs[hi].t - evs[lo].t > window:
                lo += 1
            if hi - lo + 1 >= threshold:
                marked.update(range(lo, hi + 1))
        for i in sorted(marked):
            if bursts and evs[i].t - bursts[-1][-1].t <= window:
                bursts[-1].append(evs[i])
            else:
                bursts.append([evs[i]])
        if not bursts:
            continue
        failed += 1
        holder = who(evs[0])
        principal = None if holder.startswith("unresolved: ") else holder
        doors = sorted({_door(e) for b in bursts for e in b})
        first = bursts[0]
        reasons = sorted({str(e.get("attrs", "reason")) for e in first if e.get("attrs", "reason")})
        yield Outcome(
            Scope(principal=principal, subject=f"card {card}"),
            FAIL,
            f"card {card} ({holder.removeprefix('unresolved: ')}) denied "
            f"{plural(len(first), 'time')} within {describe(first[-1].t - first[0].t)} at "
            f"{', '.join(doors)} from {when(first[0].t)}"
            + (f" ({'; '.join(reasons)})" if reasons else "")
            + (f"; {plural(len(bursts) - 1, 'more burst')}" if len(bursts) > 1 else ""),
            cite(e for b in bursts for e in b),
        )
    if failed:
        return
    if not denials and not ctx.events(ENTRY):
        yield Outcome(Scope(subject="doors"), NOT_EVALUATED, "no door records in the period")
        return
    yield Outcome(
        Scope(subject="doors"),
        PASS,
        f"{plural(len(denials), 'denied badge')} in the period, no card denied {threshold} "
        f"times within {describe(window)}",
        cite(denials, MAX_PASS_CITATIONS),
    )


_CONSOLE_TTY = re.compile(r"(?:/dev/)?(?:tty\d+|ttyS\d+|ttyAMA\d+|hvc\d+|console)")


def is_console(s: Session, ctx: Context, services: frozenset[str]) -> bool:
    """A session at the machine: on a BMC, through ``login`` (a local terminal), or on a
    console or serial terminal."""
    a = ctx.inventory.asset(s.asset)
    if a is not None and a.kind == "bmc":
        return True
    for r in s.records:
        if r.get("attrs", "console") is True:
            return True
        if r.get("attrs", "service") in services:
            return True
        for name in ("terminal", "tty"):
            value = r.get("attrs", name)
            if isinstance(value, str) and _CONSOLE_TTY.fullmatch(value):
                return True
    return False


def names(value: str) -> list[str]:
    """A comma-separated list of names."""
    return [n.strip() for n in value.split(",") if n.strip()]


def _check_rooms(rooms: tuple[Mapping[str, str], ...]) -> None:
    for r in rooms:
        if set(r) - {"room", "doors", "assets"} or not {"doors", "assets"} <= set(r):
            raise ValueError(f"each room needs doors and assets (and an optional room name): {r}")
        for k in ("doors", "assets"):
            if not names(r[k]):
                raise ValueError(f"room {r.get('room', '?')}: {k} names nothing")


def _room_assets(room: Mapping[str, str], inv: Any) -> None:
    for a in names(room["assets"]):
        if inv.asset(a) is None:
            raise ValueError(f"unknown asset {a!r}")


@check(
    "physical.console_badged",
    "A console, BMC or local-terminal session follows a badge entry of the same person",
    ("PHYS", "ADM"),
    window=Param("duration", 12 * 3600, "how long before the session the entry may be"),
    rooms=Param(
        "records",
        (),
        "rooms: {room, doors, assets} (comma-separated names); none: any door counts",
        _check_rooms,
        _room_assets,
    ),
    services=Param("texts", ("login",), "PAM services of a local terminal logon"),
)
def console_badged(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    window = float(params["window"])
    services = frozenset(params["services"])
    doors_of: dict[str, set[str]] = {}
    for r in params["rooms"]:
        for a in names(r["assets"]):
            host = ctx.inventory.asset(a)
            if host is not None:
                doors_of.setdefault(host.hostname, set()).update(names(r["doors"]))
    entries: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events(ENTRY, lookback=True):
        p = ev.get("actor", "principal")
        if isinstance(p, str) and p:
            entries[p].append(ev)
    times = {}
    for p, evs in entries.items():
        evs.sort(key=lambda e: (e.t, e.key))
        times[p] = [e.t for e in evs]
    groups: dict[Scope, list[tuple[Session, Ev | None]]] = defaultdict(list)
    every = sessions(ctx)
    for s in every:
        if not is_console(s, ctx, services):
            continue
        allowed = doors_of.get(s.asset)
        found: Ev | None = None
        if s.principal in entries:
            lo = bisect_left(times[s.principal], s.start - window)
            hi = bisect_right(times[s.principal], s.start)
            for e in reversed(entries[s.principal][lo:hi]):
                if allowed is None or _door(e) in allowed:
                    found = e
                    break
        scope = Scope(
            tenant=ctx.tenant_of(ctx.owner_of_asset(s.asset)),
            asset=s.asset,
            principal=s.principal,
        )
        groups[scope].append((s, found))
    for scope, items in groups.items():
        bad = [s for s, e in items if e is None]
        where = "its room" if scope.asset in doors_of else "any door"
        if bad:
            s = bad[0]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'console session')} of {s.principal} on {s.asset} with no "
                f"badge entry of theirs at {where} in the {describe(window)} before; the first "
                f"at {when(s.start)} as {s.account}",
                cite(e for s in bad for e in s.evidence()),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'console session')} of {scope.principal} on {scope.asset}, "
                f"each after their badge entry at {where}",
                cite([*(e for s, _ in items for e in s.records), *(e for _, e in items if e)]),
            )
    if every and not groups:
        yield Outcome(
            Scope(subject="console sessions"),
            PASS,
            f"no console, BMC or local-terminal session among {plural(len(every), 'session')}",
            cite((e for s in every for e in s.records[:1]), MAX_PASS_CITATIONS),
        )
