"""Probe plans: loading, validation against inventory and matrix, expansion, the scope guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import IsolationMatrix, load_isolation
from edgeaudit.probe.plan import ScopeError, expand, guard, load_plans

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(POLICIES / "inventory.yaml")


@pytest.fixture(scope="module")
def matrix(inventory: Inventory) -> IsolationMatrix:
    return load_isolation(POLICIES / "isolation.yaml", inventory)


def test_demo_plans(inventory: Inventory, matrix: IsolationMatrix) -> None:
    plans = load_plans(POLICIES / "probes.yaml", inventory, matrix)
    assert set(plans) == {"fintech-isolation", "media-isolation", "ai-isolation", "mgmt-reach"}
    fin = plans["fintech-isolation"]
    assert fin.vantage == "seg-fintech"
    assert fin.targets == ("seg-mgmt", "seg-media", "seg-ai")  # all = every other segment
    assert (fin.rate, fin.tries, fin.timeout, fin.cron) == (10_000, 3, 1.0, "0 3 * * 1")


def test_expansion(inventory: Inventory, matrix: IsolationMatrix) -> None:
    plan = load_plans(POLICIES / "probes.yaml", inventory, matrix)["fintech-isolation"]
    probes = expand(plan, inventory, matrix)
    addresses = {p.address for p in probes}
    # every address of every asset in the target segments, none of the vantage's own
    assert addresses == {
        "10.0.0.5",
        "10.0.0.131",
        "10.0.0.2",
        "10.0.0.3",
        "10.20.0.21",
        "10.30.0.31",
    }
    keys = {(p.address, p.protocol, p.port) for p in probes}
    assert len(keys) == len(probes)
    for address in addresses:
        for port in (22, 443, 3389, 5900, 8443, 3306, 8080):  # management + extra
            assert (address, "tcp", port) in keys
        for port in (161, 623):
            assert (address, "udp", port) in keys
        assert (address, "icmp", None) in keys
    bastion_dns = next(
        p for p in probes if p.address == "10.0.0.5" and p.port == 53 and p.protocol == "tcp"
    )
    assert (bastion_dns.expected, bastion_dns.control) == ("allow", True)
    assert bastion_dns.asset == "bastion-1"
    ntp = next(p for p in probes if p.address == "10.0.0.5" and p.port == 123)
    assert (ntp.expected, ntp.control) == ("allow", False)  # UDP silence cannot be a control
    render = [p for p in probes if p.address == "10.20.0.21"]
    assert all(p.expected == "deny" for p in render)
    assert render[0].owner == "media-b"
    assert render[0].segment == "seg-media"
    bmc = next(p for p in probes if p.address == "10.0.0.131")
    assert (bmc.asset, bmc.owner, bmc.segment) == ("ac-gpu-01-bmc", "ai-c", "seg-mgmt")


def test_scope_guard(inventory: Inventory) -> None:
    guard(["10.0.0.5", "10.30.0.99"], inventory)
    with pytest.raises(ScopeError, match=r"scope guard: 192\.0\.2\.1 is outside every segment"):
        guard(["10.0.0.5", "192.0.2.1"], inventory)
    with pytest.raises(ScopeError, match="not a target of this plan"):
        guard(["10.30.0.99"], inventory, ["seg-media"])


def _plans(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "probes.yaml"
    path.write_text("plans:\n" + body)
    return path


def test_plan_addresses_are_guarded(
    tmp_path: Path, inventory: Inventory, matrix: IsolationMatrix
) -> None:
    ok = _plans(
        tmp_path, "  - {name: p, vantage: seg-ai, targets: [seg-media], addresses: [10.20.0.77]}\n"
    )
    plan = load_plans(ok, inventory, matrix)["p"]
    assert "10.20.0.77" in {p.address for p in expand(plan, inventory, matrix)}
    bad = _plans(tmp_path, "  - {name: p, vantage: seg-ai, addresses: [8.8.8.8]}\n")
    with pytest.raises(ScopeError, match=r"8\.8\.8\.8 is outside every segment"):
        load_plans(bad, inventory, matrix)


def test_asset_address_outside_its_segment_is_refused(tmp_path: Path) -> None:
    inv_path = tmp_path / "inventory.yaml"
    inv_path.write_text(
        "site: {name: s}\ntenants: [{id: t}]\n"
        "segments:\n  - {id: a, owner: t, cidr: 198.18.1.0/24}\n"
        "  - {id: b, owner: shared, cidr: 198.18.2.0/24}\n"
        "assets:\n  - {hostname: h, kind: host, owner: t, segment: b, addresses: [198.18.1.9]}\n"
    )
    # refused when the inventory loads, naming the file and the asset's line
    with pytest.raises(InputError) as err:
        load_inventory(inv_path)
    assert f"{inv_path}:7: asset 'h': address 198.18.1.9 lies outside its segment 'b'" in str(
        err.value
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {name: p, vantage: seg-x}\n", ":2: unknown segment 'seg-x'"),
        ("  - {name: p, vantage: seg-ai, targets: [seg-ai]}\n", "cannot be its own target"),
        ("  - {name: p, vantage: seg-ai, cron: 'every monday'}\n", "not a valid cron"),
        ("  - {name: p, vantage: seg-ai, tries: 11}\n", "tries must be at most 10"),
        ("  - {name: p, vantage: seg-ai, tries: 0}\n", "tries must be at least 1"),
        ("  - {name: p, vantage: seg-ai, timeout: soon}\n", "timeout must be a number"),
        ("  - {name: p, vantage: seg-ai, rate: fast}\n", "rate must be an integer"),
        ("  - {name: P Q, vantage: seg-ai}\n", "may only use"),
        ("  - {name: p, vantage: seg-ai, extra_ports: {tcp: [0]}}\n", "within 1-65535"),
        ("  - {name: p, vantage: seg-ai, addresses: [not-an-ip]}\n", "is not an IP address"),
        ("  - {name: p, vantage: seg-ai, colour: red}\n", "unknown field 'colour'"),
        (
            "  - {name: p, vantage: seg-ai, udp_payloads: {623: [ipmi-magic]}}\n",
            ":2: unknown udp payload 'ipmi-magic' (known: snmp-v1-get, ",
        ),
        ("  - {name: p, vantage: seg-ai, udp_payloads: {70000: []}}\n", "at most 65535"),
        ("  - {name: p, vantage: seg-ai, udp_pace: 0}\n", ":2: udp_pace must be more than 0"),
        ("  - {name: p, vantage: seg-ai, udp_pace: 1.1, udp_burst: 0}\n", "udp_burst must be at"),
        (
            "  - {name: p, vantage: seg-ai, snmp_community: x, snmp_community_env: Y}\n",
            "give snmp_community or snmp_community_env, not both",
        ),
        (
            "  - {name: p, vantage: seg-ai}\n  - {name: p, vantage: seg-media}\n",
            ":3: plan 'p' is defined twice",
        ),
    ],
)
def test_bad_plans(
    tmp_path: Path, inventory: Inventory, matrix: IsolationMatrix, body: str, message: str
) -> None:
    with pytest.raises(InputError) as err:
        load_plans(_plans(tmp_path, body), inventory, matrix)
    assert message in str(err.value)


def test_plan_without_targets_to_probe(tmp_path: Path, inventory: Inventory) -> None:
    inv_path = tmp_path / "inventory.yaml"
    inv_path.write_text(
        "site: {name: s}\ntenants: [{id: t}]\n"
        "segments:\n  - {id: a, owner: t, cidr: 198.18.1.0/24}\n"
        "  - {id: b, owner: shared, cidr: 198.18.2.0/24}\n"
    )
    inv = load_inventory(inv_path)
    (tmp_path / "iso.yaml").write_text('version: "1"\ndefault: deny\n')
    m = load_isolation(tmp_path / "iso.yaml", inv)
    plan = load_plans(_plans(tmp_path, "  - {name: p, vantage: a}\n"), inv, m)["p"]
    with pytest.raises(InputError, match="nothing to probe"):
        expand(plan, inv, m)


def test_udp_payloads_by_port_and_by_plan(tmp_path: Path, inventory: Inventory) -> None:
    m = load_isolation(POLICIES / "isolation.yaml", inventory)
    body = (
        "  - {name: p, vantage: seg-ai, targets: [seg-mgmt], extra_ports: {udp: [10161, 9]},\n"
        "     udp_payloads: {10161: [snmp-v2c-get, snmp-v3-discovery], 623: []}}\n"
    )
    plan = load_plans(_plans(tmp_path, body), inventory, m)["p"]
    sends = {(p.port): p.payloads for p in expand(plan, inventory, m) if p.protocol == "udp"}
    assert sends[10161] == ("snmp-v2c-get", "snmp-v3-discovery")
    assert sends[623] == ()  # overridden: an empty datagram
    assert sends[9] == ()  # no request known for the port
    assert set(sends[161]) == {"snmp-v1-get", "snmp-v2c-get", "snmp-v3-discovery"}
    assert plan.params()["udp_payloads"] == {
        "623": [],
        "10161": ["snmp-v2c-get", "snmp-v3-discovery"],
    }


def test_udp_pace_is_recorded_with_the_run_params(
    tmp_path: Path, inventory: Inventory, matrix: IsolationMatrix
) -> None:
    body = "  - {name: p, vantage: seg-ai, udp_pace: 1.1}\n  - {name: q, vantage: seg-ai}\n"
    plans = load_plans(_plans(tmp_path, body), inventory, matrix)
    assert (plans["p"].udp_pace, plans["p"].udp_burst) == (1.1, 6)
    assert plans["p"].params()["udp_pace"] == 1.1
    assert "udp_pace" not in plans["q"].params()  # not paced: the records are as before


def test_every_port_fits_in_the_run_record(
    tmp_path: Path, inventory: Inventory, matrix: IsolationMatrix
) -> None:
    # 1-65535 in ranges of at most 4096: one number each would be ~390 KB in probe.run
    ranges = ", ".join(f'"{lo}-{min(lo + 4095, 65535)}"' for lo in range(1, 65536, 4096))
    ports_yaml = f"{{tcp: [{ranges}], udp: [9, 12, 11, 10, 7]}}"
    body = f"  - {{name: p, vantage: seg-ai, extra_ports: {ports_yaml}}}\n"
    plan = load_plans(_plans(tmp_path, body), inventory, matrix)["p"]
    assert len(plan.extra_tcp) == 65535
    params = plan.params()
    assert params["extra_tcp"] == ["1-65535"]
    assert params["extra_udp"] == [7, "9-12"]  # runs of three or more only
    assert len(json.dumps(params)) < 400

    # the compact form reads back to the same ports
    def ports(items: list[int | str]) -> tuple[int, ...]:
        out: list[int] = []
        for item in items:
            lo, _, hi = str(item).partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
        return tuple(out)

    assert ports(params["extra_tcp"]) == plan.extra_tcp
    assert ports(params["extra_udp"]) == plan.extra_udp == (7, 9, 10, 11, 12)
