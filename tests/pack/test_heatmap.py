"""The isolation heat map agrees with the probe evidence it draws.

Probe results are made by the probe package's own record builder (``expected`` is ``allow`` /
``deny`` there), so the chart is held against what a real run stores, not against a chart-made
vocabulary. One leak among blocked paths must give exactly one red cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.pack import charts
from edgeaudit.pack.evidence import Stats, _observe
from edgeaudit.pack.scope import TenantView
from edgeaudit.probe.model import Probe
from edgeaudit.probe.records import RunInfo, run_events
from edgeaudit.probe.verdict import Result

INVENTORY = Path(__file__).resolve().parents[2] / "policies" / "inventory.yaml"
RED = charts.COLORS["open"]


def _records(vantage: str, paths: list[tuple[str, str, str, str, int]]) -> list[dict[str, object]]:
    """probe.run + probe.result records of one run: (segment, address, expected, verdict, port)."""
    inv = load_inventory(INVENTORY)
    info = RunInfo(
        run=f"run-{vantage}",
        plan=f"{vantage}-plan",
        vantage=vantage,
        matrix_version="m1",
        engine="edgeaudit-probe/1",
        params={},
        started="2026-08-03T03:00:00Z",
        finished="2026-08-03T03:01:00Z",
        trigger="manual",
    )
    results = [
        Result(Probe(addr, "tcp", port, seg, None, None, expected), verdict, (), 1)
        for seg, addr, expected, verdict, port in paths
    ]
    return [e.to_record() for e in run_events(info, results, True, inv)]


def _cells(records: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    stats = Stats()
    for rec in records:
        _observe(stats, TenantView.site(), rec, 0)
    return stats.probes


def test_one_leak_among_blocked_paths_is_exactly_one_red_cell() -> None:
    records = _records(
        "seg-fintech",
        [
            ("seg-media", "10.20.0.21", "deny", "blocked", 22),
            ("seg-media", "10.20.0.21", "deny", "reachable", 5432),  # the leak
            ("seg-ai", "10.30.0.31", "deny", "blocked", 22),
            ("seg-ai", "10.30.0.31", "deny", "blocked-by-forged-rst", 443),
            ("seg-mgmt", "10.0.0.5", "allow", "reachable", 22),
            ("seg-mgmt", "10.0.0.5", "deny", "blocked", 3306),
        ],
    ) + _records(
        "seg-media",
        [
            ("seg-fintech", "10.10.0.12", "deny", "blocked", 5432),
            ("seg-mgmt", "10.0.0.5", "allow", "reachable", 22),
        ],
    )
    cells = _cells(records)
    assert cells == {
        ("seg-fintech", "seg-media"): "open",
        ("seg-fintech", "seg-ai"): "blocked",
        ("seg-fintech", "seg-mgmt"): "pass",
        ("seg-media", "seg-fintech"): "blocked",
        ("seg-media", "seg-mgmt"): "pass",
    }
    rows = sorted({s for s, _ in cells})
    cols = sorted({d for _, d in cells})
    svg = charts.heatmap(rows, cols, cells, "isolation")
    red = re.findall(rf'fill="{RED}"><title>([^<]*)</title>', svg)
    assert red == ["seg-fintech to seg-media: open"]


@pytest.mark.parametrize(
    ("expected", "verdict", "state"),
    [
        ("deny", "blocked", "blocked"),
        ("deny", "blocked-by-forged-rst", "blocked"),
        ("deny", "reachable", "open"),
        ("deny", "inconclusive", "error"),
        ("allow", "reachable", "pass"),
        ("allow", "blocked", "unreachable"),
        ("allow", "inconclusive", "error"),
        ("block", "blocked", "blocked"),  # an older record's spelling
    ],
)
def test_cell_rule(expected: str, verdict: str, state: str) -> None:
    assert charts.heat_state(verdict, expected) == state


def test_the_worst_path_decides_a_cell_whatever_the_order() -> None:
    states = ["blocked", "open", "error", "unreachable"]
    for first in states:
        cell = None
        for s in [first, *states]:
            cell = charts.heat_merge(cell, s)
        assert cell == "open"
