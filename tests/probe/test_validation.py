"""Inventory and plan validation at load time: asset addresses inside their segment and host
addresses there, network and broadcast addresses refused as targets, a plan without a positive
control warned about, and a bad plan skipped for the others but an error when run by name."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import pytest

from edgeaudit.cli.main import main
from edgeaudit.collect.inventory import load_inventory
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import load_isolation
from edgeaudit.probe.plan import ScopeError, load_plan_set
from edgeaudit.probe.run import load_policies
from edgeaudit.probe.scope import not_a_host
from tests.probe.conftest import TOPO, Workspace

INVENTORY = (TOPO / "inventory.yaml").read_text()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_network_and_broadcast_addresses_are_not_hosts() -> None:
    import ipaddress

    net4 = ipaddress.ip_network("198.18.1.0/24")
    assert not_a_host("198.18.1.0", net4) == "network"
    assert not_a_host("198.18.1.255", net4) == "broadcast"
    assert not_a_host("198.18.1.1", net4) is None
    assert not_a_host("198.18.1.0", ipaddress.ip_network("198.18.1.0/31")) is None  # RFC 3021
    net6 = ipaddress.ip_network("2001:db8:1::/64")
    assert not_a_host("2001:db8:1::", net6) == "network"  # subnet-router anycast
    assert not_a_host("2001:db8:1::ffff:ffff:ffff:ffff", net6) is None  # no broadcast in IPv6


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("198.18.2.0", "198.18.2.0 is the network address of segment 'seg-b' (198.18.2.0/24)"),
        ("198.18.2.255", "198.18.2.255 is the broadcast address of segment 'seg-b'"),
    ],
)
def test_plan_targets_that_are_not_hosts_are_refused(
    tmp_path: Path, address: str, message: str
) -> None:
    inv = load_inventory(TOPO / "inventory.yaml")
    matrix = load_isolation(TOPO / "isolation.yaml", inv)
    plans = _write(
        tmp_path, "p.yaml", f"plans:\n  - {{name: x, vantage: seg-v, addresses: [{address}]}}\n"
    )
    loaded = load_plan_set(plans, inv, matrix)
    assert isinstance(loaded.errors["x"], ScopeError)
    assert message in str(loaded.errors["x"])


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("198.18.1.10", "asset 'b-app': address 198.18.1.10 lies outside its segment 'seg-b'"),
        ("198.18.2.255", "asset 'b-app': address 198.18.2.255 is the broadcast address of its"),
        (
            "2001:db8::20",
            "asset 'b-app': address 2001:db8::20 lies outside its segment 'seg-b' (198.18.2.0/24)",
        ),
    ],
)
def test_asset_addresses_are_checked_when_the_inventory_loads(
    tmp_path: Path, address: str, message: str
) -> None:
    inv = _write(tmp_path, "inventory.yaml", INVENTORY.replace("[198.18.2.20]", f"[{address}]"))
    with pytest.raises(InputError) as err:
        load_inventory(inv)
    assert f"{inv}:12: {message}" in str(err.value)  # the line of the asset


def test_a_plan_without_a_positive_control_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plans = _write(
        tmp_path,
        "p.yaml",
        "plans:\n  - {name: main, vantage: seg-v}\n"
        "  - {name: lonely, vantage: seg-b, targets: [seg-v]}\n",
    )
    with caplog.at_level(logging.WARNING, logger="edgeaudit.probe"):
        policies = load_policies(TOPO / "inventory.yaml", TOPO / "isolation.yaml", plans)
    assert set(policies.plans) == {"main", "lonely"}  # still loads: a warning, not an error
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"{plans}:3: plan 'lonely': the matrix allows no TCP or ICMP path")
    assert "no positive control" in warning


BAD_AND_GOOD = """plans:
  - {name: good, vantage: seg-v, cron: "0 3 * * 1"}
  - {name: bad, vantage: seg-v, cron: "0 4 * * 1", tries: 99}
  - {name: stray, vantage: seg-v, cron: "0 5 * * 1", addresses: [198.19.7.7]}
  - {vantage: seg-q}
"""


def test_a_bad_plan_does_not_stop_the_others(tmp_path: Path) -> None:
    inv = load_inventory(TOPO / "inventory.yaml")
    matrix = load_isolation(TOPO / "isolation.yaml", inv)
    loaded = load_plan_set(_write(tmp_path, "p.yaml", BAD_AND_GOOD), inv, matrix)
    assert set(loaded.plans) == {"good"}
    assert set(loaded.errors) == {"bad", "stray", "#4"}
    assert "tries must be at most 10" in str(loaded.errors["bad"])
    assert "scope guard: 198.19.7.7" in str(loaded.errors["stray"])


def _cli(ws: Workspace, plans: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["--workspace", str(ws.root), "probe", *argv, *ws.policy_args(plans)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_schedule_skips_a_bad_plan_but_run_refuses_it(
    workspace_nonet: Workspace, tmp_path: Path
) -> None:
    plans = _write(tmp_path, "p.yaml", BAD_AND_GOOD)
    units = tmp_path / "units"
    code, out, err = _cli(workspace_nonet, plans, "schedule", "--systemd", str(units))
    assert code == 0, err
    assert sorted(p.name for p in units.iterdir()) == [
        "edgeaudit-probe-good.service",
        "edgeaudit-probe-good.timer",
    ]
    assert "plan bad skipped: " in err
    assert "tries must be at most 10" in err
    code, _, err = _cli(workspace_nonet, plans, "run", "--plan", "bad")
    assert code == 2
    assert f"{plans}:3: tries must be at most 10" in err
    code, out, err = _cli(workspace_nonet, plans, "run", "--plan", "bad", "--json")
    assert code == 2
    assert '"exit_code": 2' in out  # --json: the error as JSON on stdout as well
    assert "tries must be at most 10" in out
    assert "tries must be at most 10" in err
