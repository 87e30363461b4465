"""Dual-stack inventory: segments with an IPv4 and an IPv6 prefix (``cidrs:``), assets with an
address in each, every address checked against its segment's prefixes when the inventory loads,
plans probing each address of each family, and on a real namespace topology a tenant port
blocked over IPv4 but let through over IPv6 reported as a leak."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import load_isolation
from edgeaudit.probe.model import ScopeError
from edgeaudit.probe.plan import expand, guard, load_plans, segment_of
from tests.probe.conftest import TOPO, Workspace, build, init_workspace
from tests.probe.netns import Topology, require_netns

DUAL = Path(__file__).parent / "data" / "dual"
INVENTORY = (DUAL / "inventory.yaml").read_text()


def _inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def test_a_dual_stack_inventory_loads() -> None:
    inv = load_inventory(DUAL / "inventory.yaml")
    seg = next(s for s in inv.segments if s.id == "seg-b")
    assert [str(n) for n in seg.prefixes] == ["198.18.2.0/24", "2001:db8:2::/64"]
    assert str(seg.cidr) == "198.18.2.0/24"  # the first prefix, for single-prefix readers
    b = inv.asset("b-app")
    assert b is not None
    assert b.addresses == ("198.18.2.20", "2001:db8:2::20")
    assert inv.asset("2001:db8:2::20") is b
    assert segment_of("2001:db8:2::20", inv) == segment_of("198.18.2.20", inv) == "seg-b"
    assert segment_of("2001:db8:9::1", inv) is None


def test_the_single_prefix_form_is_unchanged() -> None:
    inv = load_inventory(TOPO / "inventory.yaml")
    assert [(s.id, [str(n) for n in s.prefixes]) for s in inv.segments] == [
        ("seg-v", ["198.18.1.0/24"]),
        ("seg-b", ["198.18.2.0/24"]),
        ("seg-c", ["198.18.3.0/24"]),
    ]


def test_a_single_address_may_be_written_as_address(tmp_path: Path) -> None:
    text = INVENTORY.replace(
        'addresses: [198.18.2.20, "2001:db8:2::20"]', 'address: "2001:db8:2::5"'
    )
    b = load_inventory(_inventory(tmp_path, text)).asset("b-app")
    assert b is not None
    assert b.addresses == ("2001:db8:2::5",)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"2001:db8:2::20"]',
            '"2001:db8:3::20"]',
            ":13: asset 'b-app': address 2001:db8:3::20 lies outside its segment 'seg-b' "
            "(198.18.2.0/24, 2001:db8:2::/64)",
        ),
        (
            '"2001:db8:2::20"]',
            '"2001:db8:2::"]',
            ":13: asset 'b-app': address 2001:db8:2:: is the network address of its segment "
            "'seg-b' (2001:db8:2::/64), not a host",
        ),
        (
            "[198.18.2.20,",
            "[198.18.2.255,",
            ":13: asset 'b-app': address 198.18.2.255 is the broadcast address of its segment",
        ),
        (
            '"2001:db8:2::/64"]',
            '"2001:db8:2::/64", "2001:db8:2::/48"]',
            ":9: prefix 2001:db8:2::/48 overlaps 2001:db8:2::/64 of the same segment",
        ),
        (
            '"2001:db8:2::/64"]',
            '"2001:db8:2::/640"]',
            ":9: not a CIDR network",
        ),
        (
            'cidrs: [198.18.2.0/24, "2001:db8:2::/64"]',
            "cidr: 198.18.2.0/24, cidrs: [198.18.4.0/24]",
            ":9: a segment needs cidr (one prefix) or cidrs (a list of prefixes): exactly one",
        ),
        (
            'addresses: [198.18.2.20, "2001:db8:2::20"]',
            'address: 198.18.2.20, addresses: ["2001:db8:2::20"]',
            ":13: give address or addresses, not both",
        ),
    ],
)
def test_dual_stack_inventory_errors_name_the_file_and_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in INVENTORY
    path = _inventory(tmp_path, INVENTORY.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        load_inventory(path)
    assert f"{path}{message}" in str(err.value)


def test_the_scope_guard_accepts_either_family_and_refuses_outside_both() -> None:
    inv = load_inventory(DUAL / "inventory.yaml")
    guard(["198.18.2.7", "2001:db8:2::7"], inv, ["seg-b"])
    with pytest.raises(ScopeError, match="2001:db8:9::7 is outside every segment"):
        guard(["2001:db8:9::7"], inv)
    with pytest.raises(ScopeError, match="2001:db8:3::7 lies in segment 'seg-c'"):
        guard(["2001:db8:3::7"], inv, ["seg-b"])
    with pytest.raises(ScopeError, match="2001:db8:2:: is the network address of segment"):
        guard(["2001:db8:2::"], inv)


def test_a_plan_probes_every_address_of_each_family() -> None:
    inv = load_inventory(DUAL / "inventory.yaml")
    matrix = load_isolation(DUAL / "isolation.yaml", inv)
    plan = load_plans(DUAL / "probes.yaml", inv, matrix)["dual"]
    probes = expand(plan, inv, matrix)
    by_address: dict[str, set[tuple[str, int | None, str]]] = {}
    for p in probes:
        by_address.setdefault(p.address, set()).add((p.protocol, p.port, p.expected))
    assert set(by_address) == {"198.18.2.20", "2001:db8:2::20", "198.18.3.30", "2001:db8:3::30"}
    # the same ports and expectations over both families
    assert by_address["198.18.2.20"] == by_address["2001:db8:2::20"]
    assert by_address["198.18.3.30"] == by_address["2001:db8:3::30"]
    assert ("tcp", 22, "allow") in by_address["2001:db8:3::30"]
    assert ("tcp", 8443, "deny") in by_address["2001:db8:2::20"]


@pytest.fixture(scope="module")
def dual() -> Iterator[Topology]:
    require_netns()
    t = Topology()
    try:
        build(t)
        t.add6("v", "2001:db8:1::1/64", {"v": "2001:db8:1::10/64"})
        t.add6("b", "2001:db8:2::1/64", {"b": "2001:db8:2::20/64"})
        t.add6("c", "2001:db8:3::1/64", {"c": "2001:db8:3::30/64"})
        t.nft((DUAL / "nft.nft").read_text())
        yield t
    finally:
        t.destroy()


class DualWorkspace(Workspace):
    def policy_args(self, plans: Path | None = None) -> list[str]:
        return [
            "--inventory",
            str(DUAL / "inventory.yaml"),
            "--isolation",
            str(DUAL / "isolation.yaml"),
            "--plans",
            str(plans or DUAL / "probes.yaml"),
        ]


def test_a_leak_over_ipv6_with_ipv4_blocked_is_a_leak(
    dual: Topology, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("wsdual")
    init_workspace(root)
    done = DualWorkspace(root, dual).probe("v", "run", "--plan", "dual", "--json")
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    results = {(r["address"], r["protocol"], r["port"]): r for r in report["results"]}
    leak6 = results[("2001:db8:2::20", "tcp", 8443)]
    blocked4 = results[("198.18.2.20", "tcp", 8443)]
    assert (leak6["verdict"], leak6["violation"]) == ("reachable", True)
    assert (blocked4["verdict"], blocked4["violation"]) == ("blocked", False)
    # the positive controls answered over both families
    for address in ("198.18.3.30", "2001:db8:3::30"):
        assert results[(address, "tcp", 22)]["verdict"] == "reachable"
    assert report["controls_ok"] is True
    assert done.returncode == 1  # a denied path reachable over either family
    assert all(r["violation"] is False for k, r in results.items() if k[0] != "2001:db8:2::20")


def test_schedule_picks_a_dual_stack_plan_only_where_both_families_send_from_its_vantage(
    dual: Topology, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A host in the vantage segment over IPv4 but without IPv6 there cannot run the plan
    (its IPv6 probes would leave from elsewhere): ``probe schedule`` does not pick it (it was
    picked on its first probe's family, IPv4, and then failed when due)."""
    dual.host("w", "v", "198.18.1.11/24")  # IPv4 in seg-v, no IPv6 address at all
    root = tmp_path_factory.mktemp("wsdualsched")
    init_workspace(root)
    plans = root / "probes.yaml"
    plans.write_text(
        (DUAL / "probes.yaml").read_text().replace("    rate:", '    cron: "* * * * *"\n    rate:')
    )
    ws = DualWorkspace(root, dual)
    done = ws.probe("w", "schedule", "--max-runs", "1", plans=plans, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "no scheduled plan has its vantage segment here" in done.stderr
    # named explicitly, the plan refuses to run from there, naming the family that fails
    done = ws.probe("w", "run", "--plan", "dual", plans=plans, timeout=30)
    assert done.returncode == 2
    assert "2001:db8:" in done.stderr, done.stderr
    assert "no route" in done.stderr
