"""Scheduled probe runs: plans' cron expressions (croniter), missed runs, systemd units.

The scheduler keeps the last time it handled each plan in a small JSON file in the workspace.
When it starts (or wakes) and finds that due times passed while it was not running, each of
them becomes a ``probe.missed`` record, and the plan runs once at once to catch up. A due time
reached while running is run within ``GRACE`` seconds and is not a miss.
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from croniter import croniter

from edgeaudit.errors import InputError
from edgeaudit.probe.plan import Plan

log = logging.getLogger("edgeaudit.probe")
GRACE: Final = 60.0  # seconds a due run may start late without counting as missed
MAX_MISSED: Final = 100  # per plan and wake-up; older ones are summarized in the log


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_times(cron: str, after: datetime, until: datetime) -> list[datetime]:
    """Occurrences of ``cron`` in (after, until]."""
    it = croniter(cron, after)
    out: list[datetime] = []
    while True:
        t: datetime = it.get_next(datetime)
        if t > until:
            return out
        out.append(t)


class State:
    """Last handled time per plan, persisted atomically as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: dict[str, datetime] = {}
        if path.is_file():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                self.last = {k: datetime.fromisoformat(v) for k, v in raw["last"].items()}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{path}: not a probe schedule state file ({exc})") from None

    def save(self) -> None:
        data = {"last": {k: v.astimezone(UTC).isoformat() for k, v in sorted(self.last.items())}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)


@dataclass(frozen=True)
class Tick:
    plan: str
    missed: tuple[datetime, ...]
    run: bool


class Scheduler:
    """Runs due plans. ``run(plan)`` probes and records; ``missed(plan, due, now)`` records a
    miss. Both are callbacks so the CLI decides where records go."""

    def __init__(
        self,
        plans: Iterable[Plan],
        state: State,
        run: Callable[[Plan], None],
        missed: Callable[[Plan, datetime, datetime], None],
        grace: float = GRACE,
    ) -> None:
        self.plans = [p for p in plans if p.cron]
        if not self.plans:
            raise InputError("no plan to schedule (plans need a cron expression)")
        self.state = state
        self.run = run
        self.missed = missed
        self.grace = grace

    def tick(self, now: datetime) -> list[Tick]:
        out = []
        for plan in self.plans:
            assert plan.cron is not None
            last = self.state.last.get(plan.name)
            if last is None:  # first start: nothing can have been missed yet
                self.state.last[plan.name] = now
                self.state.save()
                continue
            dues = due_times(plan.cron, last, now)
            if not dues:
                continue
            late = [d for d in dues if (now - d).total_seconds() > self.grace]
            if len(late) > MAX_MISSED:
                log.warning(
                    "%s: %d missed runs; recording the latest %d", plan.name, len(late), MAX_MISSED
                )
                late = late[-MAX_MISSED:]
            for due in late:
                self.missed(plan, due, now)
            # handled before running: a run that fails is not retried in a loop
            self.state.last[plan.name] = now
            self.state.save()
            try:
                self.run(plan)
            except Exception:
                log.exception("%s: scheduled run failed", plan.name)
            out.append(Tick(plan.name, tuple(late), True))
        return out

    def next_due(self, now: datetime) -> datetime:
        times: list[datetime] = [
            croniter(p.cron, now).get_next(datetime) for p in self.plans if p.cron
        ]
        return min(times)

    def loop(self, stop: threading.Event, max_runs: int | None = None) -> int:
        runs = 0
        while not stop.is_set():
            now = datetime.now(UTC)
            runs += sum(1 for t in self.tick(now) if t.run)
            if max_runs is not None and runs >= max_runs:
                break
            wait = (self.next_due(datetime.now(UTC)) - datetime.now(UTC)).total_seconds()
            stop.wait(max(0.05, min(wait, 30.0)))
        return runs


# -- systemd ----------------------------------------------------------------------------
_DOW = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _field(value: str, what: str, names: tuple[str, ...] | None, start: int) -> str:
    parts = []
    for item in value.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            text = "*" if not step else f"{start}/{step}"
        elif "-" in base:
            lo, hi = base.split("-", 1)
            if step:
                raise InputError(f"cron {what} {item!r}: a stepped range has no systemd form")
            text = f"{names[int(lo)]}..{names[int(hi)]}" if names else f"{lo}..{hi}"
        elif step:
            text = f"{base}/{step}"
        else:
            text = names[int(base)] if names else base
        parts.append(text)
    return ",".join(parts)


def on_calendar(cron: str) -> str:
    """A 5-field cron expression as a systemd ``OnCalendar=`` value."""
    fields = cron.split()
    if len(fields) != 5 or any(not f or f[0].isalpha() for f in fields):
        raise InputError(f"cron {cron!r}: only 5 numeric fields can be written as a systemd timer")
    minute, hour, dom, month, dow = fields
    if dom != "*" and dow != "*":
        raise InputError(f"cron {cron!r}: day-of-month OR day-of-week has no systemd form")
    try:
        days = "" if dow == "*" else _field(dow, "day of week", _DOW, 0) + " "
        date = f"*-{_field(month, 'month', None, 1)}-{_field(dom, 'day', None, 1)}"
        clock = f"{_field(hour, 'hour', None, 0)}:{_field(minute, 'minute', None, 0)}:00"
    except (ValueError, IndexError):
        raise InputError(f"cron {cron!r}: cannot be written as a systemd timer") from None
    return f"{days}{date} {clock}"


def systemd_units(
    plans: Iterable[Plan], workspace: Path, executable: str, netns: str | None = None
) -> dict[str, str]:
    """File name -> content of a service + timer per scheduled plan."""
    out: dict[str, str] = {}
    for plan in plans:
        if not plan.cron:
            continue
        unit = f"edgeaudit-probe-{plan.name}"
        cmd = [
            executable,
            "--workspace",
            str(workspace),
            "probe",
            "run",
            "--plan",
            plan.name,
            "--trigger",
            "schedule",
        ]
        if netns:
            cmd = ["/usr/sbin/ip", "netns", "exec", netns, *cmd]
        out[f"{unit}.service"] = (
            "[Unit]\n"
            f"Description=edgeaudit segmentation probe {plan.name} (vantage {plan.vantage})\n"
            "Wants=network-online.target\nAfter=network-online.target\n\n"
            "[Service]\nType=oneshot\n"
            f"ExecStart={shlex.join(cmd)}\n"
            "# exit 1 = a denied path is reachable, 3 = a positive control failed: the unit\n"
            "# fails and shows up in monitoring\n"
        )
        out[f"{unit}.timer"] = (
            "[Unit]\n"
            f"Description=edgeaudit segmentation probe {plan.name} ({plan.cron})\n\n"
            "[Timer]\n"
            f"OnCalendar={on_calendar(plan.cron)}\n"
            "Persistent=true\n"
            f"Unit={unit}.service\n\n"
            "[Install]\nWantedBy=timers.target\n"
        )
    if not out:
        raise InputError("no plan to schedule (plans need a cron expression)")
    return out
