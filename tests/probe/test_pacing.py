"""UDP probes paced per address (``udp_pace``/``udp_burst``) against a host that rate-limits its
ICMP errors as Linux does by default (one per second to a destination after a burst of six).

Sent back to back, eight datagrams to closed UDP ports of one host draw six port-unreachable
answers; the other ports look silent and are reported inconclusive (honest, but no verdict).
Paced under the host's budget, every closed port answers: reachable (port closed on the host).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.probe.pacing import Pace
from tests.probe.conftest import Workspace, init_workspace
from tests.probe.netns import Topology, require_netns

CLOSED = [40001, 40002, 40003, 40004, 40005, 40006]  # + 161 and 623 (management): 8 datagrams
INVENTORY = """site: {name: pace-lab}
tenants:
  - {id: tenant-a, name: Tenant A}
segments:
  - {id: seg-v, owner: tenant-a, cidr: 198.18.71.0/24}
  - {id: seg-t, owner: shared, cidr: 198.18.72.0/24}
assets:
  - {hostname: v, kind: host, owner: tenant-a, segment: seg-v, address: 198.18.71.10}
  - {hostname: t, kind: host, owner: shared, segment: seg-t, address: 198.18.72.20}
"""
ISOLATION = f"""version: "pace-1"
default: deny
allow:
  - {{from: seg-v, to: seg-t, tcp: [22], udp: [{", ".join(map(str, CLOSED))}, 161, 623],
     icmp: true, reason: lab}}
"""
PLAN = """  - name: {name}
    vantage: seg-v
    targets: [seg-t]
    timeout: 0.3
    udp_payloads: {{161: [], 623: []}}   # one datagram per port and try
{extra}"""


def test_pace_buckets() -> None:
    pace = Pace(1.0, 6)
    assert all(pace.take("a", 1, 0.0) for _ in range(6))
    assert not pace.take("a", 1, 0.0)
    assert pace.wait("a", 1, 0.0) == pytest.approx(1.0)
    assert pace.take("b", 1, 0.0)  # another address has its own budget
    assert pace.wait("a", 1, 0.5) == pytest.approx(0.5)
    assert pace.take("a", 1, 1.0)
    assert not pace.take("a", 1, 1.5)
    assert pace.take("a", 3, 10.0)  # refilled up to the burst, never beyond
    assert pace.take("a", 3, 10.0)
    assert not pace.take("a", 1, 10.0)
    assert pace.wait("a", 9, 10.0) == pytest.approx(6.0)  # more than a burst: a full bucket


@pytest.fixture(scope="module")
def limited() -> Iterator[Topology]:
    require_netns()
    t = Topology()
    try:
        t.create_router()
        t.segment("v", "198.18.71.1/24")
        t.segment("t", "198.18.72.1/24")
        t.host("v", "v", "198.18.71.10/24")
        t.host("w", "v", "198.18.71.11/24")  # a second vantage: the host's budget is per address
        t.host("t", "t", "198.18.72.20/24")
        t.nft("flush ruleset\n")
        t.listen("t", tcp=[22], udp=[])
        # the target limits its ICMP errors per destination as Linux does by default
        t.exec("t", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000")
        yield t
    finally:
        t.destroy()


class PaceWorkspace(Workspace):
    def __init__(self, root: Path, topo: Topology, files: Path) -> None:
        super().__init__(root, topo)
        self.files = files

    def policy_args(self, plans: Path | None = None) -> list[str]:
        return [
            "--inventory",
            str(self.files / "inventory.yaml"),
            "--isolation",
            str(self.files / "isolation.yaml"),
            "--plans",
            str(self.files / "probes.yaml"),
        ]


def _run(
    ws: PaceWorkspace, host: str, plan: str
) -> tuple[dict[tuple[str, int], dict[str, Any]], float]:
    start = time.monotonic()
    done = ws.probe(host, "run", "--plan", plan, "--json", timeout=60)
    took = time.monotonic() - start
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    assert report["controls_ok"] is True
    udp = {(r["address"], r["port"]): r for r in report["results"] if r["protocol"] == "udp"}
    assert len(udp) == len(CLOSED) + 2
    return udp, took


def test_pacing_lets_every_closed_port_answer_a_rate_limited_host(
    limited: Topology, tmp_path: Path
) -> None:
    files = tmp_path / "policies"
    files.mkdir()
    (files / "inventory.yaml").write_text(INVENTORY)
    (files / "isolation.yaml").write_text(ISOLATION)
    (files / "probes.yaml").write_text(
        "plans:\n"
        + PLAN.format(name="burst", extra="")
        + PLAN.format(name="paced", extra="    udp_pace: 1.1\n    udp_burst: 6\n")
    )
    root = tmp_path / "ws"
    init_workspace(root)
    ws = PaceWorkspace(root, limited, files)

    burst, _ = _run(ws, "v", "burst")
    silent = [r for r in burst.values() if r["verdict"] == "inconclusive"]
    assert len(silent) >= 1, burst  # the host's ICMP budget ran out: those ports look silent
    assert all("open|filtered" in r["reasons"][0] for r in silent)

    paced, took = _run(ws, "w", "paced")  # from another address: a full budget
    assert all(r["verdict"] == "reachable" for r in paced.values()), paced
    assert all("port closed on the host" in r["reasons"][0] for r in paced.values())
    assert took >= 2 * 1.1  # two datagrams beyond the burst of six, 1.1 s apart
