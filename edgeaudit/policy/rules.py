"""The rules (``policies/rules.yaml``): which checks run, their parameters, severity, the RACI
activity each belongs to (whose Accountable party may waive its results) and the control ids
each maps to. Validated against the check registry, the controls catalogue, the RACI matrix and
the inventory (a parameter naming an unknown principal, role, key or tenant is an error)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import EdgeauditError
from edgeaudit.policy.controls import Catalogue
from edgeaudit.policy.model import SEVERITIES
from edgeaudit.policy.registry import CheckSpec, Param, registry
from edgeaudit.yamlfile import Node, load_yaml


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    check: str
    title: str
    severity: str
    controls: tuple[str, ...]
    params: tuple[tuple[str, Any], ...]
    line: int
    activity: str | None = None  # the RACI activity (whose A may waive the rule's results)
    site_wide: bool = False  # its results without a tenant are shown to every tenant

    @property
    def param_map(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Rules:
    file: str
    rules: tuple[Rule, ...]
    version: int = 1


def load_rules(
    path: str | Path,
    catalogue: Catalogue,
    inventory: Inventory | None = None,
    activities: frozenset[str] | None = None,
) -> Rules:
    """Load and validate ``rules.yaml``. With ``activities`` (the RACI matrix's), every rule
    must name one of them as its ``activity``; with ``inventory``, parameters that name
    principals, roles, keys or tenants must name known ones."""
    root = load_yaml(path, "rule set")
    top = root.mapping({"version", "rules"}, {"rules"})
    version = top["version"].integer("version", minimum=1) if "version" in top else 1
    checks = registry()
    rules: list[Rule] = []
    for n in top["rules"].items():
        f = n.mapping(
            {
                "id",
                "check",
                "title",
                "severity",
                "controls",
                "params",
                "enabled",
                "activity",
                "site_wide",
            },
            {"id", "check", "severity", "controls", "activity"},
        )
        rid = f["id"].text("rule id")
        if any(r.id == rid for r in rules):
            raise f["id"].fail(f"rule {rid!r} is defined twice")
        if "enabled" in f and not f["enabled"].boolean("enabled"):
            continue
        name = f["check"].text("check")
        spec = checks.get(name)
        if spec is None:
            raise f["check"].fail(f"unknown check {name!r} (known: {', '.join(sorted(checks))})")
        severity = f["severity"].text("severity")
        if severity not in SEVERITIES:
            raise f["severity"].fail(f"severity {severity!r} must be one of {list(SEVERITIES)}")
        controls = f["controls"].texts("control")
        for ref in controls:
            if catalogue.get(ref) is None:
                raise f["controls"].fail(
                    f"control {ref!r} is not in the catalogue {catalogue.file} "
                    "(write FRAMEWORK:ID, e.g. iso27001-2022:a.8.2)"
                )
        activity = f["activity"].text("activity")
        if activities is not None and activity not in activities:
            raise f["activity"].fail(
                f"activity {activity!r} is not in the RACI matrix "
                f"(known: {', '.join(sorted(activities))})"
            )
        params = _params(spec, f.get("params"), inventory)
        title = f["title"].text("title") if "title" in f else spec.title
        site_wide = f["site_wide"].boolean("site_wide") if "site_wide" in f else False
        rules.append(
            Rule(rid, name, title, severity, controls, params, n.line, activity, site_wide)
        )
    return Rules(root.file, tuple(rules), version)


def _params(
    spec: CheckSpec, node: Node | None, inventory: Inventory | None
) -> tuple[tuple[str, Any], ...]:
    given: dict[str, Node] = {}
    if node is not None and not node.is_null():
        given = node.mapping(set(spec.params), set())
    out = []
    for name, p in spec.params.items():
        if name not in given:
            out.append((name, p.default))
            continue
        value = _value(given[name], p, name)
        if p.validate is not None:
            try:
                p.validate(value)
            except (ValueError, EdgeauditError) as exc:
                raise given[name].fail(f"{name}: {exc}") from None
        if p.refs is not None and inventory is not None:
            _check_refs(given[name], p, name, value, inventory)
        out.append((name, value))
    return tuple(out)


def _value(n: Node, p: Param, name: str) -> Any:
    if p.kind == "duration":
        return n.duration(name)
    if p.kind == "int":
        return n.integer(name, minimum=0)
    if p.kind == "text":
        return n.text(name)
    if p.kind == "texts":
        return n.texts(name)
    if p.kind == "bool":
        return n.boolean(name)
    return n.records(name)


def _check_refs(node: Node, p: Param, name: str, value: Any, inventory: Inventory) -> None:
    """Names in a parameter that the inventory must know: each record checked with its own line."""
    assert p.refs is not None
    items = list(node.items()) if p.kind == "records" else [node]
    values = list(value) if p.kind == "records" else [value]
    for item, v in zip(items, values, strict=True):
        try:
            p.refs(v, inventory)
        except ValueError as exc:
            raise item.fail(f"{name}: {exc}") from None
