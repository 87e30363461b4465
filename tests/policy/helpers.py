"""Builders for the policy tests: evidence in the collectors' shapes, policy-file variants.

Events are built with the collectors' own model (:class:`edgeaudit.collect.model.Event`) and
appended through :func:`edgeaudit.events.prepare` and :meth:`EvidenceLog.append`, so the checks
read exactly what ``edgeaudit collect`` would have stored. Records a person appends by hand
(``review.access``, ``review.breakglass``) are plain JSON objects.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.collect.model import Actor, Event, Grant, KeyRef, Provenance, Target
from edgeaudit.events import prepare
from edgeaudit.policy.engine import evaluate
from edgeaudit.policy.files import Policies, load_policies
from edgeaudit.policy.model import Assessment, Result
from edgeaudit.store.log import EvidenceLog

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
ORIGIN = "audit.example.net/policy-test"

# The assessed period (Q3 2026, in UTC) and the time the assessment is made.
START = "2026-07-01T00:00:00Z"
END = "2026-10-01T00:00:00Z"
NOW = "2026-10-02T00:00:00Z"

_counter = itertools.count()
_INVENTORY: Inventory | None = None


def inventory() -> Inventory:
    global _INVENTORY
    if _INVENTORY is None:
        _INVENTORY = load_inventory(POLICIES / "inventory.yaml")
    return _INVENTORY


def copy_policies(dest: Path) -> Path:
    """A private copy of ``policies/`` to edit."""
    shutil.copytree(POLICIES, dest)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a policy file (exactly ``count`` occurrences must exist)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def set_rule_params(rules_yaml: Path, rule: str, params: str) -> None:
    """Replace (or add) the ``params:`` of one rule in rules.yaml with a flow mapping."""
    text = rules_yaml.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=  - id: )", text)
    for i, b in enumerate(blocks):
        if b.startswith(f"  - id: {rule}\n"):
            lines = b.split("\n")
            out, skipping = [], False
            for line in lines:
                if line.startswith("    params:"):
                    skipping = True
                    continue
                if skipping and line.startswith("      "):
                    continue
                skipping = False
                out.append(line)
            out.insert(1, f"    params: {params}")
            blocks[i] = "\n".join(out)
            break
    else:
        raise AssertionError(f"rule {rule} not in {rules_yaml}")
    rules_yaml.write_text("".join(blocks), encoding="utf-8")


def only_rules(rules_yaml: Path, keep: Sequence[str]) -> None:
    """Keep only the named rules in rules.yaml (others are disabled)."""
    text = rules_yaml.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=  - id: )", text)
    out = [blocks[0]]
    for b in blocks[1:]:
        rid = b.split("\n", 1)[0].removeprefix("  - id: ").strip()
        out.append(b if rid in keep else b.replace("\n", "\n    enabled: false\n", 1))
    rules_yaml.write_text("".join(out), encoding="utf-8")


# -- events -------------------------------------------------------------------------------------


def actor(pid: str | None, user: str | None = None) -> Actor:
    """The actor a collector makes for an inventory principal (or an unresolved identity)."""
    if pid is None:
        return Actor(user=user or "nobody")
    p = inventory().principal(pid)
    if p is None:  # resolved when collected, since removed from the inventory (offboarded)
        return Actor(user=user or pid, principal=pid, org="operator")
    return Actor(user=user or pid, principal=pid, org=p.org, tenant=p.tenant)


def target(
    asset: str | None = None, account: str | None = None, resource: str | None = None
) -> Target:
    owner = None
    if asset is not None:
        a = inventory().asset(asset)
        owner = a.owner if a else None
    return Target(asset=asset, account=account, resource=resource, owner=owner)


def _scope(*tenants: str | None) -> tuple[str, ...]:
    return tuple(sorted({t for t in tenants if t and t != "shared"}))


def event(
    kind: str,
    time: str,
    *,
    who: Actor | None = None,
    on: Target | None = None,
    outcome: str = "success",
    grant: Grant | None = None,
    key: KeyRef | None = None,
    attrs: dict[str, Any] | None = None,
    source: str = "teleport",
    scope: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One event record exactly as ``Event.to_record()`` makes it."""
    n = next(_counter)
    who = who or Actor()
    on = on or Target()
    if scope is None:
        scope = _scope(on.owner, key.owner if key else None, who.tenant)
    ev = Event(
        kind=kind,
        time=time,
        time_text=time,
        provenance=Provenance(
            source_kind=source,
            source="test-host",
            location=f"test.log:{n}",
            parser_version="1",
            raw_sha256=hashlib.sha256(f"{n}".encode()).hexdigest(),
        ),
        actor=who,
        target=on,
        outcome=outcome,
        grant=grant,
        key=key,
        scope=scope,
        attrs=tuple(sorted((attrs or {}).items())),
    )
    return ev.to_record()


