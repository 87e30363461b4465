"""A third, independent operating model: a dual-stack pod judged over IPv6 probe results.

Nothing here is named like the demo pod (``policies/``) or the second model
(``tests/policy/second_model/``): site ``osl-edge-2`` in Europe/Oslo, tenants tern-energy and
skarv-games, segments with one IPv4 prefix from 198.18.0.0/15 and one IPv6 prefix from
2001:db8::/32 each, assets with an address of each family. The model is written by
:func:`write_world` (the pack tests build a tenant pack from it).

The probe evidence is made by the probe code itself: the plan of ``probes.yaml`` is expanded
against the inventory and the matrix (every address of every target, both families), each
probe is answered as a filter with the stated leaks would answer it (SYN/ACK and echo replies
on the allowed paths, ICMP/ICMPv6 administratively-prohibited from the router on the denied
ones), the verdicts come from :func:`edgeaudit.probe.verdict.decide` and the records from
:func:`edgeaudit.probe.records.run_events`, exactly as ``edgeaudit probe run`` stores them.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.policy.isolation import load_isolation
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Assessment
from edgeaudit.probe.engine import ENGINE, Answer, Key
from edgeaudit.probe.model import Probe
from edgeaudit.probe.plan import expand, load_plan_set
from edgeaudit.probe.records import RunInfo, run_events
from edgeaudit.probe.verdict import decide
from tests.policy.helpers import Evidence, the
from tests.policy.helpers import run as evaluate_with

SECOND = Path(__file__).resolve().parent / "second_model"

# the assessed quarter (2026Q4) and the time of the assessment
START = "2026-10-01T00:00:00Z"
END = "2027-01-01T00:00:00Z"
NOW = "2027-01-02T00:00:00Z"

TERN = {"v4": "198.18.40.0/24", "v6": "2001:db8:40::/64"}
SKARV = {"v4": "198.18.50.0/24", "v6": "2001:db8:50::/64"}
OPS = {"v4": "198.18.60.0/24", "v6": "2001:db8:60::/64"}
SCADA6 = "2001:db8:40::21"  # tern-scada-01's IPv6 address
DENIED_PAIR = "seg-skarv->seg-tern"

INVENTORY = f"""# A dual-stack pod for the policy and pack tests (no name shared with other models).
site: {{name: osl-edge-2, timezone: Europe/Oslo}}
tenants:
  - {{id: tern-energy, name: Tern Energy ASA}}
  - {{id: skarv-games, name: Skarv Games AS}}
segments:
  - {{id: seg-ops, owner: shared, cidrs: [{OPS["v4"]}, {OPS["v6"]}]}}
  - {{id: seg-tern, owner: tern-energy, cidrs: [{TERN["v4"]}, {TERN["v6"]}]}}
  - {{id: seg-skarv, owner: skarv-games, cidrs: [{SKARV["v4"]}, {SKARV["v6"]}]}}
assets:
  - {{hostname: ops-bastion, kind: host, owner: shared, segment: seg-ops,
     addresses: [198.18.60.10, "2001:db8:60::10"]}}
  - {{hostname: tern-scada-01, kind: host, owner: tern-energy, segment: seg-tern,
     addresses: [198.18.40.21, "{SCADA6}"]}}
  - {{hostname: skarv-match-01, kind: host, owner: skarv-games, segment: seg-skarv,
     addresses: [198.18.50.31, "2001:db8:50::31"]}}
"""

ISOLATION = """version: "osl2-2026.10"
default: deny
allow:
  - {from: seg-ops, to: seg-tern, tcp: [22], icmp: true, reason: "operator administration"}
  - {from: seg-ops, to: seg-skarv, tcp: [22], icmp: true, reason: "operator administration"}
  - {from: seg-skarv, to: seg-ops, tcp: [443], icmp: true, reason: "update mirror"}
  - {from: seg-tern, to: seg-ops, tcp: [443], icmp: true, reason: "update mirror"}
