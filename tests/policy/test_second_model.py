"""A second, independent operating model (``tests/policy/second_model/``) judged by the engine.

The model shares no names with the demo pod of ``policies/``: site ``fra-edge-7`` in
Europe/Berlin (DST ends inside the assessed quarter, 2026Q4), tenants harbor-pay, lumen-health
and orbit-media, roles ``duty-manager`` (approvers), ``crypto-officer`` (key custodians),
``field-technician`` (partner), ``tenant-ciso``, and stricter parameters (grants at most 2 h,
60 s grace, 180 d cryptoperiod, 24 h break-glass review, 90 d access reviews, 120 d probes).

Every expectation below was written by hand from the engine's contract after issue 11 (the
semantics notes ``SPEC-issue11.md``) before the engine was run: one planted violation per check and
a near miss at each boundary. Evidence is built in the collectors' shapes (syslog sshd/pam/su,
auditd USER_START/USER_END, Teleport session and access-request events, sudo JSON, Vault key
use, badge readers, probes) and appended to a real SQLite store (``tests/policy/helpers.py``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.collect.inventory import load_inventory
from edgeaudit.collect.model import Actor, Grant, KeyRef, Target
from edgeaudit.errors import EdgeauditError
from edgeaudit.policy.context import epoch, iso
from edgeaudit.policy.engine import evaluate
from edgeaudit.policy.files import Policies, load_policies
from edgeaudit.policy.model import (
    FAIL,
    NOT_EVALUATED,
    PASS,
    STALE,
    STATUSES,
    WAIVED,
    Assessment,
    Result,
)
from edgeaudit.store.values import QuarantineRecord
from tests.policy.helpers import Evidence, edit, event, of, the

MODEL = Path(__file__).resolve().parent / "second_model"
INV = load_inventory(MODEL / "inventory.yaml")

# the assessed quarter (2026Q4) and the time of the assessment: as-of = the period end
START = "2026-10-01T00:00:00Z"
END = "2027-01-01T00:00:00Z"
NOW = "2027-01-02T00:00:00Z"  # as-of = min(period end, now) = END

DOOR = "fra-cage-3"
GRACE = 60  # rules.yaml: sess-under-grant grace

# rule ids of second_model/rules.yaml
SESSIONS = "sess-under-grant"
SELF = "grant-not-self-approved"
ACCOUNTABLE = "grant-approver-is-accountable"
OVERRIDE = "grant-reviewed-first"
DURATION = "grant-max-2h"
BREAKGLASS = "emergency-reviewed-24h"
KEY_USE = "tenant-key-use"
ROTATION = "key-cryptoperiod"
RACI = "raci-matrix-sound"
PRACTICE = "raci-followed"
REVIEW = "access-recert-90d"
CADENCE = "seg-probe-cadence"
DENIED = "seg-denied-blocked"
ALLOWED = "seg-allowed-reachable"
DOORS = "door-hours"
GAPLESS = "collection-gapless"
FORGED = "no-forged-sources"
SEALED = "evidence-sealed"


# -- the model and the assessment -----------------------------------------------------------


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A private copy of the second model to edit."""
    return Path(shutil.copytree(MODEL, tmp_path / "second_model"))


def assess(
    ev: Evidence, policies: Path | Policies = MODEL, *, now: str = NOW, **kw: Any
) -> Assessment:
    p = policies if isinstance(policies, Policies) else load_policies(policies)
    return evaluate(p, ev.log, start=START, end=END, now=now, **kw)


def at(base: str, seconds: float) -> str:
    return iso(epoch(base) + seconds)


def observed(r: Result) -> dict[str, Any]:
    return dict(r.observed)


def uncovered(r: Result) -> list[float]:
    """The uncovered seconds of each session that has any, sorted: ``uncovered_s`` of the
    per-session objects in ``observed`` when there are such, else the top-level ``uncovered_s``
    (a number or a list of numbers)."""
    obs = observed(r)
    found: list[float] = []

    def take(v: Any) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, int | float):
            found.append(float(v))
        elif isinstance(v, dict):
            for x in v.values():
                take(x)
        elif isinstance(v, list | tuple):
            for x in v:
                take(x)

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                take(x) if k == "uncovered_s" else walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk([v for k, v in obs.items() if k != "uncovered_s"])  # per-session objects
    if not found and "uncovered_s" in obs:
        take(obs["uncovered_s"])
    return sorted(x for x in found if x)


def session_count(r: Result) -> int | None:
    s = observed(r).get("sessions")
    if isinstance(s, bool):
        return None
    if isinstance(s, int):
        return s
    if isinstance(s, list | tuple):
        return len(s)
    return None


def control(a: Assessment, ref: str) -> Any:
    fw, _, cid = ref.partition(":")
    found = [c for c in a.controls if c.framework == fw and c.control == cid]
    assert len(found) == 1, (ref, [(c.framework, c.control) for c in a.controls][:5])
    return found[0]


def indices(r: Result) -> list[int]:
    return [e.index for e in r.evidence]


# -- evidence in the collectors' shapes ---------------------------------------------------------


def identity(pid: str, kind: str) -> str:
    p = INV.principal(pid)
    assert p is not None, pid
    return next(i for k, i in p.identities if k == kind)


def actor(
    pid: str | None,
    user: str | None = None,
    *,
    session: str | None = None,
    src_ip: str | None = None,
    original_user: str | None = None,
) -> Actor:
    """The actor a collector makes: resolved through this model's inventory; ``pid`` None is an
    unresolved identity; an id the inventory does not hold (offboarded) keeps its id."""
    extra = {"session": session, "src_ip": src_ip, "original_user": original_user}
    if pid is None:
        return Actor(user=user, **extra)  # type: ignore[arg-type]
    p = INV.principal(pid)
    if p is None:  # collected while the person was still in the inventory
        return Actor(user=user or pid, principal=pid, org="operator", **extra)  # type: ignore[arg-type]
    return Actor(user=user or pid, principal=pid, org=p.org, tenant=p.tenant, **extra)  # type: ignore[arg-type]


def target(asset: str | None, account: str | None = None, resource: str | None = None) -> Target:
    a = INV.asset(asset) if asset else None
    return Target(
        asset=a.hostname if a else asset,
        account=account,
        resource=resource,
        owner=a.owner if a else None,
    )


def unix_user(pid: str | None, user: str | None) -> str:
    return user or identity(str(pid), "unix")


# syslog (sshd, pam_unix, su): the actor's session is the process id, also attrs.pid


def ssh_logon(
    time: str, pid: str | None, host: str, proc: int, *, user: str | None = None, **kw: Any
) -> dict[str, Any]:
    """``sshd: Accepted publickey for <user> from ... port ... ssh2`` (account = the user)."""
    u = unix_user(pid, user)
    account = kw.pop("account", u)
    return event(
        "auth.logon",
        time,
        who=actor(pid, kw.pop("actor_user", u), session=str(proc), src_ip="172.20.0.10"),
        on=kw.pop("on", None) or target(host, account),
        source="syslog",
        attrs={"method": "publickey", "src_port": 50000 + proc, "program": "sshd", "pid": proc},
    )


def ssh_logoff(
    time: str, pid: str | None, host: str, proc: int, *, user: str | None = None
) -> dict[str, Any]:
    """``sshd: Disconnected from user <user> ... port ...``."""
    u = unix_user(pid, user)
    return event(
        "auth.logoff",
        time,
        who=actor(pid, u, session=str(proc), src_ip="172.20.0.10"),
        on=target(host, u),
        source="syslog",
        attrs={"src_port": 50000 + proc, "program": "sshd", "pid": proc},
    )


