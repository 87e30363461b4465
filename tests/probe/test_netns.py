"""The probe engine on a real topology: namespaces, veth pairs, bridges, a router namespace with
an nftables forward policy (tests/probe/data/topo). No mock of the network.

Vantage v (seg-v, 198.18.1.10) may reach c (seg-c, 198.18.3.30) on tcp 22, 23, 1000-1199, udp
53 and ICMP, and nothing of b (seg-b, 198.18.2.20). The router drops by default, rejects b:80
with ICMP admin-prohibited, forges an RST for b:8080, and wrongly lets b:8443, b's BMC (udp
623) and SNMP agent (udp 161) through. c may reach b's udp 123 and b may reach c's UDP ports:
those runs (first) are the references that make v's silently dropped UDP probes blocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.probe.conftest import BASE_RULES, TOPO, Workspace

B, C = "198.18.2.20", "198.18.3.30"
LOSS_RULES = BASE_RULES.replace(
    "ct state established,related accept",
    "numgen random mod 100 < 5 drop\n    ct state established,related accept",
)


def by_target(report: dict[str, Any]) -> dict[tuple[str, str, int | None], dict[str, Any]]:
    return {(r["address"], r["protocol"], r["port"]): r for r in report["results"]}


@pytest.fixture(scope="module")
def references(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """Runs from c and b, before v's: the services answer them (reachable, allowed)."""
    out = {}
    for host, plan in (("c", "from-c"), ("b", "from-b")):
        done = workspace.probe(host, "run", "--plan", plan, "--json")
        assert done.returncode == 0, done.stderr
        out[plan] = json.loads(done.stdout)
    return out


@pytest.fixture(scope="module")
def main_run(
    workspace: Workspace, references: dict[str, dict[str, Any]]
) -> tuple[int, dict[str, Any], str]:
    done = workspace.probe("v", "run", "--plan", "main", "--json", "--trigger", "change:CHG-42")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def results(main_run: tuple[int, dict[str, Any], str]) -> dict[Any, dict[str, Any]]:
    return by_target(main_run[1])


def test_a_reachable_denied_path_fails_the_run(main_run: tuple[int, dict[str, Any], str]) -> None:
    code, report, _ = main_run
    assert code == 1
    assert report["violations"] == 3  # tcp 8443, udp 161 (SNMP agent), udp 623 (IPMI)
    assert report["controls_ok"] is True
    assert report["trigger"] == "change:CHG-42"
    assert report["matrix_version"] == "lab-1"


def test_allowed_port_reachable(results: dict[Any, dict[str, Any]]) -> None:
    r = results[(C, "tcp", 22)]
    assert (r["verdict"], r["expected"], r["control"]) == ("reachable", "allow", True)
    assert r["reasons"] == ["syn-ack ttl=63"]


def test_closed_port_on_an_allowed_path_is_reachable(results: dict[Any, dict[str, Any]]) -> None:
    r = results[(C, "tcp", 23)]
    assert r["verdict"] == "reachable"
    assert r["reasons"] == ["rst ttl=63"]  # the host's own RST, one router away
    assert all(results[(C, "tcp", p)]["verdict"] == "reachable" for p in range(1000, 1200))


def test_dropped_ports_are_blocked_after_three_tries(results: dict[Any, dict[str, Any]]) -> None:
    for key in [(B, "tcp", 22), (B, "tcp", 443), (C, "tcp", 3389), (B, "icmp", None)]:
        r = results[key]
        assert (r["verdict"], r["tries"]) == ("blocked", 3), key
        assert r["reasons"] == ["no answer after 3 tries"]


def test_reject_with_admin_prohibited(results: dict[Any, dict[str, Any]]) -> None:
    r = results[(B, "tcp", 80)]
    assert r["verdict"] == "blocked"
    assert r["reasons"] == ["icmp 3/13 from 198.18.1.1"]  # code and reporting router


def test_forged_rst_is_recognized_by_its_ttl(results: dict[Any, dict[str, Any]]) -> None:
    r = results[(B, "tcp", 8080)]
    assert r["verdict"] == "blocked-by-forged-rst"
    assert r["reasons"][0].startswith("rst ttl=64: 0 hop(s) away")


def test_leaked_tcp_port_is_a_violation(results: dict[Any, dict[str, Any]]) -> None:
    r = results[(B, "tcp", 8443)]
    assert (r["verdict"], r["expected"], r["violation"]) == ("reachable", "deny", True)


