"""Alerts on access as it is collected: a successful logon right after a burst of failed logons
from the same address or for the same account, and a door forced open or a tamper alarm.

The burst is judged as the ``logon-failure-bursts`` / ``logon-success-after-burst`` rules judge
it (defaults: 10 failures within 5 minutes, the success within 10 minutes of the last failure;
failures counted per source kind, ``attrs.repeated`` counted), reading only the failed logons
of the window before the success from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import orjson

BURST_SUCCESS: Final = "logon-after-failure-burst"
DOOR_ALARM: Final = "door-forced-or-tamper"
KINDS: Final = ("auth.logon", "physical.alarm", "physical.tamper")
THRESHOLD: Final = 10
WINDOW: Final = 300.0
AFTER: Final = 600.0


class Reader(Protocol):
    def select(
        self, kinds: list[str], since: str | None, until: str | None, upto: int
    ) -> Iterator[tuple[int, bytes, bytes]]: ...


def _t(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(
            text.replace("Z", "+00:00").replace("z", "+00:00")
        ).timestamp()
    except ValueError:
        return None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(entry: Mapping[str, Any], *path: str) -> Any:
    v: Any = entry
    for p in path:
        if not isinstance(v, dict):
            return None
        v = v.get(p)
    return v


def account_key(entry: Mapping[str, Any]) -> str | None:
    """The account an attempt names: the principal, else ``user@asset`` (or the user)."""
    principal = _get(entry, "actor", "principal")
    if isinstance(principal, str) and principal:
        return principal
    user = _get(entry, "target", "account") or _get(entry, "actor", "user")
    if not isinstance(user, str) or not user:
        return None
    where = _get(entry, "target", "asset") or _get(entry, "target", "resource")
    return f"{user}@{where}" if isinstance(where, str) and where else user


def access_alerts(
    index: int,
    entry: Mapping[str, Any],
    reader: Reader,
    size: int,
    *,
    threshold: int = THRESHOLD,
    window: float = WINDOW,
    after: float = AFTER,
) -> Iterator[tuple[str, str, int, str | None, dict[str, Any]]]:
    """(trigger, summary, entry, tenant, detail) of the alerts one stored entry raises."""
    kind = entry.get("kind")
    tenant = entry.get("tenant") if isinstance(entry.get("tenant"), str) else None
    if kind in ("physical.alarm", "physical.tamper"):
        alarm = "tamper" if kind == "physical.tamper" else _get(entry, "attrs", "alarm")
        if alarm in ("forced_open", "tamper"):
            door = _get(entry, "target", "resource") or "?"
            yield (
                DOOR_ALARM,
                f"{'door forced open' if alarm == 'forced_open' else 'tamper alarm'} at {door} "
                f"at {entry.get('time')}",
                index,
                tenant,
                {"door": door, "alarm": alarm, "time": entry.get("time")},
            )
        return
    if kind != "auth.logon" or entry.get("outcome") != "success":
        return
    t = _t(entry.get("time"))
    if t is None:
        return
    ip = _get(entry, "actor", "src_ip")
    account = account_key(entry)
    counts: dict[tuple[str, str], list[int]] = {}
    last: dict[tuple[str, str], float] = {}
    times: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    lo = t - window - after
    for i, body, _ in reader.select(["auth.logon_failed"], _iso(lo - 1), _iso(t + 1), size):
        f = orjson.loads(body)
        ft = _t(f.get("time"))
        if ft is None or not lo <= ft <= t:
            continue
        n = _get(f, "attrs", "repeated")
        weight = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
        src = str(f.get("source") or "?")
        for by, value in (("source", _get(f, "actor", "src_ip")), ("account", account_key(f))):
            if value is not None and value == (ip if by == "source" else account):
                times.setdefault((by, src), []).append((ft, weight, i))
    for (by, src), items in sorted(times.items()):
        items.sort()
        lo_i, total, best = 0, 0, 0
        for hi_i, (ft, w, _) in enumerate(items):
            total += w
            while ft - items[lo_i][0] > window:
                total -= items[lo_i][1]
                lo_i += 1
            if total >= threshold and t - ft <= after:
                best = max(best, total)
                last[(by, src)] = ft
                counts[(by, src)] = [i for _, _, i in items[lo_i : hi_i + 1]]
        if best:
            what = f"from {ip}" if by == "source" else f"against {account}"
            yield (
                BURST_SUCCESS,
                f"successful logon of {account or '?'} from {ip or '?'} at {entry.get('time')} "
                f"after {best} failed logons {what} ({src}) within {int(window)} s",
                index,
                tenant,
                {
                    "by": by,
                    "source_kind": src,
                    "failures": best,
                    "failed_entries": counts[(by, src)][:50],
                    "last_failure": _iso(last[(by, src)]),
                    "account": account,
                    "src_ip": ip,
                },
            )
            return  # one alert per success
