"""One probe run: load the policy files, expand the plan, probe, decide, and build its records."""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.collect.model import Event
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import IsolationMatrix, load_isolation
from edgeaudit.probe.engine import ENGINE, Engine, Params, ProbeError
from edgeaudit.probe.model import Probe
from edgeaudit.probe.plan import Plan, expand, load_plan_set
from edgeaudit.probe.records import RunInfo, run_events, summary
from edgeaudit.probe.reference import Seen, parse_time
from edgeaudit.probe.scope import check_assets, prefixes
from edgeaudit.probe.verdict import Result, decide, with_references
from edgeaudit.probe.wire import source_address

log = logging.getLogger("edgeaudit.probe")
_TRIGGER = re.compile(r"manual|schedule|change:[A-Za-z0-9._:/@#-]{1,120}")


@dataclass(frozen=True)
class Policies:
    inventory: Inventory
    matrix: IsolationMatrix
    plans: dict[str, Plan]  # the plans that loaded
    errors: Mapping[str, InputError] = field(default_factory=dict)  # those that did not

    def plan(self, name: str) -> Plan:
        if name in self.errors:
            raise self.errors[name]
        if name not in self.plans:
            known = sorted({*self.plans, *self.errors})
            raise InputError(f"no plan {name!r} (plans: {', '.join(known)})")
        return self.plans[name]


def load_policies(inventory: Path, isolation: Path, plans: Path) -> Policies:
    """The inventory (every asset address a host address of its segment), the matrix, and the
    plans: a bad plan is logged and skipped (running it by name is its error, exit 2)."""
    inv = load_inventory(inventory)
    check_assets(inv, inventory)
    matrix = load_isolation(isolation, inv)
    loaded = load_plan_set(plans, inv, matrix)
    for warning in loaded.warnings:
        log.warning("%s", warning)
    for name, exc in loaded.errors.items():
        log.error("plan %s skipped: %s", name, exc)
    return Policies(inv, matrix, loaded.plans, loaded.errors)


@dataclass(frozen=True)
class RunReport:
    info: RunInfo
    results: tuple[Result, ...]
    controls_ok: bool
    events: tuple[Event, ...]

    @property
    def violations(self) -> int:
        return sum(1 for r in self.results if r.violation)

    def to_dict(self) -> dict[str, Any]:
        i = self.info
        return {
            "run": i.run,
            "plan": i.plan,
            "vantage": i.vantage,
            "matrix_version": i.matrix_version,
            "engine": i.engine,
            "params": i.params,
            "started": i.started,
            "finished": i.finished,
            "trigger": i.trigger,
            **summary(self.results, self.controls_ok),
            "results": [
                {
                    "segment": r.probe.segment,
                    "address": r.probe.address,
                    "asset": r.probe.asset,
                    "protocol": r.probe.protocol,
                    "port": r.probe.port,
                    "expected": r.probe.expected,
                    "verdict": r.verdict,
                    "control": r.probe.control,
                    "violation": r.violation,
                    "reasons": list(r.reasons),
                    "tries": r.tries,
                    **({"reference": r.reference.to_dict()} if r.reference else {}),
                    **({"payloads": list(r.probe.payloads)} if r.probe.payloads else {}),
                }
                for r in self.results
            ],
        }


def check_trigger(trigger: str) -> str:
    if not _TRIGGER.fullmatch(trigger):
        raise InputError(
            f"--trigger {trigger!r}: expected manual, schedule or change:REF "
            "(REF of letters, digits and ._:/@#-)"
        )
    return trigger


def check_vantage(plan: Plan, inventory: Inventory, towards: str) -> None:
    """Refuse to run a plan from outside its vantage segment: its verdicts would be another
    segment's."""
    segment = next(s for s in inventory.segments if s.id == plan.vantage)
    cidr = ", ".join(str(n) for n in segment.prefixes)
    try:
        here = ipaddress.ip_address(source_address(towards))
    except OSError as exc:
        raise ProbeError(f"plan {plan.name!r}: no route to {towards} from here ({exc})") from None
    if segment.prefix_of(str(here)) is None:
        raise ProbeError(
            f"plan {plan.name!r} probes from {plan.vantage} ({cidr}), but this host sends from "
            f"{here}: run it from inside the vantage network (a namespace or a probe host on "
            "that VLAN)"
        )


def check_vantages(plan: Plan, inventory: Inventory, probes: Iterable[Probe]) -> None:
    """:func:`check_vantage` once per address family probed: a dual-stack plan sends from an
    address of each family, and each must lie in the vantage segment."""
    for towards in {ipaddress.ip_address(p.address).version: p.address for p in probes}.values():
        check_vantage(plan, inventory, towards)


def run_plan(
    policies: Policies,
    name: str,
    trigger: str = "manual",
    references: Callable[[float, float], Iterable[Seen]] | None = None,
) -> RunReport:
    """Probe one plan from here (the process must be inside the plan's vantage network).
    ``references(start, end)`` gives the recorded reachable UDP results of runs starting in
    [start, end] (``reference.py``): silent UDP probes with one are blocked."""
    plan = policies.plan(name)
    check_trigger(trigger)
    inv, matrix = policies.inventory, policies.matrix
    probes = expand(plan, inv, matrix)
    check_vantages(plan, inv, probes)
    engine = Engine(prefixes(inv))
    params = Params(
        rate=plan.rate,
        tries=plan.tries,
        timeout=plan.timeout,
        community=plan.snmp_community(),
        udp_pace=plan.udp_pace,
        udp_burst=plan.udp_burst,
    )
    collected = engine.run(probes, params)
    order = sorted(probes, key=lambda p: (p.segment, p.address, p.protocol, p.port or 0))
    results, controls_ok = decide(order, collected.answers, collected.sent, collected.routed)
    t0, window = parse_time(collected.started), float(plan.reference_window)
    seen = references(t0 - window, t0 + window) if references is not None else ()
    results = with_references(results, controls_ok, plan.vantage, t0, seen, window)
    rtt = collected.rtt_max
    info = RunInfo(
        run=str(uuid.uuid4()),
        plan=plan.name,
        vantage=plan.vantage,
        matrix_version=matrix.version,
        engine=ENGINE,
        params={
            **plan.params(),
            "probes": len(probes),
            "packets": collected.packets,
            "loss_seen": collected.loss_seen,
            "rtt_max_ms": None if rtt is None else round(rtt * 1000, 3),
        },
        started=collected.started,
        finished=collected.finished,
        trigger=trigger,
    )
    events = run_events(info, results, controls_ok, inv)
    return RunReport(info, results, controls_ok, tuple(events))
