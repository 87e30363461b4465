"""Who logs on and how: shared and generic accounts, the logon method, partners' sessions inside
their tenants' maintenance windows. All three judge the sessions of ``_sessions`` (logons on
inventory assets); a switch to another account (``sudo -i``) is not a logon."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edgeaudit.collect.inventory import Inventory
from edgeaudit.policy.checks._common import MAX_PASS_CITATIONS, cite, plural, reviewer_problem
from edgeaudit.policy.checks._sessions import Session, covered_seconds, describe, sessions
from edgeaudit.policy.checks.physical import parse_window
from edgeaudit.policy.checks.physical_alarms import is_console
from edgeaudit.policy.context import Context, Ev, epoch, when
from edgeaudit.policy.model import FAIL, NOT_EVALUATED, PASS, Outcome, Scope
from edgeaudit.policy.registry import Param, check

WINDOW_KIND = "maintenance.window"
CONSOLE_SERVICES = frozenset({"login"})


def logons(ctx: Context) -> list[Session]:
    """Sessions that are logons (no switch to another account)."""
    return [s for s in sessions(ctx) if s.action == "admin.session"]


def _scope(ctx: Context, s: Session, subject: str | None = None) -> Scope:
    return Scope(
        tenant=ctx.tenant_of(ctx.owner_of_asset(s.asset)),
        asset=s.asset,
        principal=s.principal,
        subject=subject,
    )


def _reviewed_breakglass(ctx: Context, s: Session) -> Ev | None:
    """A ``review.breakglass`` of one of the session's entries by someone who may review it."""
    if not ctx.inventory.is_break_glass(s.account, s.asset):
        return None
    by_entry = ctx.memo("access.breakglass_reviews", lambda: _reviews(ctx))
    for e in s.evidence():
        for r in by_entry.get(e.key, ()):
            if reviewer_problem(ctx, r.rec.get("reviewer"), {s.principal}, s.asset) is None:
                return r
    return None


def _reviews(ctx: Context) -> dict[tuple[str, int], list[Ev]]:
    # a review names an entry of its own log
    out: dict[tuple[str, int], list[Ev]] = defaultdict(list)
    for ev in ctx.events("review.breakglass"):
        entry = ev.rec.get("entry")
        if isinstance(entry, int) and not isinstance(entry, bool):
            out[(ev.key[0], entry)].append(ev)
    return out


def _generic(ctx: Context, s: Session, accounts: frozenset[str], services: bool) -> str | None:
    """Why the session's account is shared or generic (None when it is personal)."""
    if s.account in accounts:
        return f"generic account {s.account}"
    p = ctx.inventory.principal(s.principal)
    if p is not None and p.shared:
        return f"account {s.account} of {p.id}, marked shared in the inventory"
    if p is not None and services and p.type == "service":
        return f"account {s.account} of service principal {p.id}"
    shared = ctx.memo("access.shared_unix", lambda: _shared_unix(ctx.inventory))
    if s.account in shared:
        return f"account {s.account} of {shared[s.account]}, marked shared in the inventory"
    if ctx.inventory.is_break_glass(s.account, s.asset):
        return f"break-glass account {s.account}"
    return None


def _shared_unix(inv: Inventory) -> dict[str, str]:
    return {
        ident: p.id
        for p in inv.principals
        if p.shared
        for kind, ident in p.identities
        if kind == "unix"
    }


@check(
    "access.shared_accounts",
    "No interactive logon as a shared or generic account, unless a reviewed break-glass use",
    ("ADM",),
    accounts=Param(
        "texts",
        ("root", "admin", "administrator", "ubuntu", "ec2-user", "centos", "debian", "pi"),
        "generic account names (besides accounts of principals marked shared)",
    ),
    service_principals=Param("bool", True, "an interactive logon of a service principal fails"),
)
def shared_accounts(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    accounts = frozenset(params["accounts"])
    services = bool(params["service_principals"])
    groups: dict[Scope, list[tuple[Session, str, Ev | None]]] = defaultdict(list)
    personal = 0
    judged: list[Session] = []
    for s in logons(ctx):
        why = _generic(ctx, s, accounts, services)
        judged.append(s)
        if why is None:
            personal += 1
            continue
        groups[_scope(ctx, s, f"account {s.account}")].append(
            (s, why, _reviewed_breakglass(ctx, s))
        )
    for scope, items in groups.items():
        bad = [(s, why) for s, why, review in items if review is None]
        evs = [e for s, _, r in items for e in (*s.evidence(), *([r] if r else []))]
        if bad:
            s, why = bad[0]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'interactive logon')} as {why} on {s.asset} by "
                f"{s.principal}, first at {when(s.start)}, not a reviewed break-glass use",
                cite(e for s, _ in bad for e in s.evidence()),
                (("logons", [when(s.start) for s, _ in bad]),),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'break-glass logon')} as {scope.subject}, each reviewed",
                cite(evs),
            )
    if not judged:
        yield Outcome(Scope(subject="logons"), NOT_EVALUATED, "no logon session in the period")
    elif personal:
        yield Outcome(
            Scope(subject="personal accounts"),
            PASS,
            f"{plural(personal, 'logon session')} as personal accounts",
            cite((e for s in judged for e in s.records[:1]), MAX_PASS_CITATIONS),
        )


