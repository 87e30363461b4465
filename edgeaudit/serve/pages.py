"""Server-rendered pages (Jinja2): the templates and the data each page shows.

Framework-free: the routes live in :mod:`edgeaudit.serve.page_routes`, sessions and CSRF
tokens in :mod:`edgeaudit.serve.sessions`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from edgeaudit.pack import charts
from edgeaudit.pack.period import Period
from edgeaudit.policy.statuses import CONTROL_STATUSES, findings
from edgeaudit.serve.service import Service

TEMPLATES: Final = Path(__file__).parent / "templates"
CONTROL_ORDER: Final = CONTROL_STATUSES  # the policy engine's one lattice

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **ctx: Any) -> str:
    return _env.get_template(name).render(**ctx)


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
