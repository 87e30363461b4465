"""Waivers (``policies/waivers.yaml``): accepted exceptions to results, each with an approver,
reason, risk rating, effective date and a UTC expiry. A waiver covers a failing result only
while it is in force at the assessment's as-of time; an expired waiver re-opens its finding."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.policy.model import SCOPE_KEYS, Waiver
from edgeaudit.yamlfile import load_yaml

RISKS: Final = ("critical", "high", "medium", "low")


def load_waivers(path: str | Path, inventory: Inventory, rule_ids: set[str]) -> tuple[Waiver, ...]:
    root = load_yaml(path, "waiver list")
    top = root.mapping({"version", "waivers"}, {"waivers"})
    out: list[Waiver] = []
    principals = {p.id for p in inventory.principals}
    for n in top["waivers"].items():
        f = n.mapping(
            {"id", "rule", "result", "scope", "approver", "reason", "risk", "effective", "expires"},
            {"id", "approver", "reason", "risk", "effective", "expires"},
        )
        wid = f["id"].text("waiver id")
        if any(w.id == wid for w in out):
            raise f["id"].fail(f"waiver {wid!r} is defined twice")
        rule = f["rule"].text("rule") if "rule" in f else None
        if rule is not None and rule not in rule_ids:
            raise f["rule"].fail(f"unknown rule {rule!r}")
        result = f["result"].text("result") if "result" in f else None
        if result is not None and not (result.startswith("F-") and len(result) == 18):
            raise f["result"].fail(f"result {result!r} is not a result id (F- + 16 hex digits)")
        if rule is None and result is None:
            raise n.fail(f"waiver {wid!r} must name a rule or a result id")
        scope: list[tuple[str, str]] = []
        if "scope" in f:
            for k, v in f["scope"].mapping(set(SCOPE_KEYS), set()).items():
                scope.append((k, v.text(f"scope.{k}")))
        approver = f["approver"].text("approver")
        if approver not in principals:
            raise f["approver"].fail(f"approver {approver!r} is not a principal of the inventory")
        risk = f["risk"].text("risk")
        if risk not in RISKS:
            raise f["risk"].fail(f"risk {risk!r} must be one of {list(RISKS)}")
        effective = f["effective"].timestamp("effective")
        expires = f["expires"].timestamp("expires")
        if expires <= effective:
            raise f["expires"].fail(f"expires {expires} is not after effective {effective}")
        out.append(
            Waiver(
                wid,
                rule,
                result,
                tuple(scope),
                approver,
                f["reason"].text("reason"),
                risk,
                effective,
                expires,
                n.line,
            )
        )
    return tuple(out)
