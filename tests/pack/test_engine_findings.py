"""Packs from the real policy engine's assessment (`edgeaudit evaluate --json`), with RACI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.collect.inventory import load_inventory
from tests.pack.conftest import Site, verify
from tests.pack.helpers import QUARTER, run
from tests.pack.test_tenant_isolation import _inside, identifiers, pack_texts

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="module")
def engine_ws(site: Site, tenant_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the site's workspace, where the engine's assessment gets recorded."""
    import shutil

    ws = tmp_path_factory.mktemp("engine") / "ws"
    shutil.copytree(site.ws, ws)
    return ws


@pytest.fixture(scope="module")
def evaluated(engine_ws: Path) -> Path:
    """``evaluate --json`` of a recorded assessment: what ``pack build --findings`` takes."""
    code, out, err = run(
        "--workspace", str(engine_ws), "evaluate", "--quarter", QUARTER,
        "--policies", str(POLICIES), "--json",
    )  # fmt: skip
    assert code in (0, 1), err
    path = engine_ws.parent / "evaluated.json"
    path.write_text(out)
    return path


def test_findings_of_an_unrecorded_assessment_are_refused(engine_ws: Path, tmp_path: Path) -> None:
    code, out, err = run(
        "--workspace", str(engine_ws), "evaluate", "--quarter", QUARTER,
        "--policies", str(POLICIES), "--json", "--no-record",
    )  # fmt: skip
    assert code in (0, 1), err
    unrecorded = tmp_path / "unrecorded.json"
    unrecorded.write_text(out)
    code, _, err = run(
        "--workspace", str(engine_ws), "pack", "build", "--quarter", QUARTER,
        "--findings", str(unrecorded), "--no-pdf", "--out", str(tmp_path / "p"),
    )  # fmt: skip
    assert code == 2
    assert "is not recorded in the log" in err
    assert not (tmp_path / "p").exists()


def test_findings_differing_from_the_recorded_results_are_refused(
    engine_ws: Path, evaluated: Path, tmp_path: Path
) -> None:
    doc = json.loads(evaluated.read_text())
    failing = next(r for r in doc["results"] if r["status"] == "fail")
    failing["status"] = "pass"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    code, _, err = run(
        "--workspace", str(engine_ws), "pack", "build", "--quarter", QUARTER,
        "--findings", str(edited), "--no-pdf", "--out", str(tmp_path / "p"),
    )  # fmt: skip
    assert code == 2
    assert f"({failing['id']}) differs from the result recorded in log entry" in err


def test_tenant_pack_from_the_engine(
    site: Site, engine_ws: Path, evaluated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ai-c"
    code, _, err = run(
        "--workspace",
        str(engine_ws),
        "pack",
        "build",
        "--quarter",
        QUARTER,
        "--tenant",
        "ai-c",
        "--findings",
        str(evaluated),
        "--inventory",
        str(site.inventory),
        "--raci",
        str(POLICIES / "raci.yaml"),
        "--out",
        str(out),
    )
    assert code == 0, err
    code, text, err = verify(site, out)
    assert code == 0, text + err
    doc = json.loads((out / "findings.json").read_text())
    assert doc["results"]
    for r in doc["results"]:
        assert r["scope"].get("tenant") in ("ai-c", None)
    inv = load_inventory(site.inventory)
    texts = pack_texts(out)
    assert "PCI DSS 12.8.5 / 12.9.2" in " ".join(texts["report.pdf"].split())
    for other in ("fintech-a", "media-b"):
        secret = identifiers(inv, other)
        nets = [s.cidr for s in inv.segments if s.owner == other]
        for name, t in texts.items():
            assert not [s for s in secret if s in t], (name, other)
            assert not _inside(t, nets), (name, other)


def test_site_pack_from_the_engine(
    site: Site, engine_ws: Path, evaluated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site.zip"
    code, _, err = run(
        "--workspace",
        str(engine_ws),
        "pack",
        "build",
        "--quarter",
        QUARTER,
        "--findings",
        str(evaluated),
        "--framework",
        "pci-dss-4.0.1",
        "--out",
        str(out),
        "--no-pdf",
    )
    assert code == 0, err
    code, text, err = verify(site, out, "--json")
    assert code == 0, text + err
    report = json.loads(text)
    full = json.loads(evaluated.read_text())
    pci = [r for r in full["results"] if any(c.startswith("pci-dss") for c in r["controls"])]
    assert report["findings"] == len(pci) > 0


def test_pack_build_evaluates_once_then_reuses_the_recorded_assessment(
    site: Site, tmp_path: Path
) -> None:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(site.ws, ws)
    args = ["--workspace", str(ws), "pack", "build", "--quarter", QUARTER, "--no-pdf"]
    args += ["--policies", str(POLICIES), "--inventory", str(site.inventory)]

    def build(name: str, *extra: str) -> dict:
        code, _, err = run(*args, "--out", str(tmp_path / name), "--json", *extra)
        assert code == 0, err
        return json.loads((tmp_path / name / "findings.json").read_text())

    status = lambda: json.loads(run("--workspace", str(ws), "status", "--json")[1])  # noqa: E731
    before = status()["entries"]
    first = build("site")  # no recorded assessment yet: evaluated and recorded
    grown = status()["entries"]
    assert grown - before == len(first["results"]) > 0
    second = build("tenant", "--tenant", "fintech-a")  # same snapshot: reused, nothing appended
    assert status()["entries"] == grown
    assert second["assessment"]["id"] == first["assessment"]["id"]
    code, _, err = verify(site, tmp_path / "site")
    assert code == 0, err
    # the real engine's assessment, as OSCAL, is valid against NIST's official schema
    import jsonschema_rs

    schema = Path(__file__).parent / "data" / "oscal_assessment-results_schema.json"
    official = jsonschema_rs.validator_for(json.loads(schema.read_text()))
    for name in ("site", "tenant"):
        oscal = json.loads((tmp_path / name / "oscal-assessment-results.json").read_text())
        assert [e.message for e in official.iter_errors(oscal)] == []
    # new evidence: the recorded assessment is no longer current, so a fresh one is made
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text('{"time": "2026-08-01T10:00:00Z", "kind": "note.test", "text": "new"}\n')
    assert run("--workspace", str(ws), "append", str(fresh))[0] == 0
    third = build("again")
    assert third["assessment"]["id"] != first["assessment"]["id"]
