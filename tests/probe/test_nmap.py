"""nmap XML import. lab-tcp.xml and lab-udp.xml are real nmap 7.93 scans of the namespace
topology (tests/probe/data/topo) from seg-v; the other fixtures are one failure mode each."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from edgeaudit.collect.interface import ParseContext, RawRecord
from edgeaudit.collect.inventory import load_inventory
from edgeaudit.collect.model import Event, Quarantined
from edgeaudit.collect.parsers.nmap import NmapXmlParser, expand_ports
from edgeaudit.collect.registry import parser_class
from tests.probe.conftest import TOPO, Workspace

DATA = Path(__file__).parent / "data" / "nmap"
B, C = "198.18.2.20", "198.18.3.30"


def parse(name: str, **options: str) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    ctx = ParseContext(
        source=name,
        inventory=load_inventory(TOPO / "inventory.yaml"),
        options={"vantage": "seg-v", "isolation": str(TOPO / "isolation.yaml"), **options},
    )
    data = (DATA / name).read_bytes()
    out = list(NmapXmlParser().parse([RawRecord(data, name, len(data))], ctx))
    events = [o.to_record() for o in out if isinstance(o, Event)]
    return events, [o for o in out if isinstance(o, Quarantined)]


def results(events: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {
        (e["attrs"]["address"], e["attrs"]["protocol"], e["attrs"]["port"]): e["attrs"]
        for e in events
        if e["kind"] == "probe.result"
    }


def test_registered() -> None:
    assert parser_class("nmap") is NmapXmlParser


def test_expand_ports() -> None:
    assert expand_ports("22-23,80,1000-1002") == [22, 23, 80, 1000, 1001, 1002]


def test_tcp_scan_maps_to_the_engines_verdicts() -> None:
    events, quarantined = parse("lab-tcp.xml")
    assert quarantined == []
    run = events[0]
    assert run["kind"] == "probe.run"
    assert run["source"] == "nmap"
    a = run["attrs"]
    assert a["engine"] == "nmap/7.93"
    assert (a["vantage"], a["matrix_version"], a["violations"]) == ("seg-v", "lab-1", 1)
    assert a["started"] == run["time"] == "2026-11-22T05:01:00Z"
    assert a["params"]["tries"] == 3  # --max-retries 2
    got = results(events)
    assert len(got) == 2 * 208  # every scanned port of both hosts, collapsed ones expanded
    assert got[(B, "tcp", 8443)]["verdict"] == "reachable"
    assert got[(B, "tcp", 8080)]["verdict"] == "blocked-by-forged-rst"  # nmap says "closed"
    assert got[(B, "tcp", 80)]["verdict"] == "blocked"
    assert got[(B, "tcp", 80)]["reasons"] == ["icmp 3/13 from an unnamed router"]
    assert got[(B, "tcp", 1100)]["reasons"] == ["no answer after 3 tries"]
    assert got[(C, "tcp", 22)]["verdict"] == "reachable"
    assert got[(C, "tcp", 1150)]["verdict"] == "reachable"  # closed, from the host
    assert got[(C, "tcp", 1150)]["expected"] == "allow"
    assert got[(C, "tcp", 443)]["verdict"] == "blocked"


def test_udp_scan() -> None:
    events, _ = parse("lab-udp.xml")
    got = results(events)
    assert got[(C, "udp", 53)]["verdict"] == "reachable"
    assert got[(B, "udp", 623)]["verdict"] == "reachable"  # port-unreach from the host itself
    assert got[(B, "udp", 161)]["verdict"] == "inconclusive"


def test_old_nmap_without_port_lists_uses_scaninfo() -> None:
    events, quarantined = parse("old-nmap-no-port-list.xml")
    assert quarantined == []
    got = results(events)
    assert {p for (_, _, p), r in got.items() if r["reasons"] == ["rst ttl=unknown"]} == {
        23,
        *range(1000, 1200),
    }


@pytest.mark.parametrize(
    ("name", "options", "reason"),
    [
        ("truncated.xml", {}, "not valid XML"),
        ("xml-bomb.xml", {}, "not valid XML"),
        ("not-nmap.xml", {}, "not an nmap XML report"),
        ("bad-portid.xml", {}, "malformed nmap XML"),
        ("lab-tcp.xml", {"vantage": ""}, "--vantage SEGMENT"),
        ("lab-tcp.xml", {"vantage": "seg-q"}, "not a segment of the inventory"),
        ("lab-tcp.xml", {"isolation": "/nonexistent/isolation.yaml"}, "needs the isolation matrix"),
    ],
)
def test_quarantined(name: str, options: dict[str, str], reason: str) -> None:
    events, quarantined = parse(name, **options)
    assert events == []
    assert len(quarantined) == 1
    assert reason in quarantined[0].reason


def test_collect_nmap_end_to_end(workspace_nonet: Workspace) -> None:
    argv = [
        "--workspace", str(workspace_nonet.root), "collect", "nmap",
        str(DATA / "lab-tcp.xml"), str(DATA / "lab-udp.xml"), "--vantage", "seg-v",
        "--inventory", str(TOPO / "inventory.yaml"),
        "--option", f"isolation={TOPO / 'isolation.yaml'}", "--json",
    ]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    first = json.loads(out.getvalue())
    assert first["appended"] == 1 + 416 + 1 + 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    assert json.loads(out.getvalue())["appended"] == 0  # importing again adds nothing
    runs = workspace_nonet.records("probe.run")
    assert [r["attrs"]["engine"] for r in runs] == ["nmap/7.93", "nmap/7.93"]


def test_mutated_files_never_raise() -> None:
    """Truncated, flipped and spliced scans are quarantined or imported, never a crash."""
    import random

    from tests.collect.parsers.harness import mutate

    ctx = ParseContext(
        source="f",
        inventory=load_inventory(TOPO / "inventory.yaml"),
        options={"vantage": "seg-v", "isolation": str(TOPO / "isolation.yaml")},
    )
    data = (DATA / "lab-tcp.xml").read_bytes()
    rnd = random.Random(5)
    junk = [b"<", b"\x00", b"&", b'"', b"-1", b"99999", b"</ports>", b"UTF9-"]
    for _ in range(150):
        how = rnd.choice(["truncate", "flip", "insert"])
        m = mutate(data, rnd.randrange(len(data)), rnd.randrange(1, 256), how, rnd.choice(junk))
        out = list(NmapXmlParser().parse([RawRecord(m, "f", len(m))], ctx))
        assert out
