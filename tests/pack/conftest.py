"""One small demo campus, collected once per session; packs built from it are shared too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.demo import generate_campus
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.pack.helpers import QUARTER, assessment, record_assessment, run

EVENTS = 2000
SAMPLE = Path(__file__).resolve().parents[2] / "evidence" / "sample-events.jsonl"


@dataclass(frozen=True)
class Site:
    ws: Path
    campus: Path
    inventory: Path
    vkey: Path  # the log's verifier key, as a file
    mkey: Path  # the manifest public key (PEM)
    findings: Path
    doc: dict[str, Any]
    packs: Path

    def args(self) -> list[str]:
        return ["--workspace", str(self.ws)]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("packsite")
        campus, ws = root / "campus", root / "ws"
        generate_campus(campus, EVENTS, seed=5)
        assert run("--workspace", str(ws), "init", "--site", "blr-pod-1")[0] == 0
        code, _, err = run("--workspace", str(ws), "demo", "collect", "--out", str(campus))
        assert code == 0, err
        config = cfg.load(ws)
        with Store.open(config.db_url) as store:
            log = store.log(config.origin)
            with log.reader() as reader:
                rows = [(i, bytes(b)) for i, b, _, _ in reader.iter_entries(0)]
        doc = assessment(rows, len(rows))
        with Store.open(config.db_url) as store:  # recorded, as the engine records its own
            record_assessment(store.log(config.origin), doc)
        findings = root / "findings.json"
        findings.write_text(json.dumps(doc))
        vkey = root / "log.vkey"
        vkey.write_text(config.verifier_key + "\n")
        mkey = root / "manifest.pub"
        code, _, err = run("--workspace", str(ws), "pack", "key", "--out", str(mkey))
        assert code == 0, err
        packs = root / "packs"
        packs.mkdir()
        return Site(ws, campus, campus / "inventory.yaml", vkey, mkey, findings, doc, packs)


def _build(site: Site, name: str, *extra: str) -> Path:
    out = site.packs / name
    code, _, err = run(
        *site.args(),
        "pack",
        "build",
        "--quarter",
        QUARTER,
        "--findings",
        str(site.findings),
        "--inventory",
        str(site.inventory),
        "--out",
        str(out),
        *extra,
    )
    assert code == 0, err
    return out


@pytest.fixture(scope="session")
def site_pack(site: Site) -> Path:
    return _build(site, "site")


@pytest.fixture(scope="session")
def tenant_pack(site: Site, site_pack: Path) -> Path:
    # the log grows between the two packs: the tenant pack proves it extends the site pack's
    extra = site.packs.parent / "more.jsonl"
    extra.write_text(SAMPLE.read_text())
    code, _, err = run(*site.args(), "append", str(extra))
    assert code == 0, err
    return _build(site, "fintech-a", "--tenant", "fintech-a")


@pytest.fixture(scope="session")
def tenant_pack_zip(site: Site, site_pack: Path) -> Path:
    return _build(site, "media-b.zip", "--tenant", "media-b", "--no-pdf")


def verify(site: Site, pack: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        "verify", str(pack), "--key", str(site.vkey), "--manifest-key", str(site.mkey), *extra
    )
