"""Packs of the dual-stack model (``tests/policy/test_dual_stack_model.py``): the report's
segment table shows every prefix of a segment (IPv4 and IPv6), and a tenant pack names no
address or prefix of the other tenant, IPv6 included.

A workspace records two probe runs made by the probe code (``probe_records``): one from
skarv-games' segment that reaches tern-energy's SCADA host over IPv6 only, one from
tern-energy's segment towards skarv-games. Packs are built with the policy engine's fresh
assessment of the model, the PDF read back with pypdf.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.workspace import config as cfg
from tests.pack.helpers import run
from tests.pack.test_tenant_isolation import identifiers, pack_texts
from tests.policy.test_dual_stack_model import SCADA6, SKARV, filtered, probe_records, write_world

TERN_OUT = """
  - name: tern-out
    vantage: seg-tern
    targets: [seg-skarv, seg-ops]
    timeout: 0.5
"""
_ADDRESS = re.compile(r"(?:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]+|\d{1,3}(?:\.\d{1,3}){3})(?:/\d{1,3})?")
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(workspace, policies) with both runs recorded."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("dualstack")
        ws, policies = root / "ws", write_world(root / "policies")
        with (policies / "probes.yaml").open("a", encoding="utf-8") as f:
            f.write(TERN_OUT)
        assert run("--workspace", str(ws), "init", "--site", "osl-edge-2")[0] == 0
        leak: set[tuple[str, str, int | None]] = {(SCADA6, "tcp", 502)}
        records = probe_records(policies, filtered(leak), "run-s", "2026-11-02T02:00:00Z")
        records += probe_records(
            policies, filtered(set()), "run-t", "2026-11-02T02:10:00Z", plan="tern-out"
        )
        events = root / "probes.jsonl"
        events.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        code, _, err = run("--workspace", str(ws), "append", str(events))
        assert code == 0, err
        return ws, policies


def build(world: tuple[Path, Path], name: str, *extra: str) -> Path:
    ws, policies = world
    out = ws.parent / name
    code, _, err = run(
        "--workspace",
        str(ws),
        "pack",
        "build",
        "--quarter",
        "2026Q4",
        "--policies",
        str(policies),
        "--inventory",
        str(policies / "inventory.yaml"),
        "--out",
        str(out),
        *extra,
    )
    assert code == 0, err
    return out


def addresses_in(
    text: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> set[str]:
    """Every IPv4 or IPv6 address (or prefix) in ``text`` that lies in one of ``networks``."""
    hits = set()
    for m in _ADDRESS.findall(text):
        try:
            net = ipaddress.ip_network(m.strip(":."), strict=False)
        except ValueError:
            continue
        if any(net.version == n.version and net.subnet_of(n) for n in networks):  # type: ignore[arg-type]
            hits.add(m)
    return hits


@pytest.fixture(scope="module")
def site_texts(world: tuple[Path, Path]) -> dict[str, str]:
    return pack_texts(build(world, "site"))


def test_site_report_shows_every_prefix_of_every_segment(site_texts: dict[str, str]) -> None:
    text = " ".join(site_texts["report.pdf"].split())
    for seg, owner, v4, v6 in (
        ("seg-ops", "shared", "198.18.60.0/24", "2001:db8:60::/64"),
        ("seg-tern", "tern-energy", "198.18.40.0/24", "2001:db8:40::/64"),
        ("seg-skarv", "skarv-games", SKARV["v4"], SKARV["v6"]),
    ):
        assert f"{seg} {owner} {v4}, {v6}" in text, seg


def test_tenant_pack_redacts_the_other_tenants_ipv6(world: tuple[Path, Path]) -> None:
    inv = load_inventory(world[1] / "inventory.yaml")
    texts = pack_texts(build(world, "tern-energy", "--tenant", "tern-energy"))
    secret = identifiers(inv, "skarv-games") | {SKARV["v4"], SKARV["v6"]}
    skarv = [n for s in inv.segments if s.owner == "skarv-games" for n in s.prefixes]
    for name, text in texts.items():
        found = sorted(s for s in secret if s in text)
        assert not found, f"{name} of tern-energy's pack names skarv-games: {found}"
        assert not addresses_in(text, skarv), f"{name} holds skarv-games addresses"
    # what is tern-energy's own is shown: both prefixes, and the leak over IPv6 by address
    report = " ".join(texts["report.pdf"].split())
    assert "seg-tern tern-energy 198.18.40.0/24, 2001:db8:40::/64" in report
    leak = [
        r
        for r in json.loads(texts["findings.json"])["results"]
        if r["rule"] == "osl-denied-blocked" and r["status"] == "fail"
    ]
    assert len(leak) == 1
    assert f"reachable: tcp/502 at {SCADA6}" in leak[0]["reason"]


def test_the_redaction_check_can_fail(world: tuple[Path, Path], site_texts: dict[str, str]) -> None:
    """The site pack holds skarv-games' IPv6 addresses: the scan above is not vacuous."""
    inv = load_inventory(world[1] / "inventory.yaml")
    skarv = [n for s in inv.segments if s.owner == "skarv-games" for n in s.prefixes]
    found = set().union(*(addresses_in(t, skarv) for t in site_texts.values()))
    assert {"2001:db8:50::31", SKARV["v6"]} <= found
