"""One probe run: load the policy files, expand the plan, probe, decide, and build its records."""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import IsolationMatrix, load_isolation
from edgeaudit.probe.engine import ENGINE, Collected, Engine, Params, ProbeError
from edgeaudit.probe.model import Probe
from edgeaudit.probe.plan import Plan, expand, load_plan_set
from edgeaudit.probe.scope import check_assets, prefixes
from edgeaudit.probe.wire import source_address

if TYPE_CHECKING:  # imported when a run is decided: not before its engine starts
    from edgeaudit.collect.model import Event
    from edgeaudit.probe.records import RunInfo
    from edgeaudit.probe.reference import Seen
    from edgeaudit.probe.verdict import Result

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
    # a silent UDP probe of a run whose controls answered: a recorded reference may make it
    # blocked, so the results depend on the store (``references``)
    wants_references: bool = False

    @property
    def violations(self) -> int:
        return sum(1 for r in self.results if r.violation)

    def to_dict(self) -> dict[str, Any]:
        from edgeaudit.probe.records import summary

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


@dataclass(frozen=True)
class Prepared:
    """A run checked and ready to send: everything that must hold before the first packet
    (the plan loaded, the trigger, the vantage, the scope guard) has been checked."""

    policies: Policies
    plan: Plan
    trigger: str
    probes: tuple[Probe, ...]
    engine: Engine
    params: Params


def prepare_run(policies: Policies, name: str, trigger: str = "manual") -> Prepared:
    """Check a run of plan ``name`` from here, before anything is sent: a bad plan, trigger or
    vantage, or a target outside the inventory is an error here (no packet has left)."""
    plan = policies.plan(name)
    check_trigger(trigger)
    inv = policies.inventory
    probes = tuple(expand(plan, inv, policies.matrix))
    check_vantages(plan, inv, probes)
    engine = Engine(prefixes(inv))
    engine.check_scope(probes)  # the engine checks again before it sends
    params = Params(
        rate=plan.rate,
        tries=plan.tries,
        timeout=plan.timeout,
        community=plan.snmp_community(),
        udp_pace=plan.udp_pace,
        udp_burst=plan.udp_burst,
    )
    return Prepared(policies, plan, trigger, probes, engine, params)


def finish_run(
    run: Prepared,
    collected: Collected,
    references: Callable[[float, float], Iterable[Seen]] | None = None,
) -> RunReport:
    """Decide what the engine collected and build the run's records. ``references(start,
    end)`` gives the recorded reachable UDP results of runs starting in [start, end]
    (``reference.py``): silent UDP probes with one are blocked."""
    from edgeaudit.probe.records import RunInfo, run_events
    from edgeaudit.probe.reference import is_silent_udp, parse_time
    from edgeaudit.probe.verdict import decide, with_references

    plan, probes = run.plan, run.probes
    inv, matrix = run.policies.inventory, run.policies.matrix
    order = sorted(probes, key=lambda p: (p.segment, p.address, p.protocol, p.port or 0))
    results, controls_ok = decide(order, collected.answers, collected.sent, collected.routed)
    t0, window = parse_time(collected.started), float(plan.reference_window)
    wanted = controls_ok and any(  # a reference counts only here: the store is read only then
        r.probe.port is not None and is_silent_udp(r.probe.protocol, r.verdict, r.reasons)
        for r in results
    )
    seen = references(t0 - window, t0 + window) if references is not None and wanted else ()
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
        trigger=run.trigger,
    )
    events = run_events(info, results, controls_ok, inv)
    return RunReport(info, results, controls_ok, tuple(events), wanted)


def run_plan(
    policies: Policies,
    name: str,
    trigger: str = "manual",
    references: Callable[[float, float], Iterable[Seen]] | None = None,
) -> RunReport:
    """Probe one plan from here (the process must be inside the plan's vantage network):
    :func:`prepare_run`, the engine, :func:`finish_run`."""
    run = prepare_run(policies, name, trigger)
    return finish_run(run, run.engine.run(run.probes, run.params), references)