"""

PLANS = """plans:
  - name: skarv-out
    vantage: seg-skarv
    targets: [seg-tern, seg-ops]
    extra_ports: {tcp: [502, 8443]}
    timeout: 0.5
"""

RULES = """# Segmentation only: the rules this model exercises.
version: 1
rules:
  - id: osl-probe-cadence
    check: segmentation.cadence
    activity: isolation-testing
    severity: high
    params: {cadence: 90d}
    controls: [pci-dss-4.0.1:11.4.6, pci-dss-4.0.1:A1.1.4]
  - id: osl-denied-blocked
    check: segmentation.denied_blocked
    activity: isolation-testing
    severity: critical
    controls: [pci-dss-4.0.1:11.4.5, iso27001-2022:a.8.22]
  - id: osl-allowed-reachable
    check: segmentation.allowed_reachable
    activity: isolation-testing
    severity: low
    controls: [iso27001-2022:a.8.21]
"""

DENIED = "osl-denied-blocked"
ALLOWED = "osl-allowed-reachable"


def write_world(root: Path) -> Path:
    """The model's policy directory (inventory, matrix, plans, rules; the controls catalogue of
    the second model, which names no site)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("inventory.yaml", INVENTORY),
        ("isolation.yaml", ISOLATION),
        ("probes.yaml", PLANS),
        ("rules.yaml", RULES),
    ):
        (root / name).write_text(text, encoding="utf-8")
    shutil.copy(SECOND / "controls.yaml", root / "controls.yaml")
    return root


Network = Callable[[Probe], Answer | None]


def filtered(leaks: set[tuple[str, str, int | None]]) -> Network:
    """The routed pod: allowed paths (and ``leaks``: address, protocol, port) answer as the
    host does; everything else draws an administratively-prohibited error from the router of
    the target's segment (ICMP 3/13 over IPv4, ICMPv6 1/1 over IPv6)."""

    def answer(p: Probe) -> Answer | None:
        v6 = ":" in p.address
        if p.expected == "allow" or (p.address, p.protocol, p.port) in leaks:
            kind = {"tcp": "syn-ack", "icmp": "echo", "udp": "udp"}[p.protocol]
            return Answer(kind, p.address, 63)
        router = str(next(ipaddress.ip_network(f"{p.address}/{64 if v6 else 24}", False).hosts()))
        return Answer("icmp", router, 64, *((1, 1) if v6 else (3, 13)))

    return answer


def probe_records(
    policies: Path, network: Network, run: str, at: str, plan: str = "skarv-out"
) -> list[dict[str, Any]]:
    """One run of ``plan`` against ``network``, as ``edgeaudit probe run`` records it."""
    inv = load_inventory(policies / "inventory.yaml")
    matrix = load_isolation(policies / "isolation.yaml", inv)
    the_plan = load_plan_set(policies / "probes.yaml", inv, matrix).plans[plan]
    probes = expand(the_plan, inv, matrix)
    answers: dict[Key, list[Answer]] = {}
    for p in probes:
        a = network(p)
        if a is not None:
            answers[(p.address, p.protocol, p.port)] = [a]
    sent = {(p.address, p.protocol, p.port): 1 for p in probes}
    results, controls_ok = decide(probes, answers, sent, dict.fromkeys(inv_addresses(inv), True))
    info = RunInfo(run, plan, the_plan.vantage, matrix.version, ENGINE, {}, at, at, "schedule")
    return [e.to_record() for e in run_events(info, results, controls_ok, inv)]


def inv_addresses(inv: Inventory) -> list[str]:
    return [a for asset in inv.assets for a in asset.addresses]


def assess(policies: Path, ev: Evidence) -> Assessment:
    return evaluate_with(policies, ev.log, start=START, end=END, now=NOW)


# -- the tests ------------------------------------------------------------------------------