def logon(
    time: str, pid: str | None, asset: str, account: str | None = None, **kw: Any
) -> dict[str, Any]:
    user = kw.pop("user", None)
    return event(
        "auth.logon",
        time,
        who=actor(pid, user),
        on=target(asset, account or pid or user),
        source="syslog",
        **kw,
    )


def logoff(
    time: str, pid: str | None, asset: str, account: str | None = None, **kw: Any
) -> dict[str, Any]:
    """The end of a session opened by :func:`logon` with the same arguments."""
    user = kw.pop("user", None)
    return event(
        "auth.logoff",
        time,
        who=actor(pid, user),
        on=target(asset, account or pid or user),
        source="syslog",
        **kw,
    )


def session(
    start: str, end: str, pid: str | None, asset: str, account: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """A logon and its logoff: a session from ``start`` to ``end``."""
    return [logon(start, pid, asset, account, **dict(kw)), logoff(end, pid, asset, account, **kw)]


def grant_request(
    time: str,
    gid: str,
    requester: str,
    asset: str,
    *,
    expires: str | None = None,
    max_s: int | None = None,
) -> dict[str, Any]:
    g = Grant(
        id=gid,
        state="pending",
        resources=(f"/blr-pod-1/node/{asset}",),
        requester=requester,
        max_duration_s=max_s,
        expires=expires,
    )
    return event("grant.request", time, who=actor(requester), on=target(asset), grant=g)


def grant_review(time: str, gid: str, reviewer: str, asset: str) -> dict[str, Any]:
    g = Grant(id=gid, state="approved", resources=(f"/blr-pod-1/node/{asset}",), reviewer=reviewer)
    return event("grant.review", time, who=actor(reviewer), on=target(asset), grant=g)


def grant_approve(
    time: str, gid: str, approver: str, asset: str, *, expires: str, override: bool = False
) -> dict[str, Any]:
    g = Grant(
        id=gid,
        state="approved",
        resources=(f"/blr-pod-1/node/{asset}",),
        reviewer=approver,
        admin_override=override,
        expires=expires,
    )
    return event("grant.approve", time, who=actor(approver), on=target(asset), grant=g)


def full_grant(
    gid: str,
    requester: str,
    approver: str,
    asset: str,
    requested: str,
    approved: str,
    expires: str,
    *,
    reviewed: bool = True,
) -> list[dict[str, Any]]:
    out = [grant_request(requested, gid, requester, asset, expires=expires)]
    if reviewed:
        out.append(grant_review(approved, gid, approver, asset))
    out.append(
        grant_approve(approved, gid, approver, asset, expires=expires, override=not reviewed)
    )
    return out


def key_use(
    time: str, pid: str | None, key: str, operation: str = "encrypt", user: str | None = None
) -> dict[str, Any]:
    k = next(k for k in inventory().keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, operation=operation, owner=k.tenant, resolved=True)
    return event("key.use", time, who=actor(pid, user), key=ref, source="vault")


def key_state(time: str, key: str, created: str) -> dict[str, Any]:
    k = next(k for k in inventory().keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, owner=k.tenant, resolved=True, version=3)
    return event(
        "key.state",
        time,
        key=ref,
        attrs={"latest_version": 3, "latest_version_created": created},
        source="vault-keystate",
    )


def badge(time: str, pid: str, door: str = "server-room-1") -> dict[str, Any]:
    return event(
        "physical.access",
        time,
        who=actor(pid, user="card:" + pid),
        on=Target(resource=door),
        source="badge-csv",
    )


def command(time: str, pid: str, asset: str, cmd: str) -> dict[str, Any]:
    return event(
        "session.command",
        time,
        who=actor(pid),
        on=target(asset, "root"),
        attrs={"command": cmd},
        source="auditd",
    )


def probe_run(
    time: str,
    run: str,
    vantage: str,
    targets: Iterable[tuple[str, str, str]],
    *,
    controls_ok: bool = True,
) -> list[dict[str, Any]]:
    """A probe.run and one probe.result per (segment, expected, verdict)."""
    inv = inventory()
    owners = {s.id: s.owner for s in inv.segments}
    targets = list(targets)
    run_attrs = {
        "run": run,
        "plan": "p",
        "vantage": vantage,
        "matrix_version": "2026.11-1",  # policies/isolation.yaml
        "engine": "edgeaudit-probe/1",
        "params": {},
        "started": time,
        "finished": time,
        "trigger": "schedule",
        "controls_ok": controls_ok,
        "counts": {},
        "violations": sum(1 for _, e, v in targets if e == "deny" and v == "reachable"),
    }
    out = [
        event(
            "probe.run",
            time,
            attrs=run_attrs,
            source="probe",
            scope=_scope(owners[vantage], *(owners[s] for s, _, _ in targets)),
        )
    ]
    for i, (seg, expected, verdict) in enumerate(targets):
        attrs = {
            "run": run,
            "plan": "p",
            "vantage": vantage,
            "segment": seg,
            "address": f"10.9.9.{i}",
            "protocol": "tcp",
            "port": 22 + i,
            "expected": expected,
            "verdict": verdict,
            "control": None,
            "reasons": [],
            "tries": 1,
        }
        out.append(
            event(
                "probe.result",
                time,
                attrs=attrs,
                source="probe",
                outcome="success",
                scope=_scope(owners[vantage], owners[seg]),
            )
        )
    return out


class Evidence:
    """An evidence log to append hand-made records to."""

    def __init__(self, log: EvidenceLog) -> None:
        self.log = log

    def add(self, *records: dict[str, Any] | Iterable[dict[str, Any]]) -> list[int]:
        """Append records (or lists of records) in one batch; their indices."""
        flat: list[dict[str, Any]] = []
        for r in records:
            flat.extend([r] if isinstance(r, dict) else r)
        res = self.log.append([prepare(r) for r in flat])
        assert res.appended == len(flat), res
        assert res.first_index is not None
        return list(range(res.first_index, res.first_index + len(flat)))

    def one(self, record: dict[str, Any]) -> int:
        return self.add(record)[0]


def run(
    policies: Policies | Path,
    log: EvidenceLog,
    *,
    start: str = START,
    end: str = END,
    now: str = NOW,
    **kw: Any,
) -> Assessment:
    p = policies if isinstance(policies, Policies) else load_policies(policies)
    return evaluate(p, log, start=start, end=end, now=now, **kw)


def of(a: Assessment, rule: str, **scope: str) -> list[Result]:
    """Results of ``rule`` whose scope has every given key/value."""
    return [
        r
        for r in a.results
        if r.rule == rule and all(r.scope.to_dict().get(k) == v for k, v in scope.items())
    ]


def the(a: Assessment, rule: str, **scope: str) -> Result:
    found = of(a, rule, **scope)
    assert len(found) == 1, (rule, scope, [(r.scope.to_dict(), r.status) for r in of(a, rule)])
    return found[0]
