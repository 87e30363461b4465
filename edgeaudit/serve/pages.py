"""Server-rendered pages (Jinja2): sessions, CSRF tokens and the data each page shows.

Framework-free: the routes live in :mod:`edgeaudit.serve.app`. Signing in exchanges an API token
for a session (a random id in an HttpOnly, SameSite=Strict cookie; Secure when configured).
The server keeps the token and re-verifies it on every page, so expiry, revocation and a tenant
removed from the inventory end the session too. Every form carries a CSRF token bound to the
session (sign-in: to a short-lived pre-session cookie) and is refused without it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from edgeaudit.pack import charts
from edgeaudit.pack.period import Period
from edgeaudit.policy.statuses import CONTROL_STATUSES, findings
from edgeaudit.serve.service import Service
from edgeaudit.serve.tokens import Principal

TEMPLATES: Final = Path(__file__).parent / "templates"
SESSION_COOKIE: Final = "edgeaudit_session"
LOGIN_COOKIE: Final = "edgeaudit_login"
SESSION_SECONDS: Final = 8 * 3600
CONTROL_ORDER: Final = CONTROL_STATUSES  # the policy engine's one lattice

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **ctx: Any) -> str:
    return _env.get_template(name).render(**ctx)


@dataclass(frozen=True)
class Session:
    id: str
    token: str
    csrf: str
    expires: float


class Sessions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def create(self, token: str, principal: Principal) -> Session:
        expires = min(float(principal.expires), time.time() + SESSION_SECONDS)
        s = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), expires)
        with self._lock:
            now = time.time()
            self._by_id = {k: v for k, v in self._by_id.items() if v.expires > now}
            self._by_id[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            s = self._by_id.get(session_id)
            if s is not None and s.expires <= time.time():
                del self._by_id[session_id]
                return None
            return s

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))


def last_quarter(now: float | None = None) -> str:
    """The last quarter that has ended (the default period of the pages)."""
    t = time.gmtime(now if now is not None else time.time())
    q = (t.tm_mon - 1) // 3 + 1
    year, q = (t.tm_year, q - 1) if q > 1 else (t.tm_year - 1, 4)
    return f"{year}Q{q}"


def _framework_chart(doc: dict[str, Any]) -> tuple[list[tuple[str, dict[str, int]]], Markup]:
    per: dict[str, Counter[str]] = {}
    for c in doc.get("controls", []):
        per.setdefault(str(c.get("framework")), Counter())[str(c.get("status"))] += 1
    rows = [(fw, dict(per.get(fw, Counter()))) for fw in doc["assessment"]["frameworks"]]
    chart = Markup(  # noqa: S704 (charts escape every label)
        charts.stacked_bars(rows, CONTROL_ORDER, "controls per framework by status")
    )
    return rows, chart


def _probe_heatmap(service: Service, period: Period) -> Markup | None:
    cells: dict[tuple[str, str], str] = {}
    with service.log.reader() as reader:
        size, _ = reader.head()
        for _, body, _ in reader.select(["probe.result"], period.start_text, period.end_text, size):
            attrs = orjson.loads(body).get("attrs") or {}
            src, dst = attrs.get("vantage"), attrs.get("segment")
            if not (isinstance(src, str) and isinstance(dst, str)):
                continue
            state = charts.heat_state(str(attrs.get("verdict")), str(attrs.get("expected")))
            cells[(src, dst)] = charts.heat_merge(cells.get((src, dst)), state)
    if not cells:
        return None
    rows = sorted({s for s, _ in cells})
    cols = sorted({d for _, d in cells})
    return Markup(  # noqa: S704 (charts escape every label)
        charts.heatmap(rows, cols, cells, "isolation probes: source to destination")
    )


def heatmap(service: Service, period: Period) -> Markup | None:
    """The period's isolation heat-map, from the cache (computed on a miss)."""
    return service.cached(  # type: ignore[no-any-return]
        ("heatmap", period.start, period.end), lambda: _probe_heatmap(service, period)
    )


def dashboard(service: Service, doc: dict[str, Any], period: Period) -> dict[str, Any]:
    """What the officer dashboard shows, from one assessment document."""
    rows, chart = _framework_chart(doc)
    results = doc["results"]
    failing = findings(results)
    jit = Counter(r["status"] for r in results if r["rule"] == "jit-session-covered")
    with service.log.reader() as reader:
        quarantine = reader.quarantine_counts()
    return {
        "frameworks": rows,
        "framework_chart": chart,
        "failing": failing,
        "counts": doc["assessment"]["counts"],
        "heatmap": heatmap(service, period),
        "jit": dict(jit),
        "jit_chart": Markup(  # noqa: S704 (charts escape every label)
            charts.bars(sorted(jit.items()), "admin sessions covered by a JIT grant")
        )
        if jit
        else None,
        "quarantine": quarantine,
        "quarantined": sum(n for _, _, n in quarantine),
        "checkpoint": service.checkpoint() if service.log.latest_checkpoint() else None,
    }