def test_udp(results: dict[Any, dict[str, Any]]) -> None:
    c53 = results[(C, "udp", 53)]
    assert c53["verdict"] == "reachable"  # the service answered (here: an echo)
    assert c53["payloads"] == ["dns"]
    silent = results[(B, "udp", 5060)]  # dropped by the router; no vantage may reach it
    assert silent["verdict"] == "inconclusive"  # open|filtered: silence alone proves nothing
    assert silent["reasons"][0] == "no answer after 3 tries (udp open|filtered)"
    assert silent["reasons"][1].startswith("no reference: no reachable result for this udp")
    assert "reference" not in silent


def test_udp_silence_with_a_reference_is_blocked(
    results: dict[Any, dict[str, Any]], references: dict[str, dict[str, Any]]
) -> None:
    """b's udp 123 answered c's run (allowed); v's probes got nothing: the filter dropped them."""
    from_c = references["from-c"]
    assert by_target(from_c)[(B, "udp", 123)]["verdict"] == "reachable"
    r = results[(B, "udp", 123)]
    assert (r["verdict"], r["expected"]) == ("blocked", "deny")
    assert r["reasons"][0] == "no answer after 3 tries"
    assert r["reasons"][1].startswith(
        f"blocked on the way: udp/123 at {B} answered run {from_c['run']} from seg-c started "
        f"{from_c['started']} (entry "
    )
    assert r["reference"]["run"] == from_c["run"]
    # c answers b's probes with port-unreachable (closed): also a reference for v's silence
    from_b = references["from-b"]
    for port in (123, 161, 623, 5060):
        assert by_target(from_b)[(C, "udp", port)]["verdict"] == "reachable"
        assert results[(C, "udp", port)]["verdict"] == "blocked", port
        assert results[(C, "udp", port)]["reference"]["run"] == from_b["run"]


def test_a_bmc_reachable_on_ipmi_is_a_violation(results: dict[Any, dict[str, Any]]) -> None:
    """The BMC-like listener ignores empty datagrams; only an RMCP presence ping finds it."""
    r = results[(B, "udp", 623)]
    assert (r["verdict"], r["violation"], r["payloads"]) == ("reachable", True, ["rmcp-ping"])
    assert r["reasons"] == [
        "udp reply ttl=63: RMCP presence pong: a management controller answered (IPMI supported)"
    ]


def test_an_snmp_agent_reachable_is_a_violation(results: dict[Any, dict[str, Any]]) -> None:
    """The SNMP-like listener answers only a valid get of sysDescr with community public."""
    r = results[(B, "udp", 161)]
    assert (r["verdict"], r["violation"]) == ("reachable", True)
    assert r["reasons"][0].startswith("udp reply ttl=63: SNMPv")
    assert r["reasons"][0].endswith("agent answered sysDescr: Linux lab-bmc 5.10 armv7l")


