"""Waivers (``policies/waivers.yaml``): accepted exceptions to results, each with an approver,
reason, risk rating, effective date and a UTC expiry. A waiver covers a failing result only
while it is in force at the assessment's as-of time; an expired waiver re-opens its finding."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.policy.model import SCOPE_KEYS, Waiver
from edgeaudit.yamlfile import load_yaml

RISKS: Final = ("critical", "high", "medium", "low")
_RESULT_ID: Final = re.compile(r"[RF]-[0-9a-f]{16}")


def _unknown(key: str, value: str, inv: Inventory, activities: frozenset[str] | None) -> str | None:
    """Why a scope value names nothing the policies know (None when it does)."""
    if value.startswith("unresolved: "):
        return None  # results about identities that did not resolve carry this form
    if key == "tenant" and value not in inv.tenant_ids:
        return f"unknown tenant {value!r}"
    if key == "asset" and inv.asset(value) is None:
        return f"unknown asset {value!r} (not in the inventory)"
    if key == "principal" and inv.principal(value) is None:
        return f"unknown principal {value!r} (not in the inventory)"
    if key == "key" and not any(k.id == value for k in inv.keys):
        return f"unknown key {value!r} (not in the inventory)"
    if key == "segment":
        known = {s.id for s in inv.segments}
        bad = [s for s in value.split("->") if s not in known]
        if bad:
            return f"unknown segment {bad[0]!r} (write SEGMENT or SRC->DST)"
    if key == "activity" and activities is not None and value not in activities:
        return f"unknown activity {value!r} (not in the RACI matrix)"
    return None


def load_waivers(
    path: str | Path,
    inventory: Inventory,
    rule_ids: set[str],
    activities: frozenset[str] | None = None,
) -> tuple[Waiver, ...]:
    """Load and validate ``waivers.yaml``: rules, result ids, approvers and every scope value
    must name something the policies know (a typo would otherwise never match)."""
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
        if result is not None and not _RESULT_ID.fullmatch(result):
            raise f["result"].fail(
                f"result {result!r} is not a result id (R- + 16 hex digits; F- is accepted)"
            )
        if rule is None and result is None:
            raise n.fail(f"waiver {wid!r} must name a rule or a result id")
        scope: list[tuple[str, str]] = []
        if "scope" in f:
            for k, v in f["scope"].mapping(set(SCOPE_KEYS), set()).items():
                value = v.text(f"scope.{k}")
                problem = _unknown(k, value, inventory, activities)
                if problem is not None:
                    raise v.fail(f"scope.{k}: {problem}")
                scope.append((k, value))
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
