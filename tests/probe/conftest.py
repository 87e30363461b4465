"""Fixtures for the probe tests: the namespace topology (built once per module, removed by
name afterwards, also on failure) and a workspace with the topology's policy files."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.probe.netns import Topology, require_netns

TOPO = Path(__file__).parent / "data" / "topo"
BASE_RULES = (TOPO / "nft-base.nft").read_text()


def build(topo: Topology) -> None:
    topo.create_router()
    topo.segment("v", "198.18.1.1/24")
    topo.segment("b", "198.18.2.1/24")
    topo.segment("c", "198.18.3.1/24")
    topo.host("v", "v", "198.18.1.10/24")
    topo.host("b", "b", "198.18.2.20/24")
    topo.host("c", "c", "198.18.3.30/24")
    topo.nft(BASE_RULES)
    # b: a BMC answering only an RMCP presence ping on 623, an SNMP agent answering only a
    # valid get on 161, and an NTP-like echo on 123 (dropped from v, allowed from c)
    topo.listen("b", tcp=[22, 8443], udp=["623:bmc", "161:snmp", "123"])
    topo.listen("c", tcp=[22], udp=[53])


@pytest.fixture(scope="module")
def topo() -> Iterator[Topology]:
    require_netns()
    t = Topology()
    try:
        build(t)
        yield t
    finally:
        t.destroy()


class Workspace:
    def __init__(self, root: Path, topo: Topology | None) -> None:
        self.root = root
        self.topo = topo

    def policy_args(self, plans: Path | None = None) -> list[str]:
        return [
            "--inventory",
            str(TOPO / "inventory.yaml"),
            "--isolation",
            str(TOPO / "isolation.yaml"),
            "--plans",
            str(plans or TOPO / "probes.yaml"),
        ]

    def probe(self, host: str, *argv: str, plans: Path | None = None, timeout: float = 60) -> Any:
        """``edgeaudit probe ...`` run inside ``host``'s namespace."""
        assert self.topo is not None
        return self.topo.exec(
            host,
            sys.executable,
            "-m",
            "edgeaudit.cli.main",
            "--workspace",
            str(self.root),
            "probe",
            *argv,
            *self.policy_args(plans),
            timeout=timeout,
        )

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        config = cfg.load(self.root)
        with Store.open(config.db_url) as store, store.log(config.origin).reader() as r:
            out = [json.loads(body) for _, body, _, _ in r.iter_entries()]
        return [o for o in out if kind is None or o["kind"] == kind]


def init_workspace(root: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--workspace", str(root), "init", "--site", "probe-lab"]) == 0


@pytest.fixture(scope="module")
def workspace(topo: Topology, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("ws")
    init_workspace(root)
    return Workspace(root, topo)


@pytest.fixture
def workspace_nonet(tmp_path: Path) -> Workspace:
    """A workspace for commands that send no packet (no namespaces needed)."""
    root = tmp_path / "ws"
    root.mkdir()
    init_workspace(root)
    return Workspace(root, None)