def method_of(ev: Ev) -> str | None:
    """The logon method a record states, in the policy's words: ``publickey``,
    ``certificate`` (an SSH certificate, a Teleport node session), ``password``,
    ``keyboard-interactive``, ...; None when the record does not say."""
    if ev.rec.get("source") == "teleport" and ev.kind == "session.start":
        return "certificate"  # Teleport reaches nodes with short-lived SSH certificates
    method = ev.get("attrs", "method")
    if not isinstance(method, str) or not method:
        return None
    method = method.lower()
    if method == "publickey" and ev.get("attrs", "cert_id"):
        return "certificate"
    return method.split("/", 1)[0]


@check(
    "access.logon_strength",
    "Remote admin logons use a key, a certificate or MFA, not a password",
    ("ADM",),
    allowed=Param(
        "texts",
        ("publickey", "certificate", "mfa", "webauthn", "gssapi-with-mic"),
        "logon methods the policy accepts",
    ),
    exempt_break_glass=Param("bool", True, "break-glass accounts may use a password"),
)
def logon_strength(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    allowed = frozenset(m.lower() for m in params["allowed"])
    exempt = bool(params["exempt_break_glass"])
    groups: dict[Scope, list[tuple[Session, frozenset[str]]]] = defaultdict(list)
    for s in logons(ctx):
        if exempt and ctx.inventory.is_break_glass(s.account, s.asset):
            continue
        if is_console(s, ctx, CONSOLE_SERVICES):
            continue  # at the machine: the console-after-badge-entry rule's part
        methods = frozenset(m for m in map(method_of, s.records) if m is not None)
        groups[_scope(ctx, s)].append((s, methods))
    for scope, items in groups.items():
        weak = [(s, ms) for s, ms in items if ms - allowed]
        unknown = [s for s, ms in items if not ms]
        if weak:
            s, ms = weak[0]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(weak), 'logon')} of {s.principal} on {s.asset} by "
                f"{', '.join(sorted(ms - allowed))} (the policy accepts "
                f"{', '.join(sorted(allowed))}), first at {when(s.start)}",
                cite(e for s, _ in weak for e in s.records),
            )
        elif unknown:
            yield Outcome(
                scope,
                NOT_EVALUATED,
                f"{plural(len(unknown), 'logon')} of {scope.principal} on {scope.asset} whose "
                f"sources do not record the method ({', '.join(unknown[0].sources)})"
                + (f"; {len(items) - len(unknown)} by accepted methods" if len(items) > 1 else ""),
                cite(e for s in unknown for e in s.records),
            )
        else:
            used = sorted({m for _, ms in items for m in ms})
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'logon')} of {scope.principal} on {scope.asset}, all by "
                f"{', '.join(used)}",
                cite((e for s, _ in items for e in s.records), MAX_PASS_CITATIONS),
            )


def _check_windows(ws: tuple[Mapping[str, str], ...]) -> None:
    for w in ws:
        extra = set(w) - {"tenant", "from", "to", "weekly", "reason"}
        if extra or "tenant" not in w or (("weekly" in w) == ({"from", "to"} <= set(w))):
            raise ValueError(
                "each window needs a tenant (or shared) and either from and to (UTC) or "
                f"weekly (e.g. 'Sat 00:00-06:00', site time), optional reason: {w}"
            )
        if "weekly" in w:
            parse_window(w["weekly"])
        elif epoch(w["to"]) <= epoch(w["from"]):
            raise ValueError(f"window ends before it starts: {w}")


def _window_tenant(w: Mapping[str, str], inv: Inventory) -> None:
    if w["tenant"] != "shared" and w["tenant"] not in inv.tenant_ids:
        raise ValueError(f"unknown tenant {w['tenant']!r}")


