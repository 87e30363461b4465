"""The isolation matrix loader: the demo pod's matrix, the frozen API, line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import PairPolicy, load_isolation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(ROOT / "policies" / "inventory.yaml")


def test_demo_matrix(inventory: Inventory) -> None:
    m = load_isolation(ROOT / "policies" / "isolation.yaml", inventory)
    assert m.version == "2026.11-1"
    assert set(m.management_ports.tcp) >= {22, 443, 3389, 5900, 8443}
    assert set(m.management_ports.udp) >= {623, 161}
    assert m.allows("seg-mgmt", "seg-fintech", "tcp", 22)
    assert m.allows("seg-mgmt", "seg-ai", "icmp", None)
    assert not m.allows("seg-mgmt", "seg-ai", "tcp", 443)
    assert m.allows("seg-fintech", "seg-mgmt", "udp", 53)
    assert not m.allows("seg-fintech", "seg-mgmt", "tcp", 22)  # BMCs stay out of reach
    for a in ("seg-fintech", "seg-media", "seg-ai"):
        for b in ("seg-fintech", "seg-media", "seg-ai"):
            if a != b:
                assert not m.allows(a, b, "tcp", None), (a, b)
                assert not m.allows(a, b, "icmp", None)
    assert m.allows("seg-ai", "seg-ai", "arp", None)  # within a segment
    assert not m.allows("seg-mgmt", "seg-ai", "arp", None)
    rule = m.rules[0]
    assert (rule.src, rule.dst, rule.tcp, rule.icmp) == (
        "seg-mgmt",
        "seg-fintech",
        (22, 9100),
        True,
    )
    assert rule.line > 1


def test_pairs(inventory: Inventory) -> None:
    m = load_isolation(ROOT / "policies" / "isolation.yaml", inventory)
    ids = [s.id for s in inventory.segments]
    pairs = m.pairs(ids)
    assert len(pairs) == len(ids) * (len(ids) - 1)
    assert all(p.src != p.dst for p in pairs)
    assert PairPolicy("seg-fintech", "seg-media", False) in pairs
    assert PairPolicy("seg-mgmt", "seg-media", True) in pairs
    assert PairPolicy("seg-media", "seg-mgmt", True) in pairs


def test_unknown_segment_or_protocol_in_queries(inventory: Inventory) -> None:
    m = load_isolation(ROOT / "policies" / "isolation.yaml", inventory)
    with pytest.raises(InputError, match="unknown segment 'seg-x'"):
        m.allows("seg-x", "seg-ai", "tcp", 22)
    with pytest.raises(InputError, match="protocol 'sctp'"):
        m.allows("seg-mgmt", "seg-ai", "sctp", 22)
    with pytest.raises(InputError, match="unknown segment"):
        m.pairs(["seg-mgmt", "nope"])


def _matrix(tmp_path: Path, inventory: Inventory, rules: str, head: str = "") -> None:
    path = tmp_path / "isolation.yaml"
    path.write_text(head or 'version: "1"\ndefault: deny\n' + "allow:\n" + rules)
    load_isolation(path, inventory)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("  - {from: seg-x, to: seg-ai, tcp: [22], reason: r}\n", ":4: unknown segment 'seg-x'"),
        ("  - {from: seg-mgmt, to: seg-ai, sctp: [22], reason: r}\n", ":4: unknown field 'sctp'"),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: [70000], reason: r}\n", "within 1-65535"),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: [ssh], reason: r}\n", "port number or a range"),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: [22, 22], reason: r}\n", "22 is listed twice"),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: ['10-5'], reason: r}\n", "low <= high"),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: ['1-60000'], reason: r}\n", "spans more than"),
        (
            "  - {from: seg-mgmt, to: seg-ai, icmp: maybe, reason: r}\n",
            "icmp must be true or false",
        ),
        ("  - {from: seg-mgmt, to: seg-ai, tcp: [22]}\n", "missing field(s): reason"),
        ("  - {from: seg-ai, to: seg-ai, tcp: [22], reason: r}\n", "to itself"),
        ("  - {from: seg-mgmt, to: seg-ai, reason: r}\n", "allows nothing"),
        (
            "  - {from: seg-mgmt, to: seg-ai, tcp: [22], reason: r}\n"
            "  - {from: seg-mgmt, to: seg-ai, udp: [161], reason: r}\n",
            ":5: duplicate rule from 'seg-mgmt' to 'seg-ai' (first at line 4)",
        ),
    ],
)
def test_bad_rules(tmp_path: Path, inventory: Inventory, rules: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        _matrix(tmp_path, inventory, rules)
    assert message in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "isolation.yaml"))


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ('version: "1"\ndefault: allow\n', "default must be 'deny'"),
        ("default: deny\n", "missing field(s): version"),
        ('version: "1"\ndefault: deny\nmanagement_ports: {tcp: [0]}\n', "within 1-65535"),
        ('version: "1"\ndefault: deny\nmanagement_ports: {sctp: [1]}\n', "unknown field 'sctp'"),
    ],
)
def test_bad_headers(tmp_path: Path, inventory: Inventory, head: str, message: str) -> None:
    with pytest.raises(InputError, match=None) as err:
        _matrix(tmp_path, inventory, "", head=head)
    assert message in str(err.value)


def test_management_ports_extend_the_defaults(tmp_path: Path, inventory: Inventory) -> None:
    path = tmp_path / "isolation.yaml"
    path.write_text('version: "1"\ndefault: deny\nmanagement_ports: {tcp: [8006], udp: [500]}\n')
    m = load_isolation(path, inventory)
    assert m.management_ports.tcp == (22, 443, 3389, 5900, 8006)
    assert m.management_ports.udp == (161, 500, 623)
    assert m.rules == ()
    assert not m.allows("seg-mgmt", "seg-ai", "tcp", 22)
