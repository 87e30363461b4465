"""IPv6 on a real dual-stack topology: the namespaces of the IPv4 tests with IPv6 prefixes from
the documentation range (2001:db8::/32) beside their IPv4 ones, and the router's nftables
policy for both families. The cases of the IPv4 tests: an allowed port, a closed port, drops,
admin-prohibited, a forged RST, a leaked TCP port, a BMC and an SNMP agent leaked over UDP,
ICMPv6 echo, UDP silence with and without a reference, neighbour solicitation, the scope
guard, and 5 % loss changing no verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.probe.conftest import BASE_RULES, Workspace, build, init_workspace
from tests.probe.netns import Topology, require_netns

TOPO6 = Path(__file__).parent / "data" / "topo6"
V6_RULES = (TOPO6 / "nft-v6.nft").read_text()
RULES = BASE_RULES.replace(
    "    ct state established,related accept\n",
    "    ct state established,related accept\n" + V6_RULES,
)
LOSS_RULES = RULES.replace(
    "ct state established,related accept",
    "numgen random mod 100 < 5 drop\n    ct state established,related accept",
)
B, C = "2001:db8:2::20", "2001:db8:3::30"


@pytest.fixture(scope="module")
def topo6() -> Iterator[Topology]:
    require_netns()
    t = Topology()
    try:
        build(t)
        t.add6("v", "2001:db8:1::1/64", {"v": "2001:db8:1::10/64"})
        t.add6("b", "2001:db8:2::1/64", {"b": "2001:db8:2::20/64"})
        t.add6("c", "2001:db8:3::1/64", {"c": "2001:db8:3::30/64"})
        t.nft(RULES)
        yield t
    finally:
        t.destroy()


class Workspace6(Workspace):
    def policy_args(self, plans: Path | None = None) -> list[str]:
        return [
            "--inventory",
            str(TOPO6 / "inventory.yaml"),
            "--isolation",
            str(TOPO6 / "isolation.yaml"),
            "--plans",
            str(plans or TOPO6 / "probes.yaml"),
        ]


@pytest.fixture(scope="module")
def ws6(topo6: Topology, tmp_path_factory: pytest.TempPathFactory) -> Workspace6:
    root = tmp_path_factory.mktemp("ws6")
    init_workspace(root)
    return Workspace6(root, topo6)


def by_target(report: dict[str, Any]) -> dict[tuple[str, str, int | None], dict[str, Any]]:
    return {(r["address"], r["protocol"], r["port"]): r for r in report["results"]}


@pytest.fixture(scope="module")
def run6(ws6: Workspace6) -> tuple[int, dict[str, Any], dict[str, Any]]:
    ref = ws6.probe("c", "run", "--plan", "from-c6", "--json")
    assert ref.returncode == 0, ref.stderr
    done = ws6.probe("v", "run", "--plan", "main6", "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), json.loads(ref.stdout)


@pytest.fixture(scope="module")
def results6(run6: tuple[int, dict[str, Any], dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return by_target(run6[1])


def test_the_run_over_ipv6(run6: tuple[int, dict[str, Any], dict[str, Any]]) -> None:
    code, report, _ = run6
    assert code == 1
    assert report["controls_ok"] is True
    assert report["violations"] == 3  # tcp 8443, udp 161 (SNMP agent), udp 623 (IPMI)


def test_tcp_over_ipv6(results6: dict[Any, dict[str, Any]]) -> None:
    assert results6[(C, "tcp", 22)]["reasons"] == ["syn-ack ttl=63"]  # hop limit, one router
    assert results6[(C, "tcp", 23)]["reasons"] == ["rst ttl=63"]  # closed on the host
    assert results6[(B, "tcp", 443)]["reasons"] == ["no answer after 3 tries"]
    assert results6[(B, "tcp", 80)]["verdict"] == "blocked"
    assert results6[(B, "tcp", 80)]["reasons"] == ["icmpv6 1/1 from 2001:db8:1::1"]
    forged = results6[(B, "tcp", 8080)]
    assert forged["verdict"] == "blocked-by-forged-rst"
    assert forged["reasons"][0].startswith("rst ttl=64: 0 hop(s) away")
    leak = results6[(B, "tcp", 8443)]
    assert (leak["verdict"], leak["violation"]) == ("reachable", True)


def test_icmpv6_echo(results6: dict[Any, dict[str, Any]]) -> None:
    assert results6[(C, "icmp", None)]["reasons"] == ["echo-reply ttl=63"]
    assert results6[(B, "icmp", None)]["verdict"] == "blocked"


def test_udp_over_ipv6(
    results6: dict[Any, dict[str, Any]], run6: tuple[int, dict[str, Any], dict[str, Any]]
) -> None:
    assert results6[(C, "udp", 53)]["verdict"] == "reachable"
    bmc = results6[(B, "udp", 623)]
    assert bmc["violation"] is True
    assert bmc["reasons"][0].endswith(
        "RMCP presence pong: a management controller answered (IPMI supported)"
    )
    snmp = results6[(B, "udp", 161)]
    assert snmp["violation"] is True
    assert snmp["reasons"][0].endswith("agent answered sysDescr: Linux lab-bmc 5.10 armv7l")
    referenced = results6[(B, "udp", 123)]  # c's run got an answer: v's silence is the filter's
    assert referenced["verdict"] == "blocked"
    assert referenced["reference"]["run"] == run6[2]["run"]
    silent = results6[(B, "udp", 5060)]
    assert silent["verdict"] == "inconclusive"
    assert silent["reasons"][1].startswith("no reference: ")
    closed = results6[(C, "udp", 123)]  # dropped by the router on the way to c: no reference
    assert closed["verdict"] == "inconclusive"


def test_neighbour_solicitation_instead_of_arp(
    ws6: Workspace6, results6: dict[Any, dict[str, Any]]
) -> None:
    """``arp: true`` on IPv6 targets sends neighbour solicitations: b is not on v's link, until
    a second interface of b is plugged into it (an L2 leak)."""
    nd = results6[(B, "arp", None)]
    assert (nd["verdict"], nd["tries"]) == ("blocked", 3)
    assert ws6.topo is not None
    ws6.topo.plug("b", "v", "leak6", f"{B}/128")
    try:
        done = ws6.probe("v", "run", "--plan", "main6", "--json")
    finally:
        ws6.topo.unplug("b", "leak6")
    leaked = by_target(json.loads(done.stdout))[(B, "arp", None)]
    assert leaked["verdict"] == "reachable"
    assert leaked["reasons"][0].startswith("neighbour advertisement from ")
    assert done.returncode == 1


def test_neighbour_advertisement_decoded() -> None:
    """An NA as the router of this topology sends it (captured), and an NS built by us."""
    from edgeaudit.probe import wire6

    na = bytes.fromhex(
        "88000000e0000000" "20010db8000100000000000000000001" "020102ea00000001"
    )  # fmt: skip
    got = wire6.parse_icmp6(na, "2001:db8:1::1", 255)
    assert got is not None
    assert (got.type, got.target, got.mac) == (136, "2001:db8:1::1", "02:ea:00:00:00:01")
    ns = wire6.neighbor_solicit("2001:db8:2::20", "02:ea:00:00:00:07")
    assert ns[0] == 135
    assert ns[8:24] == bytes.fromhex("20010db8000200000000000000000020")
    assert ns[24:] == bytes.fromhex("010102ea00000007")
    assert wire6.solicited_node("2001:db8:2::20") == "ff02::1:ff00:20"


def test_scope_guard_on_ipv6_prefixes(ws6: Workspace6, tmp_path: Path) -> None:
    plans = tmp_path / "probes.yaml"
    plans.write_text(
        "plans:\n  - {name: stray, vantage: seg-v, targets: [seg-b], "
        'addresses: ["2001:db8:99::7"]}\n'
        '  - {name: anycast, vantage: seg-v, targets: [seg-b], addresses: ["2001:db8:2::"]}\n'
    )
    done = ws6.probe("v", "run", "--plan", "stray", plans=plans)
    assert done.returncode == 2
    assert "scope guard: 2001:db8:99::7 is outside every segment of the inventory" in done.stderr
    done = ws6.probe("v", "run", "--plan", "anycast", plans=plans)
    assert done.returncode == 2
    assert "2001:db8:2:: is the network address of segment 'seg-b'" in done.stderr


def test_five_percent_loss_changes_no_verdict_over_ipv6(
    ws6: Workspace6, results6: dict[Any, dict[str, Any]]
) -> None:
    assert ws6.topo is not None
    ws6.topo.nft(LOSS_RULES)
    try:
        done = ws6.probe("v", "run", "--plan", "main6", "--json")
    finally:
        ws6.topo.nft(RULES)
    lossy = by_target(json.loads(done.stdout))
    wrong = {
        k: (results6[k]["verdict"], v["verdict"])
        for k, v in lossy.items()
        if v["verdict"] != results6[k]["verdict"]
    }
    assert wrong == {}


def test_topology_files_use_only_the_documentation_range() -> None:
    import ipaddress
    import re

    net = ipaddress.ip_network("2001:db8::/32")
    for path in TOPO6.iterdir():
        for found in re.findall(
            r"(?<![0-9a-f:])[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?![0-9a-f:])", path.read_text()
        ):
            assert ipaddress.ip_address(found) in net, (path.name, found)
