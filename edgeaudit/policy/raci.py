"""The RACI matrix (``policies/raci.yaml``): activities x parties with R/A/C/I.

A party is a set of principals named by organisation, roles and (for tenant parties) tenant.
Loading checks only the file's shape; "exactly one Accountable, at least one Responsible" is a
check (``raci.structure``), so a broken matrix is a finding, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.inventory_types import Principal
from edgeaudit.yamlfile import load_yaml

LETTERS: Final = ("R", "A", "C", "I")
PARTY_ORGS: Final = frozenset({"operator", "partner", "tenant"})


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    org: str
    roles: tuple[str, ...]  # empty: every principal of the org
    tenant: str | None  # a tenant party bound to one tenant; None with org tenant: each tenant
    line: int

    def includes(self, p: Principal, scope_tenant: str | None = None) -> bool:
        if p.org != self.org:
            return False
        if self.roles and not set(self.roles) & set(p.roles):
            return False
        if self.org == "tenant":
            want = self.tenant or scope_tenant
            return want is None or p.tenant == want
        return True


@dataclass(frozen=True, slots=True)
class Assignment:
    activity: str
    scope: str  # "*", "shared" or a tenant id: whose assets the row is about
    letters: tuple[tuple[str, tuple[str, ...]], ...]  # (letter, party ids)
    evidence: tuple[str, ...]  # command substrings that show the activity being done
    line: int

    def parties(self, letter: str) -> tuple[str, ...]:
        return dict(self.letters).get(letter, ())

    def applies_to(self, owner: str | None) -> bool:
        return self.scope == "*" or self.scope == owner


@dataclass(frozen=True, slots=True)
class Raci:
    file: str
    parties: tuple[Party, ...]
    rows: tuple[Assignment, ...]

    def party(self, pid: str) -> Party:
        return next(p for p in self.parties if p.id == pid)

    def rows_for(self, activity: str, owner: str | None = None) -> tuple[Assignment, ...]:
        """Rows of ``activity``; a row for the owner's own scope wins over a ``*`` row."""
        rows = [r for r in self.rows if r.activity == activity]
        exact = [r for r in rows if r.scope == owner]
        return tuple(exact or [r for r in rows if r.scope == "*"])

    def holds(
        self, principal: Principal, letter: str, activity: str, owner: str | None = None
    ) -> bool:
        tenant = owner if owner not in (None, "shared") else None
        return any(
            self.party(pid).includes(principal, tenant)
            for row in self.rows_for(activity, owner)
            for pid in row.parties(letter)
        )

    def activities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.activity for r in self.rows))


def load_raci(path: str | Path, inventory: Inventory) -> Raci:
    root = load_yaml(path, "RACI matrix")
    top = root.mapping({"version", "parties", "activities"}, {"parties", "activities"})
    parties: list[Party] = []
    for pid_node, body in top["parties"].pairs("party"):
        pid = pid_node.text("party id")
        if any(p.id == pid for p in parties):
            raise pid_node.fail(f"party {pid!r} is defined twice")
        f = body.mapping({"org", "roles", "tenant", "description"}, {"org"})
        org = f["org"].text("org")
        if org not in PARTY_ORGS:
            raise f["org"].fail(f"org {org!r} must be one of {sorted(PARTY_ORGS)}")
        tenant = f["tenant"].text("tenant") if "tenant" in f else None
        if tenant is not None:
            if org != "tenant":
                raise f["tenant"].fail("only a party of org 'tenant' can name a tenant")
            if tenant not in inventory.tenant_ids:
                raise f["tenant"].fail(f"unknown tenant {tenant!r}")
        roles = f["roles"].texts("role") if "roles" in f else ()
        parties.append(Party(pid, org, roles, tenant, body.line))
    known = {p.id for p in parties}
    scopes = {"*", "shared", *inventory.tenant_ids}
    rows: list[Assignment] = []
    for n in top["activities"].items():
        f = n.mapping({"id", "scope", "evidence", "description", *LETTERS}, {"id"})
        activity = f["id"].text("activity id")
        scope = f["scope"].text("scope") if "scope" in f else "*"
        if scope not in scopes:
            raise f["scope"].fail(f"scope {scope!r} must be '*', 'shared' or a tenant id")
        if any(r.activity == activity and r.scope == scope for r in rows):
            raise f["id"].fail(f"activity {activity!r} with scope {scope!r} appears twice")
        letters = []
        for letter in LETTERS:
            if letter not in f:
                continue
            ids = f[letter].texts(f"{letter} party")
            for pid in ids:
                if pid not in known:
                    raise f[letter].fail(
                        f"unknown party {pid!r} (known: {', '.join(sorted(known))})"
                    )
            letters.append((letter, ids))
        evidence = f["evidence"].texts("evidence command") if "evidence" in f else ()
        rows.append(Assignment(activity, scope, tuple(letters), evidence, n.line))
    return Raci(root.file, tuple(parties), tuple(rows))
