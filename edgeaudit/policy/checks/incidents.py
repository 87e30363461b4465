"""Incident reporting deadlines: every incident (an ``incident.open`` record: ``incident`` id,
optional ``tenant`` and ``detected`` awareness time; an alarm or a critical finding declared an
incident) is followed by a report to each authority its tenant's jurisdiction names (an
``incident.reported`` record naming the ``incident`` and the ``authority``) within that
authority's deadline, counted in elapsed hours from the awareness time (``detected``, else the
record's time; daylight saving changes nothing): CERT-In 6 h, the Data Protection Board (DPDP
Rules) and a GDPR supervisory authority (Art. 33) 72 h. An incident without a tenant concerns
every tenant of the site."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.policy.checks._common import cite, text
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DEFAULT_DEADLINES = (
    {"jurisdiction": "IN", "authority": "CERT-In", "deadline": "6h"},
    {"jurisdiction": "IN", "authority": "DPB", "deadline": "72h"},
    {"jurisdiction": "EU", "authority": "supervisory-authority", "deadline": "72h"},
)


def seconds(text_value: str) -> int:
    """Seconds of a duration such as ``6h`` or ``72h`` (as rules.yaml writes them)."""
    raw = text_value.strip()
    if raw[-1:] not in _UNITS or not raw[:-1].isdigit():
        raise ValueError(f"deadline must be a duration such as 6h or 72h, not {raw!r}")
    return int(raw[:-1]) * _UNITS[raw[-1]]


def _check_deadlines(records: tuple[Mapping[str, str], ...]) -> None:
    for r in records:
        extra = set(r) - {"jurisdiction", "authority", "deadline", "reason"}
        if extra or not {"jurisdiction", "authority", "deadline"} <= set(r):
            raise ValueError(
                f"each deadline needs jurisdiction, authority and deadline (and optional "
                f"reason): {dict(r)}"
            )
        seconds(r["deadline"])


def _detected(ev: Ev) -> float:
    value = ev.rec.get("detected")
    if isinstance(value, str):
        try:
            return epoch(parse_utc_time(value, "detected")[0])
        except (InputError, ValueError):
            return ev.t
    return ev.t


@check(
    "incidents.reporting",
    "Incidents are reported to the authorities of the tenant's jurisdiction within their deadlines",
    ("STORE", "ADM"),
    deadlines=Param(
        "records",
        DEFAULT_DEADLINES,
        "{jurisdiction, authority, deadline}: who must be told within how long",
        _check_deadlines,
    ),
    incident_kinds=Param("texts", ("incident.open",), "record kinds that declare an incident"),
)
def reporting(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    rules: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for r in params["deadlines"]:
        rules[r["jurisdiction"]].append((r["authority"], float(seconds(r["deadline"]))))
    reports: dict[str, list[Ev]] = defaultdict(list)
    for ev in ctx.events("incident.reported", lookback=True):
        if ev.t <= ctx.as_of:
            reports[text(ev.rec.get("incident"))].append(ev)
    tenants = {t.id: t for t in ctx.inventory.tenants}
    seen: set[tuple[str | None, str]] = set()
    for ev in ctx.events(*params["incident_kinds"]):
        incident = text(ev.rec.get("incident"), f"entry {ev.ref.text()}")
        owner = ev.rec.get("tenant")
        concerned = [tenants[owner]] if isinstance(owner, str) and owner in tenants else []
        if not concerned:
            concerned = list(tenants.values())
        aware = _detected(ev)
        for t in concerned:
            if (t.id, incident) in seen:
                continue
            seen.add((t.id, incident))
            scope = Scope(tenant=t.id, subject=f"incident {incident}")
            due = rules.get(t.jurisdiction or "", [])
            if not due:
                yield Outcome(
                    scope,
                    NOT_EVALUATED,
                    f"incident {incident}: no reporting deadline for {t.id}'s jurisdiction "
                    f"({t.jurisdiction or 'none in the inventory'})",
                    cite([ev]),
                )
                continue
            yield _judge(ctx, incident, t.id, t.jurisdiction or "", ev, aware, due, reports)


def _judge(
    ctx: Context,
    incident: str,
    tenant: str,
    jurisdiction: str,
    ev: Ev,
    aware: float,
    due: list[tuple[str, float]],
    reports: Mapping[str, list[Ev]],
) -> Outcome:
    scope = Scope(tenant=tenant, subject=f"incident {incident}")
    late: list[str] = []
    pending: list[str] = []
    done: list[str] = []
    cited = [ev]
    for authority, deadline in due:
        deadline_at = aware + deadline
        mine = [r for r in reports.get(incident, []) if text(r.rec.get("authority")) == authority]
        first = min(mine, key=lambda r: r.t) if mine else None
        if first is not None:
            cited.append(first)
        hours = f"{deadline / 3600:g} h"
        if first is not None and first.t <= deadline_at:
            done.append(f"{authority} at {when(first.t)} (within {hours})")
        elif first is not None:
            late.append(
                f"{authority} at {when(first.t)}, {(first.t - deadline_at) / 3600:.1f} h after "
                f"the {hours} deadline {when(deadline_at)}"
            )
        elif deadline_at < ctx.as_of:
            late.append(f"{authority}: no report, due {when(deadline_at)} ({hours})")
        else:
            pending.append(f"{authority} due {when(deadline_at)}")
    head = f"incident {incident} ({jurisdiction}), aware {when(aware)}"
    if late:
        return Outcome(
            scope, FAIL, f"{head}: reported late or not at all: {'; '.join(late)}", cite(cited)
        )
    if pending:
        return Outcome(
            scope,
            NOT_EVALUATED,
            f"{head}: report not yet due at {when(ctx.as_of)}: {'; '.join(pending)}",
            cite(cited),
        )
    return Outcome(scope, PASS, f"{head}: reported to {'; '.join(done)}", cite(cited))
