"""OSCAL assessment results: valid against the OSCAL rules, stable, mapped as the pack format
doc (docs/pack-format.md) says.

The schema in ``data/oscal-ar-subset.schema.json`` is the project's own: the members edgeaudit
emits, closed, with OSCAL's required members, non-empty arrays and datatype patterns (tokens
with Unicode classes, which is why jsonschema-rs is used).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from edgeaudit.pack.oscal import assessment_results, control_token
from edgeaudit.pack.period import Period
from tests.pack.conftest import Site

SCHEMA = Path(__file__).parent / "data" / "oscal-ar-subset.schema.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))


def _errors(validator: Any, doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("fixture", ["site_pack", "tenant_pack"])
def test_pack_oscal_is_valid(validator: Any, fixture: str, request: pytest.FixtureRequest) -> None:
    pack: Path = request.getfixturevalue(fixture)
    doc = json.loads((pack / "oscal-assessment-results.json").read_text())
    assert _errors(validator, doc) == []
    result = doc["assessment-results"]["results"][0]
    findings = json.loads((pack / "findings.json").read_text())
    ids = {p["value"] for f in result["findings"] for p in f["props"] if p["name"] == "result-id"}
    assert ids == {r["id"] for r in findings["results"]}


def test_mapping(site: Site, validator: Any) -> None:
    doc = assessment_results(site.doc, site="blr-pod-1", period=Period.quarter("2026Q3"))
    result = doc["assessment-results"]["results"][0]
    by_result: dict[str, list[dict[str, Any]]] = {}
    for f in result["findings"]:
        rid = next(p["value"] for p in f["props"] if p["name"] == "result-id")
        by_result.setdefault(rid, []).append(f)
    for r in site.doc["results"]:
        targets = {f["target"]["target-id"] for f in by_result[r["id"]]}
        assert targets == {control_token(c) for c in r["controls"]}
        states = {f["target"]["status"]["state"] for f in by_result[r["id"]]}
        assert states == {"satisfied" if r["status"] == "pass" else "not-satisfied"}
    waived = [r for r in site.doc["results"] if r["status"] == "waived"]
    assert len(result["risks"]) == len(waived) == 1
    risk = result["risks"][0]
    assert risk["status"] == "deviation-approved"
    assert risk["deadline"] == waived[0]["waiver"]["expires"]
    assert all(
        f.get("related-risks") == [{"risk-uuid": risk["uuid"]}] for f in by_result[waived[0]["id"]]
    )
    # the same assessment gives the same document
    assert doc == assessment_results(site.doc, site="blr-pod-1", period=Period.quarter("2026Q3"))


def test_control_tokens() -> None:
    assert control_token("iso27001-2022:a.8.2") == "iso27001-2022-a.8.2"
    assert control_token("pci-dss-4.0.1:11.4.5") == "pci-dss-4.0.1-11.4.5"
    assert control_token("soc2:cc6.3") == "soc2-cc6.3"
    assert control_token("800-53:ac-2") == "c-800-53-ac-2"


def test_the_schema_rejects_what_oscal_rejects(site: Site, validator: Any) -> None:
    good = assessment_results(site.doc, site="blr-pod-1", period=Period.quarter("2026Q3"))
    assert _errors(validator, good) == []

    def broken(change) -> list[str]:  # type: ignore[no-untyped-def]
        doc = copy.deepcopy(good)
        change(doc["assessment-results"])
        return _errors(validator, doc)

    def bad_control(ar: dict[str, Any]) -> None:
        ar["results"][0]["findings"][0]["target"]["target-id"] = "pci:11.4.5"

    def uuid_v1(ar: dict[str, Any]) -> None:
        ar["uuid"] = "6b0d3f7e-64a4-1c1f-9a53-3d2f3e0e4f11"

    def no_zone(ar: dict[str, Any]) -> None:
        ar["results"][0]["start"] = "2026-07-01T00:00:00"

    def unknown_member(ar: dict[str, Any]) -> None:
        ar["results"][0]["findings"][0]["edgeaudit-status"] = "fail"

    def empty_array(ar: dict[str, Any]) -> None:
        ar["results"][0]["observations"] = []

    def no_methods(ar: dict[str, Any]) -> None:
        del ar["results"][0]["observations"][0]["methods"]

    for change in (bad_control, uuid_v1, no_zone, unknown_member, empty_array, no_methods):
        assert broken(change), change.__name__


OFFICIAL = Path(__file__).parent / "data" / "oscal_assessment-results_schema.json"


@pytest.fixture(scope="module")
def official() -> Any:
    schema = json.loads(OFFICIAL.read_text())
    assert schema["$id"] == "http://csrc.nist.gov/ns/oscal/1.2.3/oscal-ar-schema.json"
    return jsonschema_rs.validator_for(schema)


@pytest.mark.parametrize("fixture", ["site_pack", "tenant_pack"])
def test_pack_oscal_is_valid_against_nists_official_schema(
    official: Any, fixture: str, request: pytest.FixtureRequest
) -> None:
    pack: Path = request.getfixturevalue(fixture)
    doc = json.loads((pack / "oscal-assessment-results.json").read_text())
    assert _errors(official, doc) == []


def test_the_official_schema_rejects_what_oscal_forbids(official: Any, site_pack: Path) -> None:
    doc = json.loads((site_pack / "oscal-assessment-results.json").read_text())
    bad_token = copy.deepcopy(doc)
    finding = bad_token["assessment-results"]["results"][0]["findings"][0]
    finding["target"]["target-id"] = "pci:11.4.5"
    assert _errors(official, bad_token)
    unknown = copy.deepcopy(doc)
    unknown["assessment-results"]["edgeaudit"] = True
    assert _errors(official, unknown)
    zoneless = copy.deepcopy(doc)
    zoneless["assessment-results"]["metadata"]["last-modified"] = "2026-10-01T00:00:00"
    assert _errors(official, zoneless)
