"""The RACI matrix as the report shows it: rows of activity x R/A/C/I party names.

For a tenant pack only the rows that apply to the tenant's assets (scope ``*``, ``shared`` or
the tenant) remain, and tenant parties are named for that tenant (PCI DSS 12.8.5 / 12.9.2).
"""

from __future__ import annotations

from typing import Any

from edgeaudit.policy.raci import LETTERS, Raci


def raci_rows(raci: Raci, tenant: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for a in raci.rows:
        if tenant is not None and a.scope not in ("*", "shared", tenant):
            continue
        row: dict[str, Any] = {
            "activity": a.activity + ("" if a.scope == "*" else f" ({a.scope} assets)"),
        }
        for letter in LETTERS:
            names = []
            for pid in a.parties(letter):
                party = raci.party(pid)
                if party.org == "tenant":
                    who = party.tenant or tenant or "each tenant"
                    if tenant is not None and who != tenant:
                        who = "another tenant"  # never another tenant's name in T's pack
                    names.append(f"{pid} ({who})")
                else:
                    names.append(f"{pid} ({party.org})")
            row[letter] = ", ".join(names)
        rows.append(row)
    return rows