@check(
    "access.partner_windows",
    "Partner sessions happen inside the approved maintenance windows of the asset's tenant",
    ("ADM",),
    windows=Param(
        "records",
        (),
        "standing windows: {tenant (or shared), from, to (UTC) | weekly (site time), reason}",
        _check_windows,
        _window_tenant,
    ),
    orgs=Param("texts", ("partner",), "whose sessions are checked (inventory org)"),
)
def partner_windows(ctx: Context, params: Mapping[str, Any]) -> Iterator[Outcome]:
    """Windows are the rule's standing ones and the ``maintenance.window`` records (``tenant``,
    ``from``, ``to``, ``approver``, ``reason``) approved by the tenant's own staff or by a
    principal holding R or A for the rule's activity; others are cited and not counted."""
    orgs = set(params["orgs"])
    horizon = min(ctx.end, ctx.as_of)
    approved, refused = _approved_windows(ctx)
    weekly: dict[str, list[str]] = defaultdict(list)
    fixed: dict[str, list[tuple[float, float, Ev | None]]] = defaultdict(list)
    for w in params["windows"]:
        if "weekly" in w:
            weekly[w["tenant"]].append(w["weekly"])
        else:
            fixed[w["tenant"]].append((epoch(w["from"]), epoch(w["to"]), None))
    for owner, spans_of in approved.items():
        fixed[owner].extend(spans_of)
    groups: dict[Scope, list[Session]] = defaultdict(list)
    every = sessions(ctx)
    for s in every:
        p = ctx.inventory.principal(s.principal)
        if p is not None and p.org in orgs:
            groups[_scope(ctx, s)].append(s)
    if every and not groups:
        yield Outcome(
            Scope(subject="partner sessions"),
            PASS,
            f"no session of a {' / '.join(sorted(orgs))} principal among "
            f"{plural(len(every), 'session')}",
            cite((e for s in every for e in s.records[:1]), MAX_PASS_CITATIONS),
        )
    for scope, items in groups.items():
        owner = ctx.owner_of_asset(scope.asset) or "shared"
        spans = list(fixed.get(owner, ()))
        bad: list[tuple[Session, float]] = []
        used: list[Ev] = []
        for s in items:
            end = s.end(horizon)
            windows = [*(_weekly(ctx, w, s.start, end) for w in weekly.get(owner, ()))]
            inside = covered_seconds(
                s.start, end, [(lo, hi) for lo, hi, _ in spans] + [x for ws in windows for x in ws]
            )
            missing = (end - s.start) - inside
            used.extend(e for lo, hi, e in spans if e is not None and lo < end and hi > s.start)
            if missing > 0 or (end == s.start and inside == 0 and not _at(spans, s.start)):
                bad.append((s, missing))
        note = "; ".join(f"{when(r.t)}: {why}" for r, why in refused.get(owner, [])[:3])
        note = f" (windows not counted: {note})" if note else ""
        if bad:
            s, missing = bad[0]
            yield Outcome(
                scope,
                FAIL,
                f"{plural(len(bad), 'session')} of partner {s.principal} on {s.asset} outside "
                f"the approved maintenance windows of {owner}: the first at {when(s.start)}, "
                f"{describe(missing)} outside{note}",
                cite([*(e for s, _ in bad for e in s.evidence()), *used]),
                (("outside_s", round(sum(m for _, m in bad), 3)),),
            )
        else:
            yield Outcome(
                scope,
                PASS,
                f"{plural(len(items), 'session')} of partner {scope.principal} on {scope.asset}, "
                f"all inside approved maintenance windows of {owner}{note}",
                cite([*(e for s in items for e in s.evidence()), *used]),
            )


def _at(spans: list[tuple[float, float, Ev | None]], t: float) -> bool:
    return any(lo <= t <= hi for lo, hi, _ in spans)


def _weekly(ctx: Context, text: str, start: float, end: float) -> list[tuple[float, float]]:
    """The occurrences of a weekly site-time window between ``start`` and ``end``."""
    days, lo, hi = parse_window(text)
    zone = ZoneInfo(ctx.inventory.timezone or "UTC")
    day = datetime.fromtimestamp(start, UTC).astimezone(zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, UTC).astimezone(zone).date()
    out = []
    while day <= last:
        if day.weekday() in days:
            base = datetime(day.year, day.month, day.day, tzinfo=zone)
            out.append(
                (
                    (base + timedelta(minutes=lo)).timestamp(),
                    (base + timedelta(minutes=hi)).timestamp(),
                )
            )
        day += timedelta(days=1)
    return out


def _approved_windows(
    ctx: Context,
) -> tuple[dict[str, list[tuple[float, float, Ev | None]]], dict[str, list[tuple[Ev, str]]]]:
    ok: dict[str, list[tuple[float, float, Ev | None]]] = defaultdict(list)
    refused: dict[str, list[tuple[Ev, str]]] = defaultdict(list)
    for ev in ctx.events(WINDOW_KIND, lookback=True):
        owner = ev.rec.get("tenant") or "shared"
        try:
            lo, hi = epoch(str(ev.rec.get("from"))), epoch(str(ev.rec.get("to")))
        except ValueError:
            refused[str(owner)].append((ev, "from / to are not RFC 3339 UTC times"))
            continue
        why = _approver_problem(ctx, ev.rec.get("approver"), str(owner))
        if why is None and hi <= lo:
            why = "the window ends before it starts"
        if why is None and ev.t >= hi:
            why = f"approved at {when(ev.t)}, after the window closed"
        if why is None:  # a window counts from its approval on
            ok[str(owner)].append((max(lo, ev.t), hi, ev))
        else:
            refused[str(owner)].append((ev, why))
    return ok, refused


def _approver_problem(ctx: Context, approver: object, owner: str) -> str | None:
    if not isinstance(approver, str) or not approver:
        return "the window names no approver"
    p = ctx.inventory.principal(approver)
    if p is None:
        return f"approver {approver} is not a principal of the inventory"
    if p.org == "tenant" and p.tenant == owner:
        return None
    activity = ctx.activity
    raci = ctx.raci
    if (
        raci is not None
        and activity is not None
        and any(raci.holds(p, letter, activity, owner) for letter in ("R", "A"))
    ):
        return None
    return f"{approver} is neither {owner}'s staff nor R or A for {activity!r}"
