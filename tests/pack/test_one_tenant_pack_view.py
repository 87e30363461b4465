"""A tenant pack's assessment speaks of the tenant's results only: ``counts`` and the control
notes are computed from the results the tenant view keeps, never taken from the site's."""

from __future__ import annotations

from collections import Counter
from typing import Any

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.inventory_types import Tenant
from edgeaudit.pack.assessment import filter_frameworks
from edgeaudit.pack.findings import counts, for_view
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.statuses import STATUSES

PCI = "pci-dss-4.0.1"


def _inventory() -> Inventory:
    tenants = (Tenant("acme", "Acme Corp"), Tenant("globex", "Globex Inc"))
    return Inventory("pod-1", None, tenants, (), (), (), (), ())


def _result(n: int, rule: str, status: str, tenant: str | None, *controls: str) -> dict[str, Any]:
    scope: dict[str, str] = {"tenant": tenant} if tenant else {"subject": rule}
    return {
        "id": f"R-{n:016x}",
        "rule": rule,
        "title": rule,
        "status": status,
        "severity": "high",
        "controls": list(controls),
        "scope": scope,
        "reason": f"{rule} {status}",
        "evidence": [],
    }


def _doc() -> dict[str, Any]:
    """A site assessment: acme passes, globex fails often; one site-wide result."""
    results = [
        _result(1, "jit", "pass", "acme", f"{PCI}:7.2.1", f"{PCI}:11.4.5"),
        _result(2, "jit", "fail", "globex", f"{PCI}:7.2.1"),
        _result(3, "keys", "fail", "globex", f"{PCI}:3.6.1"),
        _result(4, "keys", "fail", "globex", f"{PCI}:3.6.1"),
        _result(5, "probe", "fail", "globex", f"{PCI}:11.4.5"),
        _result(6, "integrity", "pass", None, f"{PCI}:10.3.4"),
        _result(7, "physical", "fail", None, f"{PCI}:9.2.1"),  # site-wide, not a site_wide rule
    ]

    def control(cid: str, status: str, note: str | None) -> dict[str, Any]:
        ids = [r["id"] for r in results if f"{PCI}:{cid}" in r["controls"]]
        c = {"framework": PCI, "control": cid, "title": cid, "status": status, "results": ids}
        return {**c, "note": note} if note else c

    site_counts = Counter(r["status"] for r in results)
    return {
        "assessment": {
            "id": "a-1",
            "tenant": None,
            "frameworks": [PCI],
            "site_wide_rules": ["integrity"],
            "counts": {s: site_counts[s] for s in STATUSES},
        },
        "results": results,
        "controls": [
            control("7.2.1", "not-satisfied", "1 of 2 results fail"),
            control("3.6.1", "not-satisfied", "2 of 2 results fail"),
            control("11.4.5", "not-satisfied", "1 of 2 results fail"),
            control("10.3.4", "satisfied", None),
            control("9.2.1", "not-satisfied", "1 of 1 results fail"),
            control("12.4.1", "not-evaluated", "no automated rule maps to this control"),
        ],
    }


def test_a_tenant_documents_counts_are_its_own_results() -> None:
    doc = _doc()
    view = TenantView.for_tenant(_inventory(), "acme")
    mine = for_view(doc, view, frozenset({f"{PCI}:11.4.5"}))
    kept = Counter(r["status"] for r in mine["results"])
    assert [r["id"] for r in mine["results"]] == ["R-0000000000000001", "R-0000000000000006"]
    assert mine["assessment"]["counts"] == {s: kept[s] for s in STATUSES}
    assert mine["assessment"]["counts"]["fail"] == 0  # the site has 5 failures; acme none
    assert doc["assessment"]["counts"]["fail"] == 5
    assert mine["assessment"]["tenant"] == "acme"
    by_control = {c["control"]: c for c in mine["controls"]}
    # statuses and notes of acme's results alone, worded as the engine's tenant view words them
    assert by_control["7.2.1"]["status"] == "satisfied"
    assert "note" not in by_control["7.2.1"]
    assert by_control["3.6.1"] == {
        "framework": PCI,
        "control": "3.6.1",
        "title": "3.6.1",
        "status": "not-evaluated",
        "results": [],
        "note": "its rules gave no result in this scope (none about acme)",
    }
    # automated evidence only supports 11.4.5: supported, never satisfied (the site's status,
    # not-satisfied, does not say so; the catalogue's refs do)
    assert by_control["11.4.5"]["status"] == "supported"
    assert "qualified, independent tester" in by_control["11.4.5"]["note"]
    # site-wide results alone never satisfy a tenant's control
    assert by_control["10.3.4"]["status"] == "not-evaluated"
    assert by_control["10.3.4"]["note"].startswith("only site-wide results")
    assert by_control["9.2.1"]["results"] == []  # not a site-wide rule: not acme's to see
    assert by_control["12.4.1"]["note"] == "no automated rule maps to this control"
    notes = " | ".join(c.get("note", "") for c in mine["controls"])
    assert " of 2 " not in notes  # no note counts another tenant's results


def test_the_other_tenant_sees_its_own_failures() -> None:
    mine = for_view(_doc(), TenantView.for_tenant(_inventory(), "globex"))
    assert mine["assessment"]["counts"] == {**dict.fromkeys(STATUSES, 0), "fail": 4, "pass": 1}
    by_control = {c["control"]: c for c in mine["controls"]}
    assert by_control["3.6.1"]["note"] == "2 of 2 results fail"
    assert by_control["7.2.1"]["note"] == "1 of 1 results fail"


def test_the_site_document_is_unchanged_and_a_framework_filter_recounts() -> None:
    doc = _doc()
    assert for_view(doc, TenantView.site()) is doc
    doc["results"].append(_result(8, "soc", "fail", "globex", "soc2:cc6.1"))
    filtered = filter_frameworks(doc, (PCI,))
    assert len(filtered["results"]) == 7
    assert filtered["assessment"]["counts"] == counts(filtered["results"])
    assert filtered["assessment"]["counts"]["fail"] == 5