def test_the_plan_probes_both_families_of_every_target(tmp_path: Path) -> None:
    policies = write_world(tmp_path / "policies")
    records = probe_records(policies, filtered(set()), "run-1", "2026-11-02T02:00:00Z")
    addresses = {r["attrs"]["address"] for r in records if r["kind"] == "probe.result"}
    assert addresses == {"198.18.40.21", SCADA6, "198.18.60.10", "2001:db8:60::10"}


def test_denied_ipv6_path_reachable_fails_naming_it(tmp_path: Path, ev: Evidence) -> None:
    policies = write_world(tmp_path / "policies")
    # tern-scada-01 answers Modbus (tcp/502) over IPv6 only: the IPv4 filter drops it
    leak: set[tuple[str, str, int | None]] = {(SCADA6, "tcp", 502)}
    idx = ev.add(probe_records(policies, filtered(leak), "run-1", "2026-11-02T02:00:00Z"))
    results = [r for r in ev_records(ev, idx) if r["kind"] == "probe.result"]
    v4 = [r for r in results if r["attrs"]["address"] == "198.18.40.21"]
    assert {r["attrs"]["verdict"] for r in v4} == {"blocked"}  # IPv4 blocks every port
    r = the(assess(policies, ev), DENIED, segment=DENIED_PAIR)
    assert r.status == FAIL
    assert r.scope.tenant == "tern-energy"
    assert f"1 denied path from seg-skarv to seg-tern reachable: tcp/502 at {SCADA6}" in r.reason
    leaked = [
        i
        for i, rec in zip(idx, ev_records(ev, idx), strict=True)
        if rec["kind"] == "probe.result"
        and rec["attrs"]["address"] == SCADA6
        and rec["attrs"]["port"] == 502
    ]
    assert [e.index for e in r.evidence] == [idx[0], *leaked]  # the run and the IPv6 result


def test_every_path_blocked_over_both_families_passes(tmp_path: Path, ev: Evidence) -> None:
    policies = write_world(tmp_path / "policies")
    idx = ev.add(probe_records(policies, filtered(set()), "run-1", "2026-11-02T02:00:00Z"))
    a = assess(policies, ev)
    r = the(a, DENIED, segment=DENIED_PAIR)
    assert r.status == PASS, r.reason
    assert "blocked on run run-1 with passing positive controls" in r.reason
    assert [e.index for e in r.evidence] == [idx[0]]
    reached = the(a, ALLOWED, segment="seg-skarv->seg-ops")
    assert reached.status == PASS, reached.reason
    # the allowed paths were reached over both families (the controls of both)
    rows = [r for r in ev_records(ev, idx) if r["kind"] == "probe.result"]
    controls = {r["attrs"]["address"] for r in rows if r["attrs"]["control"]}
    assert controls == {"198.18.60.10", "2001:db8:60::10"}


def test_a_failed_ipv6_control_leaves_the_pair_not_evaluated(tmp_path: Path, ev: Evidence) -> None:
    """The check above can fail another way: the IPv6 control (tcp/443 to ops-bastion) is
    filtered, so the run's blocked verdicts prove nothing."""
    policies = write_world(tmp_path / "policies")
    base = filtered(set())

    def network(p: Probe) -> Answer | None:
        if p.address == "2001:db8:60::10" and p.port == 443:
            return None  # silence: the allowed IPv6 path is dropped
        return base(p)

    ev.add(probe_records(policies, network, "run-1", "2026-11-02T02:00:00Z"))
    a = assess(policies, ev)
    r = the(a, DENIED, segment=DENIED_PAIR)
    assert r.status == NOT_EVALUATED
    assert "positive controls failed" in r.reason
    assert the(a, ALLOWED, segment="seg-skarv->seg-ops").status == FAIL


def ev_records(ev: Evidence, idx: list[int]) -> list[dict[str, Any]]:
    import json

    with ev.log.reader() as reader:
        rows = {i: json.loads(bytes(b)) for i, b, _, _ in reader.iter_entries(idx[0])}
    return [rows[i] for i in idx]
