"""Two processes reading the two halves of a large log write exactly what one process writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.pack import evidence as ev
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.signing import sign_checkpoint
from tests.pack.conftest import Site


@pytest.mark.parametrize("tenant", [None, "fintech-a"])
def test_two_processes_write_the_same_pack(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tenant: str | None
) -> None:
    config = cfg.load(site.ws)
    view = (
        TenantView.site()
        if tenant is None
        else TenantView.for_tenant(load_inventory(site.inventory), tenant)
    )
    period = Period.quarter("2026Q3")
    monkeypatch.setattr(ev, "PARALLEL_MIN", 100)
    results = {}
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        cp = sign_checkpoint(config, log)
        size = cp.tree_size
        cited = {3: "", size // 2 - 1: "", size // 2: "", size - 1: ""}
        for workers in ("1", "2"):
            monkeypatch.setenv("EDGEAUDIT_PACK_WORKERS", workers)
            out = tmp_path / workers
            out.mkdir()
            with log.reader() as reader:
                results[workers] = ev.write_evidence(
                    reader, size, cp.root_hash, period, view, cited,
                    out / "evidence.jsonl", out / "proofs.jsonl",
                    source=(config.db_url, config.origin),
                )  # fmt: skip
    one, two = results["1"], results["2"]
    for name in ("evidence.jsonl", "proofs.jsonl"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()
    assert not list((tmp_path / "2").glob("*.part"))
    assert one.digests == two.digests
    assert (one.root, one.entries) == (two.root, two.entries)
    assert one.stats == two.stats
    assert set(two.stats.times) == set(cited)
