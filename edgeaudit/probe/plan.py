"""Probe plans (``policies/probes.yaml``) and their expansion into single probes.

::

    plans:
      - name: fintech-isolation
        vantage: seg-fintech          # where the probe runs (a namespace or host on that VLAN)
        cron: "0 3 * * 1"             # croniter syntax; 6 fields = with seconds
        targets: all                  # or a list of segment ids
        extra_ports: {tcp: [8080], udp: [5353]}
        addresses: [10.20.0.99]       # optional extra targets; must lie in a target segment
        rate: 10000                   # packets per second (token bucket)
        tries: 3                      # probes per port before "no answer"
        timeout: 1.0                  # seconds to wait for answers after each round
        icmp: true                    # ICMP echo to every target (default true)
        arp: false                    # ARP who-has for every target on the vantage link
        udp_payloads: {1161: [snmp-v2c-get], 623: []}   # per port: which requests to send
        snmp_community: public        # SNMP v1/v2c community (default public; never recorded)
        snmp_community_env: SNMP_RO   # or: read it from this environment variable at run time
        reference_window: 1h          # UDP silence is blocked given a reference this close
        udp_pace: 1.0                 # after udp_burst datagrams to one address, one per 1 s
        udp_burst: 6                  # (default: no pacing; Linux limits ICMP errors so)

A plan probes every address of every asset in its target segments, on the ports the matrix
allows from the vantage segment, the management ports and the plan's extra ports. The scope
guard refuses any target address outside the inventory's segments.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import IsolationMatrix, parse_ports
from edgeaudit.probe.model import Probe, ScopeError
from edgeaudit.probe.payloads import PAYLOADS, for_port
from edgeaudit.probe.scope import guard as guard  # re-exported: callers import them from here
from edgeaudit.probe.scope import segment_of as segment_of
from edgeaudit.yamlfile import Node, load_yaml

DEFAULT_RATE: Final = 10_000
DEFAULT_TRIES: Final = 3
DEFAULT_TIMEOUT: Final = 1.0
NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    vantage: str
    cron: str | None
    targets: tuple[str, ...]  # segment ids (expanded from "all")
    extra_tcp: tuple[int, ...]
    extra_udp: tuple[int, ...]
    addresses: tuple[str, ...]
    rate: int
    tries: int
    timeout: float
    icmp: bool
    arp: bool
    line: int
    udp_payloads: tuple[tuple[int, tuple[str, ...]], ...] = ()  # per-port override
    community: str = "public"
    community_env: str | None = None  # the community comes from this variable at run time
    reference_window: int = 3600  # seconds
    udp_pace: float = 0.0  # seconds between UDP datagrams to one address after a burst
    udp_burst: int = 6

    def snmp_community(self) -> bytes:
        """The SNMP community to send (from ``snmp_community_env`` when given: never written
        to a file or a record)."""
        if self.community_env is None:
            return self.community.encode()
        value = os.environ.get(self.community_env)
        if not value:
            raise InputError(
                f"plan {self.name!r}: snmp_community_env {self.community_env} is not set"
            )
        return value.encode()

    def params(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "tries": self.tries,
            "timeout": self.timeout,
            "extra_tcp": compact_ports(self.extra_tcp),
            "extra_udp": compact_ports(self.extra_udp),
            "icmp": self.icmp,
            "arp": self.arp,
            "reference_window": self.reference_window,
            **({"udp_pace": self.udp_pace, "udp_burst": self.udp_burst} if self.udp_pace else {}),
            **(
                {"udp_payloads": {str(p): list(n) for p, n in self.udp_payloads}}
                if self.udp_payloads
                else {}
            ),
        }


def compact_ports(ports: tuple[int, ...]) -> list[int | str]:
    """Sorted ports for a record: a run of three or more consecutive ports as ``"LO-HI"`` (the
    range form of ``probes.yaml``, any length), the others as numbers. A plan may list every
    port; one number each would make its ``probe.run`` record larger than an entry may be
    (65 535 bytes), refused after the probing."""
    out: list[int | str] = []
    i = 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{ports[i]}-{ports[j]}")
        else:
            out.extend(ports[i : j + 1])
        i = j + 1
    return out


@dataclass(frozen=True)
class PlanSet:
    """The plans of ``probes.yaml`` that loaded, the errors of those that did not (keyed by
    plan name, or ``#N`` when even the name is unreadable) and load-time warnings."""

    plans: dict[str, Plan]
    errors: dict[str, InputError]
    warnings: tuple[str, ...]


def load_plan_set(path: str | Path, inventory: Inventory, matrix: IsolationMatrix) -> PlanSet:
    """Load every plan; a bad plan is reported and skipped, the others still load (an unreadable
    file or a file without a ``plans`` list is still one error for all)."""
    root = load_yaml(path, "probe plans")
    top = root.mapping({"plans"}, {"plans"})
    segments = [s.id for s in inventory.segments]
    plans: dict[str, Plan] = {}
    errors: dict[str, InputError] = {}
    warnings: list[str] = []
    for i, n in enumerate(top["plans"].items()):
        name = _name_of(n) or f"#{i + 1}"
        try:
            plan = _plan(n, segments, matrix)
            if plan.name in plans or plan.name in errors:
                plans.pop(plan.name, None)
                raise n.fail(f"plan {plan.name!r} is defined twice")
            guard(plan.addresses, inventory, plan.targets)
        except InputError as exc:
            errors.setdefault(name, exc)
            continue
        plans[plan.name] = plan
        if not _has_control(plan, matrix):
            warnings.append(
                f"{root.file}:{plan.line}: plan {plan.name!r}: the matrix allows no TCP or ICMP "
                f"path from {plan.vantage} to its targets, so the plan has no positive control "
                "and its 'blocked' verdicts will be inconclusive (exit 3)"
            )
    if not plans and not errors:
        raise top["plans"].fail("no plans defined")
    return PlanSet(plans, errors, tuple(warnings))


def load_plans(path: str | Path, inventory: Inventory, matrix: IsolationMatrix) -> dict[str, Plan]:
    """Load and validate every plan, keyed by name; the first bad plan is an error."""
    loaded = load_plan_set(path, inventory, matrix)
    if loaded.errors:
        raise next(iter(loaded.errors.values()))
    return loaded.plans


def _name_of(n: Node) -> str | None:
    value = getattr(n.node, "value", None)
    if isinstance(value, list):
        for k, v in value:
            if getattr(k, "value", None) == "name" and isinstance(getattr(v, "value", None), str):
                return str(v.value)
    return None


def _has_control(plan: Plan, matrix: IsolationMatrix) -> bool:
    """Whether the matrix allows a TCP or ICMP path of the plan (a positive control)."""
    for target in plan.targets:
        rule = matrix.rule(plan.vantage, target)
        if rule is not None and (rule.tcp or (rule.icmp and plan.icmp)):
            return True
    return False


def _float(n: Node, what: str) -> float:
    raw = n.text(what)
    try:
        value = float(raw)
    except ValueError:
        raise n.fail(f"{what} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 60:
        raise n.fail(f"{what} must be more than 0 and at most 60 seconds, not {raw}")
    return value


def _plan(n: Node, segments: list[str], matrix: IsolationMatrix) -> Plan:
    f = n.mapping(
        {
            "name",
            "vantage",
            "cron",
            "targets",
            "extra_ports",
            "addresses",
            "rate",
            "tries",
            "timeout",
            "icmp",
            "arp",
            "udp_payloads",
            "snmp_community",
            "snmp_community_env",
            "reference_window",
            "udp_pace",
            "udp_burst",
        },
        {"name", "vantage"},
    )
    name = f["name"].text("plan name")
    if not set(name) <= NAME_CHARS:
        raise f["name"].fail(f"plan name {name!r} may only use a-z, 0-9, '-', '_' and '.'")

    def segment(node: Node) -> str:
        value = node.text("segment")
        if value not in segments:
            raise node.fail(f"unknown segment {value!r} (known: {', '.join(segments)})")
        return value

    vantage = segment(f["vantage"])
    cron = f["cron"].text("cron") if "cron" in f else None
    if cron is not None:
        from croniter import croniter  # only for a plan with cron: start-up stays short

        if not croniter.is_valid(cron):
            raise f["cron"].fail(f"cron {cron!r} is not a valid cron expression")
    if "targets" not in f or (
        isinstance(f["targets"].node.value, str) and f["targets"].node.value == "all"
    ):
        targets = tuple(s for s in segments if s != vantage)
    else:
        targets = tuple(segment(t) for t in f["targets"].items())
        if vantage in targets:
            raise f["targets"].fail(f"the vantage segment {vantage!r} cannot be its own target")
        if len(set(targets)) != len(targets):
            raise f["targets"].fail("a target segment is listed twice")
    extra_tcp: tuple[int, ...] = ()
    extra_udp: tuple[int, ...] = ()
    if "extra_ports" in f:
        e = f["extra_ports"].mapping({"tcp", "udp"}, set())
        extra_tcp = parse_ports(e["tcp"], "tcp port") if "tcp" in e else ()
        extra_udp = parse_ports(e["udp"], "udp port") if "udp" in e else ()
    addresses = f["addresses"].texts("address") if "addresses" in f else ()
    for a in addresses:
        try:
            ipaddress.ip_address(a)
        except ValueError:
            raise f["addresses"].fail(f"{a!r} is not an IP address") from None
    rate = f["rate"].integer("rate", minimum=1) if "rate" in f else DEFAULT_RATE
    tries = f["tries"].integer("tries", minimum=1) if "tries" in f else DEFAULT_TRIES
    if tries > 10:
        raise f["tries"].fail(f"tries must be at most 10, not {tries}")
    timeout = _float(f["timeout"], "timeout") if "timeout" in f else DEFAULT_TIMEOUT
    matrix.pairs([vantage, *targets])  # every segment is known to the matrix as well
    udp_payloads = _udp_payloads(f["udp_payloads"]) if "udp_payloads" in f else ()
    community = f["snmp_community"].text("snmp_community") if "snmp_community" in f else "public"
    community_env = None
    if "snmp_community_env" in f:
        if "snmp_community" in f:
            raise f["snmp_community_env"].fail(
                "give snmp_community or snmp_community_env, not both"
            )
        community_env = f["snmp_community_env"].text("snmp_community_env")
    window = 3600
    if "reference_window" in f:
        window = f["reference_window"].duration("reference_window")
        if not 0 < window <= 86400:
            raise f["reference_window"].fail("reference_window must be more than 0 and at most 1d")
    pace = _float(f["udp_pace"], "udp_pace") if "udp_pace" in f else 0.0  # 0: not paced
    burst = f["udp_burst"].integer("udp_burst", minimum=1) if "udp_burst" in f else 6
    return Plan(
        name=name,
        vantage=vantage,
        cron=cron,
        targets=targets,
        extra_tcp=extra_tcp,
        extra_udp=extra_udp,
        addresses=addresses,
        rate=rate,
        tries=tries,
        timeout=timeout,
        icmp=f["icmp"].boolean("icmp") if "icmp" in f else True,
        arp=f["arp"].boolean("arp") if "arp" in f else False,
        line=int(n.node.start_mark.line) + 1,
        udp_payloads=udp_payloads,
        community=community,
        community_env=community_env,
        reference_window=window,
        udp_pace=pace,
        udp_burst=burst,
    )


def _udp_payloads(n: Node) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """``{port: [payload, ...]}``: the requests sent to a UDP port (``[]``: an empty
    datagram), instead of the ones the port would pick."""
    out: dict[int, tuple[str, ...]] = {}
    for k, v in n.pairs("udp payload"):
        port = k.integer("udp_payloads port", minimum=1)
        if port > 65535:
            raise k.fail(f"udp_payloads port must be at most 65535, not {port}")
        names = v.texts("payload name")
        for name in names:
            if name not in PAYLOADS:
                raise v.fail(f"unknown udp payload {name!r} (known: {', '.join(PAYLOADS)})")
        out[port] = names
    return tuple(sorted(out.items()))


def expand(plan: Plan, inventory: Inventory, matrix: IsolationMatrix) -> tuple[Probe, ...]:
    """Every probe of ``plan``: targets x (allowed + management + extra ports), ICMP, ARP."""
    targets: dict[str, tuple[str, str | None, str | None]] = {}
    for asset in inventory.assets:
        if asset.segment in plan.targets:
            for address in asset.addresses:
                targets.setdefault(address, (asset.segment, asset.hostname, asset.owner))
    for address in plan.addresses:
        seg = segment_of(address, inventory)
        found = inventory.asset(address)
        targets.setdefault(
            address, (seg or "", found.hostname if found else None, found.owner if found else None)
        )
    guard(targets, inventory)
    for address, (seg, _, _) in targets.items():
        if segment_of(address, inventory) != seg:
            raise ScopeError(
                f"scope guard: {address} (asset of segment {seg!r}) lies outside that segment's "
                "network in the inventory; refusing to probe it"
            )
    probes: list[Probe] = []
    mgmt = matrix.management_ports
    override = dict(plan.udp_payloads)
    for address, (seg, host, owner) in targets.items():
        rule = matrix.rule(plan.vantage, seg)
        tcp = set(mgmt.tcp) | set(plan.extra_tcp) | set(rule.tcp if rule else ())
        udp = set(mgmt.udp) | set(plan.extra_udp) | set(rule.udp if rule else ())
        wanted: list[tuple[str, int | None]] = [
            *(("tcp", p) for p in sorted(tcp)),
            *(("udp", p) for p in sorted(udp)),
            *((("icmp", None),) if plan.icmp else ()),
            *((("arp", None),) if plan.arp else ()),
        ]
        for protocol, port in wanted:
            ok = matrix.allows(plan.vantage, seg, protocol, port)
            sends = for_port(port, override) if protocol == "udp" and port else ()
            probes.append(
                Probe(address, protocol, port, seg, host, owner, "allow" if ok else "deny", sends)
            )
    if not probes:
        raise InputError(
            f"plan {plan.name!r}: no asset with an address in its target segments "
            f"({', '.join(plan.targets)}); nothing to probe"
        )
    return tuple(probes)