def pam_session(kind: str, time: str, pid: str, host: str, proc: int) -> dict[str, Any]:
    """``pam_unix(sshd:session): session opened/closed for user <user>``."""
    u = unix_user(pid, None)
    attrs: dict[str, Any] = {"service": "sshd", "program": "sshd", "pid": proc}
    if kind == "session.start":
        attrs |= {"uid": 1001, "by_uid": 0}
    return event(
        kind,
        time,
        who=actor(pid, u, session=str(proc)),
        on=target(host, u),
        source="syslog",
        attrs=attrs,
    )


def audit_session(kind: str, time: str, pid: str, host: str, proc: int, ses: str) -> dict[str, Any]:
    """auditd ``USER_START`` / ``USER_END`` of sshd: session = the audit session, attrs.pid."""
    u = unix_user(pid, None)
    return event(
        kind,
        time,
        who=actor(pid, u, session=ses, original_user=u),
        on=target(host, u),
        source="auditd",
        attrs={
            "type": "USER_START" if kind == "session.start" else "USER_END",
            "op": "PAM:session_open" if kind == "session.start" else "PAM:session_close",
            "exe": "/usr/sbin/sshd",
            "terminal": "ssh",
            "pid": proc,
        },
    )


def ssh_session(
    start: str, end: str | None, pid: str | None, host: str, proc: int, **kw: Any
) -> list[dict[str, Any]]:
    out = [ssh_logon(start, pid, host, proc, **kw)]
    if end is not None:
        out.append(ssh_logoff(end, pid, host, proc, user=kw.get("user")))
    return out


def su_root(time: str, pid: str, host: str, proc: int) -> dict[str, Any]:
    """``su: (to root) <user> on pts/0``: a privilege switch with no end record."""
    u = unix_user(pid, None)
    return event(
        "priv.switch",
        time,
        who=actor(pid, u, original_user=u),
        on=target(host, "root"),
        source="syslog",
        attrs={"tty": "pts/0", "program": "su", "pid": proc},
    )


def sudo(kind: str, time: str, pid: str, host: str, uuid: str) -> dict[str, Any]:
    """sudo JSON ``accept`` (priv.switch) / ``exit`` (session.end): session = the uuid."""
    u = unix_user(pid, None)
    attrs: dict[str, Any] = {"command": "/usr/bin/systemctl restart ledger", "tty": "pts/1"}
    if kind == "session.end":
        attrs["exit_value"] = 0
    return event(
        kind,
        time,
        who=actor(pid, u, session=uuid),
        on=target(host, "root"),
        source="sudo-json",
        attrs=attrs,
    )


# Teleport


def teleport_session(
    kind: str, time: str, pid: str, host: str, login: str, sid: str
) -> dict[str, Any]:
    """Teleport ``session.start`` (T2000I) / ``session.end`` (T2004I) on a node."""
    return event(
        kind,
        time,
        who=actor(pid, identity(pid, "teleport"), session=sid, src_ip="198.51.100.7"),
        on=target(host, login),
        source="teleport",
        attrs={
            "code": "T2000I" if kind == "session.start" else "T2004I",
            "cluster_name": "fra-edge-7",
        },
    )


def teleport_cluster_login(time: str, pid: str) -> dict[str, Any]:
    """Teleport ``user.login`` (T1000I): a login to the cluster, not to any asset."""
    return event(
        "auth.logon",
        time,
        who=actor(pid, identity(pid, "teleport"), src_ip="198.51.100.7"),
        on=Target(resource="teleport:fra-edge-7"),
        source="teleport",
        attrs={"method": "local", "code": "T1000I", "cluster_name": "fra-edge-7"},
    )