def test_empty_datagrams_miss_them_and_a_wrong_community_too(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The per-plan override: an empty datagram to 623 and a wrong community on 161 go
    unanswered, so both leaks stay open|filtered (what the engine reported before payloads)."""
    plans = tmp_path / "probes.yaml"
    plans.write_text(
        "plans:\n  - {name: bare, vantage: seg-v, targets: [seg-b], icmp: false, timeout: 0.2,\n"
        "     udp_payloads: {623: [], 161: [snmp-v2c-get]}, snmp_community: not-public}\n"
    )
    done = workspace.probe("v", "run", "--plan", "bare", "--json", plans=plans)
    got = by_target(json.loads(done.stdout))
    assert got[(B, "udp", 623)]["verdict"] == "inconclusive"
    assert got[(B, "udp", 161)]["verdict"] == "inconclusive"
    assert "not-public" not in done.stdout  # the community is never recorded


def test_snmp_community_from_the_environment(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = tmp_path / "probes.yaml"
    plans.write_text(
        "plans:\n  - {name: env, vantage: seg-v, targets: [seg-b], icmp: false, timeout: 0.2,\n"
        "     snmp_community_env: EA_TEST_COMMUNITY}\n"
    )
    monkeypatch.delenv("EA_TEST_COMMUNITY", raising=False)
    done = workspace.probe("v", "run", "--plan", "env", plans=plans)
    assert done.returncode == 2
    assert "plan 'env': snmp_community_env EA_TEST_COMMUNITY is not set" in done.stderr
    monkeypatch.setenv("EA_TEST_COMMUNITY", "public")
    done = workspace.probe("v", "run", "--plan", "env", "--json", plans=plans)
    assert by_target(json.loads(done.stdout))[(B, "udp", 161)]["verdict"] == "reachable"


def test_icmp_echo(results: dict[Any, dict[str, Any]]) -> None:
    assert results[(C, "icmp", None)]["verdict"] == "reachable"


def test_records_in_the_store(workspace: Workspace, main_run: Any) -> None:
    report = main_run[1]
    runs = [r for r in workspace.records("probe.run") if r["attrs"]["run"] == report["run"]]
    assert len(runs) == 1
    run = runs[0]
    assert run["time"] == run["attrs"]["started"] == report["started"]
    assert run["attrs"]["engine"] == "edgeaudit-probe/1"
    assert run["attrs"]["trigger"] == "change:CHG-42"
    assert run["attrs"]["violations"] == 3
    assert run["scope"] == ["tenant-a", "tenant-b"]  # seg-c is shared: never in a scope
    assert run["source"] == "probe"
    results = [r for r in workspace.records("probe.result") if r["attrs"]["run"] == report["run"]]
    assert len(results) == len(report["results"])
    leak = next(r for r in results if r["attrs"]["address"] == B and r["attrs"]["port"] == 8443)
    assert leak["outcome"] == "failure"
    assert leak["target"] == {"asset": "b-app", "owner": "tenant-b"}
    assert leak["scope"] == ["tenant-a", "tenant-b"]
    to_c = next(r for r in results if r["attrs"]["address"] == C and r["attrs"]["port"] == 22)
    assert (to_c["outcome"], to_c["scope"]) == ("success", ["tenant-a"])
    udp = next(r for r in results if r["attrs"]["address"] == B and r["attrs"]["port"] == 5060)
    assert udp["outcome"] == "unknown"


def test_arp_blocked_across_segments_and_leak_found(
    workspace: Workspace, results: dict[Any, dict[str, Any]]
) -> None:
    assert results[(B, "arp", None)]["verdict"] == "blocked"
    assert workspace.topo is not None
    workspace.topo.plug("b", "v", "leak0", None)  # b also sits on seg-v's broadcast domain
    try:
        done = workspace.probe("v", "run", "--plan", "l2", "--json")
    finally:
        workspace.topo.unplug("b", "leak0")
    report = json.loads(done.stdout)
    arp = by_target(report)[(B, "arp", None)]
    assert arp["verdict"] == "reachable"
    assert arp["reasons"][0].startswith("arp reply from ")
    assert done.returncode == 1


def test_broken_positive_control_makes_blocked_inconclusive(workspace: Workspace) -> None:
    assert workspace.topo is not None
    workspace.topo.nft(
        BASE_RULES.replace(
            "ct state established,related accept",
            'iifname "brv" ip daddr 198.18.3.0/24 drop\n    ct state established,related accept',
        )
    )
    try:
        done = workspace.probe("v", "run", "--plan", "main", "--json")
    finally:
        workspace.topo.nft(BASE_RULES)
    report = json.loads(done.stdout)
    assert report["controls_ok"] is False
    got = by_target(report)
    dropped = got[(B, "tcp", 443)]
    assert dropped["verdict"] == "inconclusive"
    assert dropped["reasons"][-1] == "positive control failed"
    control = got[(C, "tcp", 22)]
    assert (control["verdict"], control["control"]) == ("blocked", True)
    assert got[(B, "tcp", 8443)]["verdict"] == "reachable"  # positive evidence stays
    # the filter's own answers stand, admin-prohibited and forged RST alike
    assert got[(B, "tcp", 80)]["verdict"] == "blocked"
    assert got[(B, "tcp", 8080)]["verdict"] == "blocked-by-forged-rst"
    assert done.returncode == 1  # a denied path reachable: 1, whatever the controls


def test_exit_3_when_a_control_fails_without_a_violation(workspace: Workspace) -> None:
    assert workspace.topo is not None
    workspace.topo.nft(
        BASE_RULES.replace(
            "ct state established,related accept",
            'iifname "brb" tcp dport 22 drop\n    ct state established,related accept',
        )
    )
    try:
        done = workspace.probe("b", "run", "--plan", "from-b")
    finally:
        workspace.topo.nft(BASE_RULES)
    assert done.returncode == 3, done.stderr
    assert "controls FAILED" in done.stdout
    assert "allowed path not reachable: 198.18.3.30 (c-svc, seg-c) tcp/22: blocked" in done.stdout


def test_udp_open_filtered_changes_the_exit_code_only_with_strict(workspace: Workspace) -> None:
    """From c, b's udp 161 and 623 are dropped and nothing may reach them: inconclusive."""
    done = workspace.probe("c", "run", "--plan", "from-c")
    assert done.returncode == 0, done.stderr
    assert "inconclusive result(s) (e.g. UDP open|filtered; --strict: exit 3)" in done.stdout
    strict = workspace.probe("c", "run", "--plan", "from-c", "--strict", "--json")
    assert strict.returncode == 3
    assert json.loads(strict.stdout)["counts"]["inconclusive"] == 2


def test_five_percent_loss_changes_no_verdict(
    workspace: Workspace, results: dict[Any, dict[str, Any]]
) -> None:
    assert workspace.topo is not None
    workspace.topo.nft(LOSS_RULES)
    try:
        done = workspace.probe("v", "run", "--plan", "main", "--json")
    finally:
        workspace.topo.nft(BASE_RULES)
    lossy = by_target(json.loads(done.stdout))
    assert lossy.keys() == results.keys()
    wrong = {
        k: (results[k]["verdict"], v["verdict"])
        for k, v in lossy.items()
        if v["verdict"] != results[k]["verdict"]
    }
    assert wrong == {}
    assert json.loads(done.stdout)["params"]["loss_seen"] is True


def test_scope_guard_refuses_an_address_outside_the_inventory(
    workspace: Workspace, tmp_path: Path
) -> None:
    plans = tmp_path / "probes.yaml"
    plans.write_text(
        "plans:\n  - {name: stray, vantage: seg-v, targets: [seg-b], addresses: [198.19.7.7]}\n"
    )
    done = workspace.probe("v", "run", "--plan", "stray", plans=plans)
    assert done.returncode == 2
    assert "scope guard: 198.19.7.7 is outside every segment of the inventory" in done.stderr
    assert "refusing to probe it" in done.stderr


def test_a_plan_runs_only_from_its_vantage_segment(workspace: Workspace) -> None:
    done = workspace.probe("b", "run", "--plan", "main")
    assert done.returncode == 2
    assert "run it from inside the vantage network" in done.stderr
    ok = workspace.probe("b", "run", "--plan", "from-b", "--json")
    assert ok.returncode == 0, ok.stderr  # b reaches c only where it may: no leak


def test_on_violation_hook_gets_the_json(workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "hook.json"
    hook = f"python3 -c \"import sys; open('{out}', 'w').write(sys.stdin.read())\""
    done = workspace.probe("v", "run", "--plan", "main", "--on-violation", hook)
    assert done.returncode == 1
    data = json.loads(out.read_text())
    assert data["violations"] == 3
    assert "VIOLATION: 198.18.2.20 (b-app, seg-b) tcp/8443: reachable" in done.stdout


def test_topology_files_use_only_the_benchmarking_range() -> None:
    import ipaddress
    import re

    net = ipaddress.ip_network("198.18.0.0/15")
    for path in TOPO.iterdir():
        for found in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", path.read_text()):
            assert ipaddress.ip_address(found) in net, (path.name, found)


def test_the_policy_engine_judges_these_records(
    workspace: Workspace, main_run: tuple[int, dict[str, Any], str], tmp_path: Path
) -> None:
    """The segmentation checks read the engine's real records (issue 5's "done when")."""
    import shutil
    from datetime import datetime, timedelta

    from edgeaudit.policy.engine import evaluate
    from edgeaudit.policy.files import load_policies
    from edgeaudit.store import Store
    from edgeaudit.workspace import config as cfg

    policies = tmp_path / "policies"
    policies.mkdir()
    repo = Path(__file__).resolve().parents[2] / "policies"
    for name in ("controls.yaml", "rules.yaml"):
        shutil.copy(repo / name, policies / name)
    for name in ("inventory.yaml", "isolation.yaml"):
        shutil.copy(TOPO / name, policies / name)
    day = datetime.fromisoformat(main_run[1]["started"].replace("Z", "+00:00"))
    fmt = "%Y-%m-%dT00:00:00Z"
    config = cfg.load(workspace.root)
    with Store.open(config.db_url) as store:
        assessment = evaluate(
            load_policies(policies),
            store.log(config.origin),
            start=(day - timedelta(days=1)).strftime(fmt),
            end=(day + timedelta(days=2)).strftime(fmt),
        )
    got = {
        (r.rule, r.scope.to_dict().get("segment")): r.status
        for r in assessment.results
        if r.rule.startswith("segmentation")
    }
    assert got[("segmentation-denied-blocked", "seg-v->seg-b")] == "fail"  # 8443, udp 161/623
    # every denied path of v -> c is blocked, its UDP silence judged by b's run (a reference)
    assert got[("segmentation-denied-blocked", "seg-v->seg-c")] == "pass"
    assert got[("segmentation-denied-blocked", "seg-c->seg-b")] == "not-evaluated"  # udp 161
    assert got[("segmentation-allowed-reachable", "seg-v->seg-c")] == "pass"
    assert got[("segmentation-cadence", "seg-v->seg-b")] == "pass"
