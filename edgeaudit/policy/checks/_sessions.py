"""Privileged sessions rebuilt from the records of each access.

One SSH login today yields an ``auth.logon`` (sshd), a pam ``session.start`` and an auditd
``USER_START``; a Teleport session a ``session.start`` with its session id; a ``sudo -i`` a
``priv.switch``. A **session** is the records of one access: successful ``auth.logon``,
``session.start`` and ``priv.switch`` records on the same inventory asset and account that
share the source's session key (``actor.session``: auditd ``ses``, the Teleport or sudo session
id) or process id (``attrs.pid``: sshd's pid is the same in syslog, journald and auditd), or of
which one carries neither, starting within :data:`JOIN_WINDOW` seconds. Its end is the latest
of the first group of ``auth.logoff`` / ``session.end`` records (within :data:`JOIN_WINDOW` of
each other: pam, sshd and auditd each record the end) on the same asset and account sharing a
key (or, when the session carries no key, of the same account) at or after its start; with
none the session is open until the end of what the assessment can see (``min(period end,
as-of)``) and says so.

Records on hosts the inventory does not know are not sessions of this model (no owner, no
grant can name them); a Teleport cluster login (no target asset) is not a session on an asset.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from edgeaudit.policy.checks._common import text, who

if TYPE_CHECKING:
    from edgeaudit.policy.context import Context, Ev

OPEN_KINDS: Final = ("auth.logon", "session.start", "priv.switch")
END_KINDS: Final = ("auth.logoff", "session.end")
JOIN_WINDOW: Final = 10.0  # seconds between the first and a later record of one access


@dataclass
class Session:
    asset: str  # inventory hostname
    account: str
    principal: str  # who(): inventory id, an id the inventory lacks, or "unresolved: user"
    user: str  # the identity as the first record wrote it (the account sudo / su ran from)
    start: float
    records: list[Ev] = field(default_factory=list)
    origin: str = ""  # the log holding its records (a campus assessment; "" for one log)
    keys: set[tuple[str, str]] = field(default_factory=set)
    end_record: Ev | None = None

    @cached_property
    def action(self) -> str:
        """The Cedar action: ``priv.switch`` for a switch to another account (sudo, su),
        ``admin.session`` for a logon. Read once the session is built (checks ask for it often),
        then kept."""
        switch = any(r.rec.get("kind") == "priv.switch" for r in self.records)
        return "priv.switch" if switch else "admin.session"

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({text(r.rec.get("source"), "?") for r in self.records}))

    def end(self, horizon: float) -> float:
        """When the session ended, or ``horizon`` when its end is not evidenced."""
        if self.end_record is not None:
            return max(self.start, self.end_record.t)
        return max(self.start, horizon)

    @cached_property
    def grant_ids(self) -> frozenset[str]:
        """Grants the records themselves name (Teleport access requests); read once the session
        is built, then kept."""
        out: set[str] = set()
        for r in self.records:
            g = r.get("grant", "id")
            if isinstance(g, str) and g:
                out.add(g)
            requests = r.get("attrs", "access_requests")
            if type(requests) is not list:  # damaged or odd evidence names no grant
                continue
            for a in requests:
                if isinstance(a, str) and a:
                    out.add(a)
        return frozenset(out)

    def evidence(self) -> list[Ev]:
        return [*self.records, *([self.end_record] if self.end_record is not None else [])]


def _keys(ev: Ev) -> set[tuple[str, str]]:
    out = set()
    ses = ev.get("actor", "session")
    if ses not in (None, "", "unset", "4294967295"):
        out.add(("ses", str(ses)))
    pid = ev.get("attrs", "pid")
    if isinstance(pid, int | str) and str(pid) not in ("", "0"):
        out.add(("pid", str(pid)))
    return out


def _account(ev: Ev) -> str:
    account = ev.get("target", "account")
    if account:
        return text(account)
    if ev.kind == "priv.switch":
        return "root"  # sudo / su without a target user switch to root
    return text(ev.get("actor", "user"), "?")


def sessions(ctx: Context) -> list[Session]:
    """Every session starting in the period, in start order (built once per assessment)."""
    return ctx.memo("sessions", lambda: _build(ctx))


def _asset_of(ctx: Context, ev: Ev) -> str | None:
    name = ev.get("target", "asset")
    if not isinstance(name, str) or not name:
        return None
    a = ctx.inventory.asset(name)
    return None if a is None else a.hostname


def _build(ctx: Context) -> list[Session]:
    opening = sorted(
        (
            (ev.t, ev.key, asset, ev)
            for ev in ctx.events(*OPEN_KINDS)
            if ev.rec.get("outcome") == "success" and (asset := _asset_of(ctx, ev)) is not None
        ),
        key=lambda o: (o[0], o[1]),
    )
    out: list[Session] = []
    # a session's records are in one log: grouped by (log, asset, account)
    live: dict[tuple[str, str, str], list[Session]] = defaultdict(list)
    for _, _, asset, ev in opening:
        account, principal = _account(ev), who(ev)
        keys = _keys(ev)
        origin = ev.key[0]
        s = _join(live[(origin, asset, account)], ev.t, keys, principal)
        if s is None:
            user = text(ev.get("actor", "user"))
            s = Session(asset, account, principal, user, ev.t, origin=origin)
            live[(origin, asset, account)].append(s)
            out.append(s)
        elif s.principal.startswith("unresolved: ") and not principal.startswith("unresolved: "):
            s.principal = principal  # one of the records resolved the identity
        s.records.append(ev)
        s.keys |= keys
    _ends(ctx, out)
    return out


def _join(
    candidates: list[Session], t: float, keys: set[tuple[str, str]], principal: str
) -> Session | None:
    for s in reversed(candidates):
        if t - s.start > JOIN_WINDOW:
            break
        same_who = (
            s.principal == principal
            or s.principal.startswith("unresolved: ")
            or principal.startswith("unresolved: ")
        )
        if same_who and (not keys or not s.keys or keys & s.keys):
            return s
    return None


def _ends(ctx: Context, out: Iterable[Session]) -> None:
    ends: dict[tuple[str, str, str], list[Ev]] = defaultdict(list)
    for ev in ctx.events(*END_KINDS):
        asset = _asset_of(ctx, ev)
        if asset is not None:
            ends[(ev.key[0], asset, _account(ev))].append(ev)
    times: dict[tuple[str, str, str], list[float]] = {}
    for k, evs in ends.items():
        evs.sort(key=lambda e: (e.t, e.key))
        times[k] = [e.t for e in evs]
    for s in out:
        first: float | None = None
        key = (s.origin, s.asset, s.account)
        candidates = ends.get(key, [])
        at = bisect_left(times[key], s.start) if candidates else 0
        for ev in candidates[at:]:
            if first is not None and ev.t - first > JOIN_WINDOW:
                break  # a later end is another access's (a pid is reused in time)
            keys = _keys(ev)
            if (keys & s.keys) if (keys and s.keys) else who(ev) in (s.principal, s.account):
                # the records of one end (pam, sshd, auditd) within a few seconds: the latest
                first = ev.t if first is None else first
                s.end_record = ev


def covered_seconds(start: float, end: float, windows: Iterable[tuple[float, float]]) -> float:
    """Seconds of [start, end] inside the union of ``windows``."""
    total, reach = 0.0, start
    for lo, hi in sorted(windows):
        lo, hi = max(lo, reach), min(hi, end)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


class Windows:
    """Time windows (with a payload) indexed for "which windows meet [start, end]" queries."""

    def __init__(self, items: Iterable[tuple[float, float, Any]]) -> None:
        self._items = sorted(items, key=lambda w: (w[0], w[1]))
        self._los = [w[0] for w in self._items]
        self._longest = max((w[1] - w[0] for w in self._items), default=0.0)

    def meeting(self, start: float, end: float) -> list[tuple[float, float, Any]]:
        """The windows that overlap or touch [start, end]."""
        lo = bisect_left(self._los, start - self._longest)
        hi = bisect_right(self._los, end)
        return [w for w in self._items[lo:hi] if w[1] >= start]


def describe(value: Any) -> str:
    """A duration in words, to the second: ``4 h 0 min 12 s``."""
    s = round(float(value))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h} h {m} min {sec} s"
    if m:
        return f"{m} min {sec} s"
    return f"{sec} s"