def grant(
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
    """A Teleport access request for one node: create, review (unless an admin override),
    update to APPROVED."""
    res = (f"/fra-edge-7/node/{asset}",)
    out = [
        event(
            "grant.request",
            requested,
            who=actor(requester, identity(requester, "teleport")),
            on=target(asset),
            grant=Grant(
                id=gid,
                state="pending",
                resources=res,
                requester=identity(requester, "teleport"),
                expires=expires,
            ),
        )
    ]
    if reviewed:
        out.append(
            event(
                "grant.review",
                approved,
                who=actor(approver, identity(approver, "teleport")),
                on=target(asset),
                grant=Grant(
                    id=gid,
                    state="approved",
                    resources=res,
                    reviewer=identity(approver, "teleport"),
                ),
            )
        )
    out.append(
        event(
            "grant.approve",
            approved,
            who=actor(approver, identity(approver, "teleport")),
            on=target(asset),
            grant=Grant(
                id=gid,
                state="approved",
                resources=res,
                reviewer=identity(approver, "teleport"),
                admin_override=not reviewed,
                expires=expires,
            ),
        )
    )
    return out


def revoke(time: str, gid: str, by: str) -> dict[str, Any]:
    return event(
        "grant.revoke",
        time,
        who=actor(by, identity(by, "teleport")),
        grant=Grant(id=gid, state="revoked"),
    )


# keys, doors, probes, reviews, commands


def key_use(time: str, pid: str, key: str, operation: str = "encrypt") -> dict[str, Any]:
    k = next(k for k in INV.keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, operation=operation, owner=k.tenant, resolved=True)
    p = INV.principal(pid)
    user = identity(pid, "vault") if p is not None else pid
    return event("key.use", time, who=actor(pid, user), key=ref, source="vault")


def key_state(time: str, key: str, created: str) -> dict[str, Any]:
    k = next(k for k in INV.keys if k.id == key)
    ref = KeyRef(key=key, provider=k.provider, owner=k.tenant, resolved=True, version=7)
    return event(
        "key.state",
        time,
        key=ref,
        attrs={"latest_version": 7, "latest_version_created": created},
        source="vault-keystate",
    )


def badge(time: str, pid: str, door: str = DOOR) -> dict[str, Any]:
    return event(
        "physical.access",
        time,
        who=actor(pid, identity(pid, "badge")),
        on=Target(resource=door),
        source="badge-csv",
    )


def command(time: str, pid: str, host: str, cmd: str) -> dict[str, Any]:
    return event(
        "session.command",
        time,
        who=actor(pid, unix_user(pid, None)),
        on=target(host, "root"),
        attrs={"command": cmd, "euid": "0"},
        source="auditd",
    )


def probe_run(
    time: str, run: str, vantage: str, targets: Iterable[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """A probe.run and one probe.result per (segment, expected, verdict)."""
    owners = {s.id: s.owner for s in INV.segments}

    def scope(*segs: str) -> tuple[str, ...]:
        return tuple(sorted({owners[s] for s in segs} - {"shared"}))

    targets = list(targets)
    run_attrs = {
        "run": run,
        "plan": "fra7-quarterly",
        "vantage": vantage,
        "matrix_version": "2026.10-fra7",
        "engine": "edgeaudit-probe/1",
        "params": {},
        "started": time,
        "finished": time,
        "trigger": "schedule",
        "controls_ok": True,
        "counts": {},
        "violations": sum(1 for _, e, v in targets if e == "deny" and v == "reachable"),
    }
    out = [
        event(
            "probe.run",
            time,
            attrs=run_attrs,
            source="probe",
            scope=scope(vantage, *(s for s, _, _ in targets)),
        )
    ]
    for i, (seg, expected, verdict) in enumerate(targets):
        port = 22 if expected == "allow" else 3389
        attrs = {
            "run": run,
            "plan": "fra7-quarterly",
            "vantage": vantage,
            "segment": seg,
            "address": f"172.20.99.{i + 1}",
            "protocol": "tcp",
            "port": port,
            "expected": expected,
            "verdict": verdict,
            "control": None,
            "reasons": [],
            "tries": 1,
        }
        out.append(
            event("probe.result", time, attrs=attrs, source="probe", scope=scope(vantage, seg))
        )
    return out


def access_review(
    time: str, reviewer: str, subjects: list[str] | None = None, tenant: str | None = None
) -> dict[str, Any]:
    rec: dict[str, Any] = {"time": time, "kind": "review.access", "reviewer": reviewer}
    if subjects is not None:
        rec["subjects"] = subjects
    if tenant is not None:
        rec["tenant"] = tenant
    return rec


def breakglass_review(time: str, entry: int, reviewer: str) -> dict[str, Any]:
    return {"time": time, "kind": "review.breakglass", "entry": entry, "reviewer": reviewer}


def _quarantine(source_kind: str, reason: str) -> list[QuarantineRecord]:
    raw = f"{source_kind}:{reason}".encode()
    return [
        QuarantineRecord(
            source_kind, "fra7-log-1", "in.log:1", reason, raw, hashlib.sha256(raw).hexdigest()
        )
    ]


# -- the model loads ----------------------------------------------------------------------------


def test_the_second_model_loads_and_shares_no_names_with_the_demo() -> None:
    p = load_policies(MODEL)
    demo = load_policies(MODEL.parents[2] / "policies")
    assert p.inventory.site == "fra-edge-7"
    assert p.inventory.timezone == "Europe/Berlin"
    assert not {t.id for t in p.inventory.tenants} & {t.id for t in demo.inventory.tenants}
    assert not {x.id for x in p.inventory.principals} & {x.id for x in demo.inventory.principals}
    roles = {r for x in p.inventory.principals for r in x.roles}
    assert "key-admin" not in roles
    assert not roles & {r for x in demo.inventory.principals for r in x.roles}
    assert not {r.id for r in p.rules.rules} & {r.id for r in demo.rules.rules}
    assert p.raci is not None
    assert "site-security" in p.raci.activities()


def test_every_rule_and_scope_yields_one_result_with_an_r_id(ev: Evidence) -> None:
    _quarter(ev)
    p = load_policies(MODEL)
    a = assess(ev, p)
    keys = [(r.rule, tuple(sorted(r.scope.to_dict().items()))) for r in a.results]
    assert len(keys) == len(set(keys))
    assert {r.rule for r in a.results} == {rule.id for rule in p.rules.rules}
    for r in a.results:
        assert r.status in STATUSES
        assert re.fullmatch(r"R-[0-9a-f]{16}", r.id), r.id
        assert r.reason
        # an unresolved actor is "unresolved: <user>", never "?<user>"
        assert not (r.scope.principal or "").startswith("?"), r.scope
        assert "?mallory" not in r.reason
        assert "?sos-root" not in r.reason
    assert {r.rule for r in a.failing()} >= {
        SESSIONS,
        SELF,
        ACCOUNTABLE,
        OVERRIDE,
        DURATION,
        BREAKGLASS,
        KEY_USE,
        ROTATION,
        PRACTICE,
        CADENCE,
        DENIED,
        REVIEW,
        DOORS,
        GAPLESS,
    }


def test_no_reason_names_an_absolute_path(ev: Evidence, model: Path) -> None:
    _quarter(ev)
    # an Accountable tenant-side party without a member for orbit-media: a RACI finding
    edit(
        model / "inventory.yaml",
        "    tenant: orbit-media\n    roles: [tenant-ciso]",
        "    tenant: orbit-media\n    roles: [tenant-auditor]",
    )
    a = assess(ev, model)
    for r in a.results:
        for path in (str(model), str(MODEL), str(MODEL.parents[2])):
            assert path not in r.reason, (r.rule, r.reason)


def _quarter(ev: Evidence) -> None:
    """One of every planted problem of the quarter (and some that are fine)."""
    ev.add(
        grant(
            "hp-1",
            "tobias.r",
            "ines.w",
            "hp-ledger-01",
            "2026-11-03T08:50:00Z",
            "2026-11-03T09:00:00Z",
            "2026-11-03T10:00:00Z",
        ),
        ssh_session(
            "2026-11-03T09:05:00Z", "2026-11-03T10:05:00Z", "tobias.r", "hp-ledger-01", 3101
        ),
        grant(
            "om-self",
            "ines.w",
            "ines.w",
            "om-encode-01",
            "2026-11-04T08:00:00Z",
            "2026-11-04T08:00:00Z",
            "2026-11-04T09:00:00Z",
        ),
        grant(
            "lh-karl",
            "tobias.r",
            "karl.b",
            "lh-pacs-01",
            "2026-11-05T08:00:00Z",
            "2026-11-05T08:00:00Z",
            "2026-11-05T13:00:00Z",
            reviewed=False,
        ),
        teleport_session(
            "session.start", "2026-11-05T14:00:00Z", "tobias.r", "hp-api-01", "root", "sid-1"
        ),
        teleport_session(
            "session.end", "2026-11-05T14:12:30Z", "tobias.r", "hp-api-01", "root", "sid-1"
        ),
        ssh_session(
            "2026-11-06T02:00:00Z", "2026-11-06T02:30:00Z", None, "jump-fra", 777, user="sos-root"
        ),
        ssh_session(
            "2026-11-06T03:00:00Z", "2026-11-06T03:01:00Z", None, "hp-api-01", 778, user="mallory"
        ),
        key_use("2026-11-07T10:00:00Z", "svc-hp-ledger", "hp-ledger-key"),
        key_use("2026-11-07T10:00:00Z", "svc-om-transcode", "lh-phi-key", "decrypt"),
        key_use("2026-11-07T10:00:00Z", "karl.b", "lh-phi-key", "rewrap"),
        key_use("2026-11-07T10:00:00Z", "erik.s", "hp-card-kms", "decrypt"),
        key_state("2026-12-20T00:00:00Z", "hp-ledger-key", "2026-06-01T00:00:00Z"),
        badge("2026-10-25T04:59:00Z", "piet.v"),
        badge("2026-11-11T22:30:00Z", "ines.w"),
        command("2026-11-08T10:00:00Z", "piet.v", "hp-api-01", "zypper patch --with-interactive"),
        probe_run(
            "2026-11-02T03:00:00Z", "r-1", "seg-orbit", [("seg-harbor", "deny", "reachable")]
        ),
        probe_run("2026-08-15T03:00:00Z", "r-0", "seg-lumen", [("seg-orbit", "deny", "blocked")]),
        access_review("2026-12-01T00:00:00Z", "tobias.r", ["piet.v"]),
        event(
            "audit.pipeline",
            "2026-11-09T00:00:00Z",
            outcome="failure",
            source="syslog",
            attrs={"reason": "rsyslog queue overflow"},
        ),
    )


# -- sessions under grants (sess-under-grant, grace 60 s) ---------------------------------------

APPROVED = "2026-11-03T09:00:00Z"
EXPIRES = "2026-11-03T10:00:00Z"


def _hp_grant(ev: Evidence, **kw: str) -> list[int]:
    return ev.add(
        grant(
            kw.get("gid", "hp-1"),
            kw.get("requester", "tobias.r"),
            kw.get("approver", "ines.w"),
            kw.get("asset", "hp-ledger-01"),
            kw.get("requested", "2026-11-03T08:50:00Z"),
            kw.get("approved", APPROVED),
            kw.get("expires", EXPIRES),
        )
    )


def test_session_from_the_approval_second_to_one_second_before_expiry_passes(
    ev: Evidence,
) -> None:
    _hp_grant(ev)
    ev.add(ssh_session(APPROVED, at(EXPIRES, -1), "tobias.r", "hp-ledger-01", 3101))
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    assert r.status == PASS, r.reason
    assert r.scope.tenant == "harbor-pay"
    assert uncovered(r) == []
    assert session_count(r) in (None, 1)


@pytest.mark.parametrize(
    ("end_after_expiry", "status", "gap"),
    [
        (GRACE, PASS, 0),  # ends exactly at expiry + grace
        (GRACE + 1, FAIL, 1),  # one second past the grace
        (210, FAIL, 150),  # outlives the grant by 210 s: 150 s beyond the grace
    ],
)
def test_session_outliving_its_grant(
    ev: Evidence, end_after_expiry: int, status: str, gap: int
) -> None:
    _hp_grant(ev)
    ev.add(
        ssh_session(
            "2026-11-03T09:30:00Z", at(EXPIRES, end_after_expiry), "tobias.r", "hp-ledger-01", 3101
        )
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    assert r.status == status, r.reason
    assert uncovered(r) == ([gap] if gap else [])
    if status == FAIL:
        assert "hp-ledger-01" in r.reason
        assert "2026-11-03T09:30:00Z" in r.reason  # the session, to the second


@pytest.mark.parametrize(("before_approval", "status"), [(GRACE, PASS), (GRACE + 1, FAIL)])
def test_session_starting_before_the_approval(
    ev: Evidence, before_approval: int, status: str
) -> None:
    _hp_grant(ev)
    ev.add(
        ssh_session(
            at(APPROVED, -before_approval), "2026-11-03T09:30:00Z", "tobias.r", "hp-ledger-01", 3101
        )
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    assert r.status == status, r.reason
    assert uncovered(r) == ([1] if status == FAIL else [])


def test_revocation_ends_the_cover(ev: Evidence) -> None:
    _hp_grant(ev)
    ev.add(revoke("2026-11-03T09:20:00Z", "hp-1", "ines.w"))
    ev.add(
        ssh_session(
            "2026-11-03T09:10:00Z", "2026-11-03T09:30:00Z", "tobias.r", "hp-ledger-01", 3101
        )
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    assert r.status == FAIL, r.reason
    assert uncovered(r) == [540]  # 09:21:00 (revocation + grace) .. 09:30:00


@pytest.mark.parametrize(
    ("second_approved", "gap"),
    [
        ("10:05:00", 180),  # a gap 10:01:00 .. 10:04:00
        ("10:02:00", 0),  # the two covers meet at 10:01:00
        ("10:01:30", 0),  # they overlap
    ],
)
def test_session_across_two_grants(ev: Evidence, second_approved: str, gap: int) -> None:
    _hp_grant(ev)
    t2 = f"2026-11-03T{second_approved}Z"
    _hp_grant(ev, gid="hp-2", requested=t2, approved=t2, expires="2026-11-03T11:00:00Z")
    ev.add(
        ssh_session(
            "2026-11-03T09:30:00Z", "2026-11-03T10:30:00Z", "tobias.r", "hp-ledger-01", 3101
        )
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    # covered: [08:59:00, 10:01:00] and [approval 2 - 60 s, 11:01:00]
    assert r.status == (FAIL if gap else PASS), r.reason
    assert uncovered(r) == ([gap] if gap else [])


def test_teleport_session_without_a_grant_fails(ev: Evidence) -> None:
    start = ev.one(
        teleport_session(
            "session.start", "2026-11-05T14:00:00Z", "tobias.r", "hp-api-01", "root", "5f1e-sid"
        )
    )
    ev.one(
        teleport_session(
            "session.end", "2026-11-05T14:12:30Z", "tobias.r", "hp-api-01", "root", "5f1e-sid"
        )
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-api-01")
    assert r.status == FAIL, r.reason
    assert r.scope.tenant == "harbor-pay"
    assert uncovered(r) == [750]
    assert "2026-11-05T14:00:00Z" in r.reason
    assert start in indices(r)


def test_teleport_cluster_login_is_not_a_session(ev: Evidence) -> None:
    ev.one(teleport_cluster_login("2026-11-05T13:59:00Z", "tobias.r"))
    assert of(assess(ev), SESSIONS, principal="tobias.r") == []


def test_sudo_and_su_to_root_outside_a_grant_fail(ev: Evidence) -> None:
    ev.add(
        sudo("priv.switch", "2026-11-10T14:00:00Z", "tobias.r", "hp-ledger-01", "01J9-sudo-a"),
        sudo("session.end", "2026-11-10T14:05:00Z", "tobias.r", "hp-ledger-01", "01J9-sudo-a"),
        su_root("2026-12-31T22:00:00Z", "piet.v", "lh-pacs-01", 8812),
    )
    a = assess(ev)
    r = the(a, SESSIONS, principal="tobias.r", asset="hp-ledger-01")
    assert r.status == FAIL, r.reason
    assert uncovered(r) == [300]
    su = the(a, SESSIONS, principal="piet.v", asset="lh-pacs-01")
    assert su.status == FAIL, su.reason
    assert su.scope.tenant == "lumen-health"
    assert "end not evidenced" in su.reason
    assert uncovered(su) == [7200]  # open until the as-of time


def test_sudo_inside_a_grant_passes(ev: Evidence) -> None:
    ev.add(
        grant(
            "hp-api-1",
            "tobias.r",
            "sofia.m",
            "hp-api-01",
            "2026-11-10T09:55:00Z",
            "2026-11-10T10:00:00Z",
            "2026-11-10T11:00:00Z",
        ),
        ssh_session("2026-11-10T10:05:00Z", "2026-11-10T10:40:00Z", "tobias.r", "hp-api-01", 4001),
        sudo("priv.switch", "2026-11-10T10:10:00Z", "tobias.r", "hp-api-01", "01J9-sudo-b"),
        sudo("session.end", "2026-11-10T10:20:00Z", "tobias.r", "hp-api-01", "01J9-sudo-b"),
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-api-01")
    assert r.status == PASS, r.reason
    assert session_count(r) in (None, 2)  # the login (account tobias) and the switch (root)


def test_one_ssh_login_seen_by_three_records_is_one_session(ev: Evidence) -> None:
    ev.add(
        # login 1 (sshd pid 4242): sshd, pam_unix and auditd each record its start and end
        ssh_logon("2026-11-12T09:00:00Z", "tobias.r", "om-encode-01", 4242),
        pam_session("session.start", "2026-11-12T09:00:00Z", "tobias.r", "om-encode-01", 4242),
        audit_session(
            "session.start", "2026-11-12T09:00:01Z", "tobias.r", "om-encode-01", 4242, "57"
        ),
        pam_session("session.end", "2026-11-12T09:20:00Z", "tobias.r", "om-encode-01", 4242),
        ssh_logoff("2026-11-12T09:20:00Z", "tobias.r", "om-encode-01", 4242),
        audit_session(
            "session.end", "2026-11-12T09:20:00Z", "tobias.r", "om-encode-01", 4242, "57"
        ),
        # login 2 (pid 5151), later the same day
        ssh_session(
            "2026-11-12T13:00:00Z", "2026-11-12T13:10:00Z", "tobias.r", "om-encode-01", 5151
        ),
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="om-encode-01")
    assert r.status == FAIL, r.reason
    assert r.scope.tenant == "orbit-media"
    assert session_count(r) in (None, 2)
    assert "2 sessions" in r.reason or "of 2" in r.reason
    assert uncovered(r) == [600, 1200]


def test_session_ends_at_the_latest_end_record(ev: Evidence) -> None:
    ev.add(
        ssh_logon("2026-11-12T09:00:00Z", "tobias.r", "om-encode-01", 4242),
        pam_session("session.end", "2026-11-12T09:19:59Z", "tobias.r", "om-encode-01", 4242),
        ssh_logoff("2026-11-12T09:20:00Z", "tobias.r", "om-encode-01", 4242),
        audit_session(
            "session.end", "2026-11-12T09:20:05Z", "tobias.r", "om-encode-01", 4242, "57"
        ),
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="om-encode-01")
    assert r.status == FAIL, r.reason
    assert uncovered(r) == [1205]  # 09:00:00 .. 09:20:05, the latest end sharing the pid


def test_session_without_an_end_record(ev: Evidence) -> None:
    ev.add(
        grant(
            "hp-late",
            "tobias.r",
            "ines.w",
            "hp-api-01",
            "2026-12-31T20:00:00Z",
            "2026-12-31T20:00:00Z",
            "2026-12-31T21:00:00Z",
        ),
        ssh_logon("2026-12-31T20:10:00Z", "tobias.r", "hp-api-01", 6060),
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-api-01")
    assert r.status == FAIL, r.reason
    assert "end not evidenced" in r.reason
    assert uncovered(r) == [10740]  # 21:01:00 .. the as-of time 2027-01-01T00:00:00Z


def test_session_named_by_the_asset_address(ev: Evidence) -> None:
    ev.add(
        ssh_logon(
            "2026-11-13T09:00:00Z",
            "tobias.r",
            "",
            7070,
            on=Target(asset="172.20.10.22", account="tobias"),
        ),
        ssh_logoff("2026-11-13T09:01:00Z", "tobias.r", "hp-api-01", 7070),
    )
    r = the(assess(ev), SESSIONS, principal="tobias.r", asset="hp-api-01")
    assert r.status == FAIL, r.reason
    assert uncovered(r) == [60]


def test_tenant_staff_need_no_grant_on_their_own_assets_only(ev: Evidence) -> None:
    ev.add(
        ssh_session("2026-11-14T09:00:00Z", "2026-11-14T09:30:00Z", "lars.h", "hp-api-01", 901),
        ssh_session("2026-11-14T10:00:00Z", "2026-11-14T10:10:00Z", "lars.h", "lh-pacs-01", 902),
    )
    a = assess(ev)
    assert the(a, SESSIONS, principal="lars.h", asset="hp-api-01").status == PASS
    other = the(a, SESSIONS, principal="lars.h", asset="lh-pacs-01")
    assert other.status == FAIL, other.reason
    assert other.scope.tenant == "lumen-health"
    assert uncovered(other) == [600]


def test_unresolved_user_is_named_unresolved(ev: Evidence) -> None:
    ev.add(
        ssh_session(
            "2026-11-20T03:00:00Z", "2026-11-20T03:05:00Z", None, "hp-api-01", 666, user="mallory"
        )
    )
    r = the(assess(ev), SESSIONS, principal="unresolved: mallory", asset="hp-api-01")
    assert r.status == FAIL, r.reason
    assert "unresolved: mallory" in r.reason
    assert "?mallory" not in r.reason
    assert uncovered(r) == [300]


def test_break_glass_account_only_on_its_assets(ev: Evidence) -> None:
    ev.add(
        ssh_session(
            "2026-11-14T02:00:00Z", "2026-11-14T02:20:00Z", None, "jump-fra", 701, user="sos-root"
        ),
        ssh_session(
            "2026-11-14T02:30:00Z",
            "2026-11-14T02:40:00Z",
            None,
            "hp-ledger-01",
            702,
            user="sos-root",
        ),
    )
    a = assess(ev)
    ok = the(a, SESSIONS, principal="unresolved: sos-root", asset="jump-fra")
    assert ok.status == PASS, ok.reason
    bad = the(a, SESSIONS, principal="unresolved: sos-root", asset="hp-ledger-01")
    assert bad.status == FAIL, bad.reason
    assert uncovered(bad) == [600]
    # only the jump host login is a break-glass use
    assert [r.scope.asset for r in of(a, BREAKGLASS)] == ["jump-fra"]


# -- grants: self-approval, accountable approver, override, duration -----------------------------


@pytest.mark.parametrize(("extra", "status"), [(0, PASS), (1, FAIL)])
def test_grant_of_exactly_the_maximum_and_one_second_over(
    ev: Evidence, extra: int, status: str
) -> None:
    t = "2026-11-04T08:00:00Z"  # requested and approved in the same second
    ev.add(grant("hp-api-2h", "tobias.r", "ines.w", "hp-api-01", t, t, at(t, 7200 + extra)))
    r = the(assess(ev), DURATION, principal="tobias.r", asset="hp-api-01")
    assert r.status == status, r.reason
    if status == FAIL:
        assert "hp-api-2h" in r.reason


def test_self_approved_grant_fails(ev: Evidence) -> None:
    t = "2026-11-04T08:00:00Z"
    own = ev.add(grant("om-self", "ines.w", "ines.w", "om-encode-01", t, t, at(t, 3600)))
    ev.add(grant("lh-ok", "ines.w", "sofia.m", "lh-pacs-01", t, t, at(t, 3600)))
    a = assess(ev)
    bad = the(a, SELF, principal="ines.w", asset="om-encode-01")
    assert bad.status == FAIL
    assert "om-self" in bad.reason
    assert set(indices(bad)) == set(own)
    assert the(a, SELF, principal="ines.w", asset="lh-pacs-01").status == PASS


def test_grant_approved_by_a_crypto_officer_is_not_accountable(ev: Evidence) -> None:
    t = "2026-11-05T08:00:00Z"
    ev.add(
        grant("hp-karl", "tobias.r", "karl.b", "hp-ledger-01", t, t, at(t, 3600)),
        grant("hp-sofia", "tobias.r", "sofia.m", "hp-api-01", t, t, at(t, 3600)),
    )
    a = assess(ev)
    bad = the(a, ACCOUNTABLE, principal="tobias.r", asset="hp-ledger-01")
    assert bad.status == FAIL
    assert "karl.b" in bad.reason
    assert "privileged-access" in bad.reason
    assert the(a, ACCOUNTABLE, principal="tobias.r", asset="hp-api-01").status == PASS


def test_admin_override_without_review_fails(ev: Evidence) -> None:
    t = "2026-11-05T08:00:00Z"
    ev.add(
        grant("lh-force", "tobias.r", "ines.w", "lh-pacs-01", t, t, at(t, 3600), reviewed=False),
        grant("om-reviewed", "tobias.r", "ines.w", "om-encode-01", t, t, at(t, 3600)),
    )
    a = assess(ev)
    bad = the(a, OVERRIDE, principal="tobias.r", asset="lh-pacs-01")
    assert bad.status == FAIL
    assert "lh-force" in bad.reason
    assert the(a, OVERRIDE, principal="tobias.r", asset="om-encode-01").status == PASS


# -- break-glass reviews (24 h) -------------------------------------------------------------------

BG_LOGIN = "2026-11-14T02:00:00Z"


@pytest.mark.parametrize(("delay", "status"), [(86400, PASS), (86401, FAIL)])
def test_break_glass_review_at_the_deadline(ev: Evidence, delay: int, status: str) -> None:
    login = ev.one(ssh_logon(BG_LOGIN, None, "jump-fra", 701, user="sos-root"))
    ev.one(ssh_logoff("2026-11-14T02:20:00Z", None, "jump-fra", 701, user="sos-root"))
    ev.one(breakglass_review(at(BG_LOGIN, delay), login, "sofia.m"))
    r = the(assess(ev), BREAKGLASS, asset="jump-fra")
    assert r.status == status, r.reason
    assert login in indices(r)
    if status == FAIL:
        assert "2026-11-15T02:00:00Z" in r.reason  # due, to the second


@pytest.mark.parametrize(
    ("by", "reviewer", "status"),
    [
        (None, "piet.v", FAIL),  # the partner holds neither R nor A for emergency-access
        ("tobias.r", "tobias.r", FAIL),  # Responsible, but reviewing his own break-glass use
        ("tobias.r", "sofia.m", PASS),
        (None, "tobias.r", PASS),  # Responsible; the session is not his
    ],
)
def test_break_glass_reviewer_must_be_responsible_and_independent(
    ev: Evidence, by: str | None, reviewer: str, status: str
) -> None:
    # tobias.r logs in as sos-root with his SSH certificate: the break-glass use is his
    login = ev.one(
        ssh_logon(
            BG_LOGIN, by, "jump-fra", 701, user="sos-root",
            actor_user="tobias.r" if by else "sos-root",
        )
    )  # fmt: skip
    review = ev.one(breakglass_review("2026-11-14T09:00:00Z", login, reviewer))
    r = the(assess(ev), BREAKGLASS, asset="jump-fra")
    assert r.status == status, r.reason
    if status == FAIL:
        assert reviewer in r.reason
        assert review in indices(r)


# -- tenant keys -----------------------------------------------------------------------------------


def test_own_tenant_use_passes_and_cross_tenant_use_fails(ev: Evidence) -> None:
    ev.add(
        key_use("2026-11-07T10:00:00Z", "svc-hp-ledger", "hp-ledger-key"),
        key_use("2026-11-07T10:00:01Z", "svc-om-transcode", "lh-phi-key", "decrypt"),
    )
    a = assess(ev)
    assert the(a, KEY_USE, principal="svc-hp-ledger", key="hp-ledger-key").status == PASS
    bad = the(a, KEY_USE, principal="svc-om-transcode", key="lh-phi-key")
    assert bad.status == FAIL
    assert bad.scope.tenant == "lumen-health"
    assert "lh-phi-key" in bad.reason


def test_crypto_officer_authorized_by_role_for_one_tenant_only(ev: Evidence) -> None:
    ev.add(
        key_use("2026-11-20T10:00:00Z", "karl.b", "lh-phi-key", "rewrap"),
        key_use("2026-11-20T10:05:00Z", "karl.b", "hp-ledger-key", "rewrap"),
    )
    a = assess(ev)
    ok = the(a, KEY_USE, principal="karl.b", key="lh-phi-key")
    assert ok.status == PASS, ok.reason
    bad = the(a, KEY_USE, principal="karl.b", key="hp-ledger-key")
    assert bad.status == FAIL
    assert bad.scope.tenant == "harbor-pay"


@pytest.mark.parametrize(
    ("time", "status"),
    [
        ("2026-11-03T10:00:00Z", PASS),
        ("2026-11-06T17:59:59Z", PASS),  # the last second of the authorization
        ("2026-11-09T10:00:00Z", FAIL),  # after it
        ("2026-11-01T10:00:00Z", FAIL),  # before it
    ],
)
def test_partner_explicitly_authorized_for_one_key(ev: Evidence, time: str, status: str) -> None:
    ev.one(key_use(time, "piet.v", "om-media-key", "sign"))
    r = the(assess(ev), KEY_USE, principal="piet.v", key="om-media-key")
    assert r.status == status, r.reason
    assert r.scope.tenant == "orbit-media"


def test_partner_authorization_names_one_key_not_the_others(ev: Evidence) -> None:
    ev.one(key_use("2026-11-03T10:00:00Z", "piet.v", "hp-ledger-key", "sign"))
    assert the(assess(ev), KEY_USE, principal="piet.v", key="hp-ledger-key").status == FAIL


def test_key_use_by_a_principal_absent_from_the_inventory(ev: Evidence) -> None:
    use = ev.one(key_use("2026-11-07T10:00:00Z", "erik.s", "hp-card-kms", "decrypt"))
    a = assess(ev)  # must not raise
    r = the(a, KEY_USE, principal="erik.s", key="hp-card-kms")
    assert r.status == FAIL
    assert r.scope.tenant == "harbor-pay"
    assert "not in the inventory" in r.reason
    assert use in indices(r)


# -- key rotation (180 d, snapshots every 30 d) ----------------------------------------------------


@pytest.mark.parametrize(
    ("created", "status"),
    [
        ("2026-07-05T00:00:00Z", PASS),  # exactly 180 days before the as-of time
        ("2026-07-04T23:59:59Z", FAIL),  # one second more
    ],
)
def test_rotation_at_the_limit(ev: Evidence, created: str, status: str) -> None:
    snap = ev.one(key_state("2026-12-20T00:00:00Z", "hp-ledger-key", created))
    r = the(assess(ev), ROTATION, key="hp-ledger-key")
    assert r.status == status, r.reason
    assert r.scope.tenant == "harbor-pay"
    assert snap in indices(r)


def test_snapshot_from_before_the_period_stale_then_overdue(ev: Evidence) -> None:
    ev.add(
        key_state("2026-09-25T00:00:00Z", "om-media-key", "2026-08-01T00:00:00Z"),
        key_state("2026-09-10T00:00:00Z", "lh-phi-key", "2026-08-01T00:00:00Z"),
    )
    # judged on 2026-10-15: the om-media-key snapshot is due 2026-10-25, not yet passed
    early = assess(ev, now="2026-10-15T00:00:00Z")
    assert the(early, ROTATION, key="om-media-key").status == STALE
    # the lh-phi-key snapshot was due 2026-10-10: overdue by then already
    overdue = the(early, ROTATION, key="lh-phi-key")
    assert overdue.status == FAIL, overdue.reason
    assert "due" in overdue.reason
    assert "2026-10-10" in overdue.reason
    # at the end of the quarter both are overdue
    late = assess(ev)
    for key, due in (("om-media-key", "2026-10-25"), ("lh-phi-key", "2026-10-10")):
        r = the(late, ROTATION, key=key)
        assert r.status == FAIL, r.reason
        assert due in r.reason


# -- physical entry (Europe/Berlin, DST ends 2026-10-25) -------------------------------------------


@pytest.mark.parametrize(
    ("time", "status"),
    [
        ("2026-10-25T05:00:00Z", PASS),  # Sun 06:00 CET, the first minute of the window
        ("2026-10-25T04:59:00Z", FAIL),  # Sun 05:59 CET (06:59 had DST not ended)
        ("2026-10-24T04:00:00Z", PASS),  # Sat 06:00 CEST
        ("2026-10-24T03:59:00Z", FAIL),  # Sat 05:59 CEST
        ("2026-11-21T22:00:00Z", PASS),  # Sat 23:00 CET, inside maintenance window CHG-5133
    ],
)
def test_door_entry_on_the_dst_change_weekend(ev: Evidence, time: str, status: str) -> None:
    i = ev.one(badge(time, "piet.v"))
    r = the(assess(ev), DOORS, principal="piet.v", subject=DOOR)
    assert r.status == status, r.reason
    assert i in indices(r)
    if status == FAIL:
        assert time[:10] in r.reason


# -- waivers and the control roll-up ---------------------------------------------------------------


def test_waiver_by_the_accountable_party_waives_and_control_has_exceptions(
    ev: Evidence,
) -> None:
    ev.one(badge("2026-11-11T22:30:00Z", "tobias.r"))  # Wed 23:30 CET
    a = assess(ev)
    r = the(a, DOORS, principal="tobias.r", subject=DOOR)
    assert r.status == WAIVED, r.reason
    assert r.waiver is not None
    assert r.waiver.id == "W-CAGE-1"
    for ref in ("iso27001-2022:a.7.2", "soc2:cc6.4", "pci-dss-4.0.1:9.2.1"):
        assert control(a, ref).status == "satisfied-with-exceptions", ref


def test_waiver_approved_by_the_person_it_covers_is_not_valid(ev: Evidence) -> None:
    ev.one(badge("2026-11-11T22:30:00Z", "ines.w"))
    a = assess(ev)
    r = the(a, DOORS, principal="ines.w", subject=DOOR)
    assert r.status == FAIL
    assert r.waiver is None
    assert "W-CAGE-2" in r.reason
    assert "not valid" in r.reason
    assert control(a, "iso27001-2022:a.7.2").status == "not-satisfied"


def test_waiver_approver_is_accountable_for_the_results_tenant(ev: Evidence) -> None:
    ev.add(
        key_use("2026-11-07T10:00:00Z", "svc-lh-imaging", "hp-ledger-key"),  # W-KEY-1: amara.h
        key_use("2026-11-07T10:00:00Z", "svc-lh-imaging", "om-media-key"),  # W-KEY-2: amara.h
        key_use("2026-11-07T10:00:00Z", "svc-hp-ledger", "lh-phi-key"),  # W-KEY-3: ines.w
    )
    a = assess(ev)
    ok = the(a, KEY_USE, principal="svc-lh-imaging", key="hp-ledger-key")
    assert ok.status == WAIVED, ok.reason
    assert ok.waiver is not None
    assert ok.waiver.approver == "amara.h"
    for principal, key, wid in (
        ("svc-lh-imaging", "om-media-key", "W-KEY-2"),
        ("svc-hp-ledger", "lh-phi-key", "W-KEY-3"),
    ):
        r = the(a, KEY_USE, principal=principal, key=key)
        assert r.status == FAIL, r.reason
        assert f"{wid} not valid" in r.reason or (wid in r.reason and "not valid" in r.reason)


def _probe_every_pair(ev: Evidence, reachable: tuple[str, str]) -> None:
    """One in-period run per vantage: every denied path blocked but ``reachable``; every
    allowed path reachable."""
    matrix = load_policies(MODEL).matrix
    segs = [s.id for s in INV.segments]
    for n, src in enumerate(segs):
        targets = []
        for dst in segs:
            if dst == src:
                continue
            verdict = "reachable" if (src, dst) == reachable else "blocked"
            targets.append((dst, "deny", verdict))
            if matrix.rule(src, dst) is not None:
                targets.append((dst, "allow", "reachable"))
        ev.add(probe_run(f"2026-11-02T0{n}:00:00Z", f"q4-{src}", src, targets))


@pytest.mark.parametrize("prefix", ["R-", "F-"])
def test_waiver_by_result_id_and_supported_with_exceptions(
    ev: Evidence, model: Path, prefix: str
) -> None:
    _probe_every_pair(ev, reachable=("seg-orbit", "seg-harbor"))
    first = assess(ev, model)
    bad = the(first, DENIED, segment="seg-orbit->seg-harbor")
    assert bad.status == FAIL, bad.reason
    assert bad.id.startswith("R-")
    assert control(first, "pci-dss-4.0.1:11.4.5").status == "not-satisfied"
    others = [r for r in of(first, DENIED) if r.id != bad.id]
    assert len(others) == 11
    assert {r.status for r in others} == {PASS}
    with (model / "waivers.yaml").open("a", encoding="utf-8") as f:
        f.write(
            "  - id: W-SEG-1\n"
            f"    result: {prefix}{bad.id[2:]}\n"
            "    approver: sofia.m\n"
            "    reason: firewall change CHG-5140 scheduled, compensating ACL on hp hosts\n"
            "    risk: high\n"
            "    effective: 2026-11-02T00:00:00Z\n"
            "    expires: 2027-02-01T00:00:00Z\n"
        )
    a = assess(ev, model)
    r = the(a, DENIED, segment="seg-orbit->seg-harbor")
    assert r.status == WAIVED, r.reason
    assert r.waiver is not None
    assert r.waiver.id == "W-SEG-1"
    assert control(a, "pci-dss-4.0.1:11.4.5").status == "supported-with-exceptions"


# -- segmentation: cadence 120 d, stale vs overdue ------------------------------------------------


def _segment_runs(ev: Evidence) -> Assessment:
    ev.add(
        # in the period
        probe_run("2026-11-02T03:00:00Z", "in-1", "seg-harbor", [("seg-lumen", "deny", "blocked")]),
        probe_run(
            "2026-11-02T03:10:00Z", "in-2", "seg-orbit", [("seg-harbor", "deny", "reachable")]
        ),
        probe_run(
            "2026-11-02T03:20:00Z",
            "in-3",
            "seg-lumen",
            [("seg-harbor", "allow", "reachable"), ("seg-harbor", "deny", "blocked")],
        ),
        # before the period
        probe_run("2026-09-15T03:00:00Z", "old-1", "seg-lumen", [("seg-orbit", "deny", "blocked")]),
        probe_run("2026-08-15T03:00:00Z", "old-2", "seg-orbit", [("seg-lumen", "deny", "blocked")]),
        probe_run(
            "2026-09-15T03:30:00Z", "old-3", "seg-harbor", [("seg-orbit", "deny", "reachable")]
        ),
        probe_run(
            "2026-09-15T04:00:00Z",
            "old-4",
            "seg-core",
            [("seg-lumen", "allow", "reachable"), ("seg-lumen", "deny", "blocked")],
        ),
    )
    return assess(ev)


def test_segmentation_runs_in_the_period(ev: Evidence) -> None:
    a = _segment_runs(ev)
    assert the(a, CADENCE, segment="seg-harbor->seg-lumen").status == PASS
    assert the(a, DENIED, segment="seg-harbor->seg-lumen").status == PASS
    bad = the(a, DENIED, segment="seg-orbit->seg-harbor")
    assert bad.status == FAIL
    assert "3389" in bad.reason
    assert the(a, ALLOWED, segment="seg-lumen->seg-harbor").status == PASS


def test_segmentation_cadence_stale_versus_overdue(ev: Evidence) -> None:
    a = _segment_runs(ev)
    # 2026-09-15 + 120 d = 2027-01-13, after the as-of time: stale, not failed
    for pair in ("seg-lumen->seg-orbit", "seg-harbor->seg-orbit", "seg-core->seg-lumen"):
        assert the(a, CADENCE, segment=pair).status == STALE, pair
    # 2026-08-15 + 120 d = 2026-12-13, before the as-of time: overdue
    overdue = the(a, CADENCE, segment="seg-orbit->seg-lumen")
    assert overdue.status == FAIL, overdue.reason
    assert "due" in overdue.reason
    assert "2026-12-13" in overdue.reason
    assert "2026-08-15" in overdue.reason


def test_segmentation_run_before_the_period(ev: Evidence) -> None:
    a = _segment_runs(ev)
    # a reachable denied path on the latest run fails, however old the run
    assert the(a, DENIED, segment="seg-harbor->seg-orbit").status == FAIL
    # blocked / reachable-as-allowed only before the period: stale (overdue cadence or not)
    for rule, pair in (
        (DENIED, "seg-lumen->seg-orbit"),
        (DENIED, "seg-orbit->seg-lumen"),
        (DENIED, "seg-core->seg-lumen"),
        (ALLOWED, "seg-core->seg-lumen"),
    ):
        r = the(a, rule, segment=pair)
        assert r.status == STALE, (rule, pair, r.status, r.reason)


# -- access reviews (90 d; reviewer holds R or A for access-recertification) ----------------------


@pytest.mark.parametrize(
    ("reviewer", "subjects", "status"),
    [
        ("sofia.m", ["tobias.r", "piet.v"], PASS),
        ("tobias.r", ["piet.v"], FAIL),  # platform-ops: neither R nor A
        ("ines.w", ["ines.w", "tobias.r"], FAIL),  # reviews her own access
    ],
)
def test_access_review_counts_only_by_an_independent_responsible(
    ev: Evidence, reviewer: str, subjects: list[str], status: str
) -> None:
    i = ev.one(access_review("2026-12-01T00:00:00Z", reviewer, subjects))
    a = assess(ev)
    rs = of(a, REVIEW)
    assert rs, "no access review result"
    assert {r.status for r in rs} == {status}, [r.reason for r in rs]
    assert any(i in indices(r) for r in rs)
    expected = "satisfied" if status == PASS else "not-satisfied"
    assert control(a, "pci-dss-4.0.1:7.2.4").status == expected


def test_access_review_stale_then_overdue(ev: Evidence) -> None:
    ev.one(access_review("2026-09-01T00:00:00Z", "sofia.m", ["tobias.r"]))
    # judged 2026-11-15: due 2026-11-30, not passed -> stale
    early = assess(ev, now="2026-11-15T00:00:00Z")
    assert {r.status for r in of(early, REVIEW)} == {STALE}
    assert control(early, "pci-dss-4.0.1:7.2.4").status == "not-evaluated"
    # judged at the end of the quarter: overdue
    late = assess(ev)
    rs = of(late, REVIEW)
    assert {r.status for r in rs} == {FAIL}
    assert all("due" in r.reason and "2026-11-30" in r.reason for r in rs)


def test_access_review_long_overdue(ev: Evidence) -> None:
    ev.one(access_review("2026-07-01T00:00:00Z", "sofia.m", ["tobias.r"]))
    rs = of(assess(ev), REVIEW)
    assert {r.status for r in rs} == {FAIL}
    assert all("2026-07-01" in r.reason and "2026-09-29" in r.reason for r in rs)


# -- RACI ------------------------------------------------------------------------------------------


def test_star_row_with_a_tenant_side_accountable_that_has_members(ev: Evidence) -> None:
    a = assess(ev)
    rows = of(a, RACI, activity="tenant-key-approval")
    assert rows
    assert {r.status for r in rows} == {PASS}, [r.reason for r in rows]
    assert {r.status for r in of(a, RACI)} == {PASS}
    # the harbor-pay row of os-maintenance is its own result
    assert the(a, RACI, activity="os-maintenance", tenant="harbor-pay").status == PASS


def test_star_row_fails_for_a_tenant_without_a_member(ev: Evidence, model: Path) -> None:
    edit(
        model / "inventory.yaml",
        "    tenant: orbit-media\n    roles: [tenant-ciso]",
        "    tenant: orbit-media\n    roles: [tenant-auditor]",
    )
    rows = of(assess(ev, model), RACI, activity="tenant-key-approval")
    bad = [r for r in rows if r.status == FAIL]
    assert bad, [r.reason for r in rows]
    assert any("orbit-media" in r.reason for r in bad)
    assert any("raci.yaml:" in r.reason for r in bad)
    assert all(str(model) not in r.reason for r in rows)


def test_practice_follows_the_tenant_row(ev: Evidence) -> None:
    ok = ev.one(command("2026-11-08T10:00:00Z", "lars.h", "hp-api-01", "dnf upgrade -y"))
    bad = ev.one(command("2026-11-08T11:00:00Z", "piet.v", "hp-api-01", "zypper patch"))
    ev.one(command("2026-11-08T12:00:00Z", "piet.v", "lh-pacs-01", "zypper patch"))
    a = assess(ev)
    good = the(a, PRACTICE, activity="os-maintenance", principal="lars.h")
    assert good.status == PASS
    assert indices(good) == [ok]
    r = the(a, PRACTICE, activity="os-maintenance", principal="piet.v")
    assert r.status == FAIL
    assert indices(r) == [bad]
    assert "hp-api-01" in r.reason


# -- the evidence itself ---------------------------------------------------------------------------


def test_source_gap_and_forged_identity(ev: Evidence) -> None:
    ev.one(ssh_logon("2026-11-09T00:00:00Z", "lars.h", "hp-api-01", 10))
    gap = ev.one(
        event(
            "audit.pipeline",
            "2026-11-09T01:00:00Z",
            outcome="failure",
            source="syslog",
            attrs={"reason": "rsyslog queue overflow"},
        )
    )
    ev.log.append([], quarantine=_quarantine("journald", "forged _COMM identity"))
    a = assess(ev)
    r = the(a, GAPLESS, subject="source:syslog")
    assert r.status == FAIL
    assert indices(r) == [gap]
    assert the(a, FORGED, subject="source:journald").status == FAIL
    assert the(a, SEALED).status == NOT_EVALUATED  # no verifier given


# -- the tenant view -------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["harbor-pay", "lumen-health"])
def test_tenant_view_never_says_no_rule_maps_a_mapped_control(ev: Evidence, tenant: str) -> None:
    ev.add(
        key_use("2026-11-07T10:00:00Z", "svc-hp-ledger", "hp-ledger-key"),
        key_use("2026-11-07T10:00:00Z", "svc-lh-imaging", "lh-phi-key"),
    )
    p = load_policies(MODEL)
    a = assess(ev, p, tenant=tenant)
    mapped = {ref for rule in p.rules.rules for ref in rule.controls}
    for c in a.controls:
        if f"{c.framework}:{c.control}" in mapped:
            assert "no automated rule maps" not in (c.note or ""), (c.framework, c.control)
    # door entries are site-wide results the tenant does not see
    assert control(a, "iso27001-2022:a.7.2").status == "not-evaluated"
    # the tenant's own key use
    assert control(a, "pci-dss-4.0.1:A1.1.3").status == "satisfied"
    raci = control(a, "iso27001-2022:a.5.2")
    if tenant == "harbor-pay":  # its own os-maintenance row is evidence of its own
        assert raci.status == "satisfied", raci.note
    else:  # only the '*' rows, site-wide results
        assert raci.status == "not-evaluated"
        assert "no evidence of" in (raci.note or "")
        assert tenant in (raci.note or "") or "tenant" in (raci.note or "")


# -- load errors (exit 2, file:line) ---------------------------------------------------------------


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_rule_naming_an_unknown_activity(model: Path) -> None:
    rules = model / "rules.yaml"
    edit(
        rules,
        "    check: physical.windows\n    activity: site-security",
        "    check: physical.windows\n    activity: site-secruity",
    )
    with pytest.raises(EdgeauditError) as exc:
        load_policies(model)
    assert exc.value.exit_code == 2
    msg = str(exc.value)
    assert "site-secruity" in msg
    assert re.search(r"rules\.yaml:\d+", msg), msg


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        (
            "{principal: piet.v, key: om-media-key,",
            "{principal: piet.vv, key: om-media-key,",
            "piet.vv",
        ),
        (
            "{principal: piet.v, key: om-media-key,",
            "{principal: piet.v, key: om-media-kee,",
            "om-media-kee",
        ),
        (
            "{role: crypto-officer, tenant: lumen-health,",
            "{role: crypto-officer, tenant: lumen-heath,",
            "lumen-heath",
        ),
    ],
)
def test_authorization_naming_an_unknown_name(model: Path, old: str, new: str, name: str) -> None:
    rules = model / "rules.yaml"
    edit(rules, old, new)
    line = _line_of(rules, name)
    with pytest.raises(EdgeauditError) as exc:
        load_policies(model)
    assert exc.value.exit_code == 2
    msg = str(exc.value)
    assert name in msg
    assert f"rules.yaml:{line}" in msg, msg


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        (
            "scope: {tenant: harbor-pay, principal: svc-lh-imaging}",
            "scope: {tenant: harbour-pay, principal: svc-lh-imaging}",
            "harbour-pay",
        ),
        (
            "scope: {principal: tobias.r, subject: fra-cage-3}",
            "scope: {principal: tobias.k, subject: fra-cage-3}",
            "tobias.k",
        ),
        (
            "scope: {tenant: orbit-media, principal: svc-lh-imaging}",
            "scope: {key: om-media-keys, principal: svc-lh-imaging}",
            "om-media-keys",
        ),
        (
            "scope: {principal: ines.w}",
            "scope: {principal: ines.w, asset: lh-pacs-02}",
            "lh-pacs-02",
        ),
        (
            "scope: {principal: ines.w}",
            "scope: {principal: ines.w, segment: seg-harbr}",
            "seg-harbr",
        ),
    ],
)
def test_waiver_scope_naming_an_unknown_name(model: Path, old: str, new: str, name: str) -> None:
    waivers = model / "waivers.yaml"
    edit(waivers, old, new)
    line = _line_of(waivers, name)
    with pytest.raises(EdgeauditError) as exc:
        load_policies(model)
    assert exc.value.exit_code == 2
    msg = str(exc.value)
    assert name in msg
    # the line of the scope (or of the waiver entry holding it)
    found = re.search(r"waivers\.yaml:(\d+)", msg)
    assert found, msg
    assert line - 3 <= int(found.group(1)) <= line, msg
