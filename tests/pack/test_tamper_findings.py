"""Findings bound to the log: every result in findings.json, the CSV and the OSCAL file is that
of a proven ``policy.result`` entry. The insider holds the manifest key and rewrites all three
renderings consistently; only the log key could make the records agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.pack.findings import to_csv
from edgeaudit.pack.oscal import assessment_results
from edgeaudit.pack.period import Period
from edgeaudit.verify import pack_format as pf
from tests.pack.conftest import Site
from tests.pack.helpers import QUARTER, copy_pack
from tests.pack.tampering import failed, lines, resign


@pytest.fixture
def pack(site_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(site_pack, tmp_path / "pack")


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


def _doc(pack: Path) -> dict[str, Any]:
    return dict(json.loads((pack / pf.FINDINGS_JSON).read_text()))


def _rewrite(site: Site, pack: Path, doc: dict[str, Any], *, insider: bool = True) -> None:
    """findings.json, the CSV and the OSCAL file rewritten alike (then re-signed)."""
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    (pack / pf.FINDINGS_CSV).write_bytes(to_csv(doc))
    oscal = assessment_results(doc, site="blr-pod-1", period=Period.quarter(QUARTER))
    (pack / pf.OSCAL).write_bytes(canonical_json(oscal))
    if insider:
        resign(site, pack)


def _redacted(pack: Path) -> set[int]:
    return {json.loads(r)["index"] for r in lines(pack / pf.EVIDENCE) if b'"redacted"' in r}


def test_every_result_is_bound_to_its_record(site: Site, site_pack: Path) -> None:
    from tests.pack.conftest import verify

    code, out, _ = verify(site, site_pack, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["bound"] == report["findings"] == len(_doc(site_pack)["results"])


@pytest.mark.parametrize("insider", [False, True])
def test_a_fail_turned_into_a_pass(site: Site, pack: Path, insider: bool) -> None:
    doc = _doc(pack)
    r = next(r for r in doc["results"] if r["status"] == "fail")
    r["status"] = "pass"
    _rewrite(site, pack, doc, insider=insider)
    out = failed(site, pack)
    if insider:
        assert (
            f"result {r['id']} (record, log entry {r['record']['index']}): status is 'pass', "
            "the log recorded 'fail'"
        ) in out
    else:
        assert "findings.json: SHA-256 is" in out


def test_a_fail_turned_into_a_pass_behind_a_redacted_record(site: Site, tpack: Path) -> None:
    """A tenant's result naming another tenant: its record is redacted, but its outcome shows."""
    doc = _doc(tpack)
    hidden = _redacted(tpack)
    r = next(r for r in doc["results"] if r["record"]["index"] in hidden and r["status"] == "fail")
    r["status"] = "pass"
    _rewrite(site, tpack, doc)
    out = failed(site, tpack)
    assert (
        f"result {r['id']} (record, log entry {r['record']['index']}): the redacted record" in out
    )
    assert "outcome 'failure', a 'pass' result is recorded as 'policy.result' with outcome" in out


@pytest.mark.parametrize(
    ("member", "change"),
    [
        ("scope", lambda r: r["scope"].update(principal="nobody")),
        ("evidence", lambda r: r["evidence"].pop()),
        ("controls", lambda r: r["controls"].append("soc2:cc9.9")),
        ("rule", lambda r: r.update(rule="some-other-rule")),
    ],
)
def test_a_result_edited_against_its_record(site: Site, pack: Path, member: str, change) -> None:  # type: ignore[no-untyped-def]
    doc = _doc(pack)
    r = next(r for r in doc["results"] if r["evidence"] and "principal" in r["scope"])
    change(r)
    _rewrite(site, pack, doc)
    assert f"result {r['id']} (record, log entry {r['record']['index']}): {member} is" in failed(
        site, pack
    )


def test_a_result_without_its_record(site: Site, pack: Path) -> None:
    doc = _doc(pack)
    r = doc["results"][0]
    del r["record"]
    _rewrite(site, pack, doc)
    assert f"results[0] ({r['id']}) names no record" in failed(site, pack)


def test_a_result_pointing_at_another_results_record(site: Site, pack: Path) -> None:
    doc = _doc(pack)
    passing = next(r for r in doc["results"] if r["status"] == "pass")
    failing = next(r for r in doc["results"] if r["status"] == "fail")
    failing["record"] = passing["record"]
    failing["status"] = "pass"
    _rewrite(site, pack, doc)
    out = failed(site, pack)
    assert f"result {failing['id']} (record, log entry {passing['record']['index']})" in out


def test_the_assessment_header_edited_against_its_records(site: Site, pack: Path) -> None:
    doc = _doc(pack)
    doc["assessment"]["tree_size"] += 1
    _rewrite(site, pack, doc)
    assert "assessment.tree_size is" in failed(site, pack)


def test_only_the_csv_turns_a_fail_into_a_pass(site: Site, pack: Path) -> None:
    doc = _doc(pack)
    r = next(r for r in doc["results"] if r["status"] == "fail")
    text = (pack / pf.FINDINGS_CSV).read_text()
    row = next(line for line in text.splitlines() if line.startswith(r["id"]))
    (pack / pf.FINDINGS_CSV).write_text(text.replace(row, row.replace(",fail,", ",pass,", 1)))
    resign(site, pack)
    assert f"row of {r['id']}: status differ from findings.json" in failed(site, pack)


def test_only_the_oscal_file_turns_a_fail_into_a_pass(site: Site, pack: Path) -> None:
    doc = _doc(pack)
    r = next(r for r in doc["results"] if r["status"] == "fail")
    oscal = json.loads((pack / pf.OSCAL).read_text())
    for f in oscal["assessment-results"]["results"][0]["findings"]:
        props = {p["name"]: p for p in f["props"]}
        if props["result-id"]["value"] == r["id"]:
            props["status"]["value"] = "pass"
            f["target"]["status"]["state"] = "satisfied"
    (pack / pf.OSCAL).write_bytes(canonical_json(oscal))
    resign(site, pack)
    out = failed(site, pack)
    assert f"{pf.OSCAL}: findings[" in out
    assert f"({r['id']} " in out
    assert "status 'pass' state 'satisfied', the result is 'fail'" in out


def test_an_oscal_finding_dropped(site: Site, pack: Path) -> None:
    oscal = json.loads((pack / pf.OSCAL).read_text())
    dropped = oscal["assessment-results"]["results"][0]["findings"].pop(0)
    (pack / pf.OSCAL).write_bytes(canonical_json(oscal))
    resign(site, pack)
    rid = next(p["value"] for p in dropped["props"] if p["name"] == "result-id")
    assert f"no finding for result {rid} and control" in failed(site, pack)
