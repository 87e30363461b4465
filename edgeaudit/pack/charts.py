"""Small SVG charts for the report, made here (no browser, no plotting library).

Each function returns SVG text; every label is XML-escaped, so the text is safe to embed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final
from xml.sax.saxutils import escape

COLORS: Final = {
    "satisfied": "#2e7d32",
    "satisfied-with-exceptions": "#9e9d24",
    "pass": "#2e7d32",
    "supported": "#1565c0",
    "supported-with-exceptions": "#5c6bc0",
    "not-satisfied": "#c62828",
    "fail": "#c62828",
    "not-evaluated": "#9e9e9e",
    "waived": "#f9a825",
    "stale": "#6d4c41",
    "blocked": "#2e7d32",
    "open": "#c62828",
    "unreachable": "#ef6c00",
    "error": "#9e9e9e",
}
FONT: Final = 'font-family="DejaVu Sans, sans-serif"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def stacked_bars(
    rows: Sequence[tuple[str, Mapping[str, int]]], order: Sequence[str], title: str
) -> str:
    """One horizontal bar per row, split by status in ``order``, with a legend."""
    label_w, bar_w, row_h = 150, 330, 24
    height = 30 + row_h * max(1, len(rows)) + 24
    body: list[str] = []
    for i, (label, counts) in enumerate(rows):
        y = 20 + i * row_h
        total = sum(counts.get(k, 0) for k in order) or 1
        body.append(f'<text x="0" y="{y + 15}" font-size="10" {FONT}>{escape(label)}</text>')
        x = float(label_w)
        for k in order:
            n = counts.get(k, 0)
            if not n:
                continue
            w = bar_w * n / total
            body.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                f'fill="{COLORS.get(k, "#607d8b")}"><title>{escape(k)}: {n}</title></rect>'
            )
            if w > 18:
                body.append(
                    f'<text x="{x + 3:.1f}" y="{y + 15}" font-size="9" fill="#fff" '
                    f"{FONT}>{n}</text>"
                )
            x += w
    ly = height - 8
    for j, k in enumerate(order):
        lx = j * 105
        body.append(
            f'<rect x="{lx}" y="{ly - 8}" width="9" height="9" fill="{COLORS.get(k, "#607d8b")}"/>'
        )
        body.append(f'<text x="{lx + 12}" y="{ly}" font-size="9" {FONT}>{escape(k)}</text>')
    return _svg(max(label_w + bar_w + 10, len(order) * 105 + 10), height, body, title)


def heat_state(verdict: str, expected: str) -> str:
    """A probe result as a heat-map cell. Probe results record ``expected`` as ``allow`` or
    ``deny`` (older records: ``block...``). A denied path the probe reached is ``open`` (a leak,
    red); a denied path blocked is ``blocked``; an allowed path reached is ``pass``; an allowed
    path not reached is ``unreachable``; an inconclusive probe is ``error``."""
    if verdict == "inconclusive":
        return "error"
    reached = verdict == "reachable"
    if expected.startswith(("deny", "block")):
        return "open" if reached else "blocked"
    return "pass" if reached else "unreachable"


_HEAT_RANK: Final = {"open": 4, "unreachable": 3, "error": 2, "blocked": 1, "pass": 1}


def heat_merge(previous: str | None, state: str) -> str:
    """The cell of a segment pair: its worst path (a leak on any path stays visible)."""
    if previous is None or _HEAT_RANK.get(state, 0) > _HEAT_RANK.get(previous, 0):
        return state
    return previous


def heatmap(
    rows: Sequence[str], cols: Sequence[str], cells: Mapping[tuple[str, str], str], title: str
) -> str:
    """A grid of source (rows) x destination (columns) coloured by verdict."""
    cell, left, top = 34, 120, 90
    width = left + cell * max(1, len(cols)) + 10
    height = top + cell * max(1, len(rows)) + 10
    body: list[str] = []
    for j, c in enumerate(cols):
        x = left + j * cell + cell / 2
        body.append(
            f'<text x="{x:.0f}" y="{top - 6}" font-size="9" '
            f'transform="rotate(-45 {x:.0f} {top - 6})" '
            f"{FONT}>{escape(c)}</text>"
        )
    for i, r in enumerate(rows):
        y = top + i * cell
        body.append(
            f'<text x="0" y="{y + cell / 2 + 3:.0f}" font-size="9" {FONT}>{escape(r)}</text>'
        )
        for j, c in enumerate(cols):
            verdict = cells.get((r, c))
            fill = COLORS.get(verdict, "#eeeeee") if verdict else "#f5f5f5"
            body.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{fill}"><title>{escape(r)} to {escape(c)}: '
                f"{escape(verdict or 'not probed')}"
                "</title></rect>"
            )
    return _svg(width, height, body, title)


def line_chart(points: Sequence[tuple[str, float | None]], title: str) -> str:
    """Values in 0..1 over time (None: no data that week), with a 0-100 % axis."""
    left, top, w, h = 40, 10, 420, 140
    n = max(1, len(points) - 1)
    body = [
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#555"/>',
    ]
    for pct in (0, 50, 100):
        y = top + h - h * pct / 100
        body.append(f'<text x="2" y="{y + 3:.0f}" font-size="9" {FONT}>{pct}%</text>')
    coords = []
    for i, (label, value) in enumerate(points):
        x = left + w * i / n
        if i % max(1, len(points) // 7) == 0:
            body.append(
                f'<text x="{x:.0f}" y="{top + h + 14}" font-size="8" text-anchor="middle" '
                f"{FONT}>{escape(label[5:])}</text>"
            )
        if value is not None:
            y = top + h - h * value
            coords.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1565c0"><title>'
                f"{escape(label)}: {value:.0%}</title></circle>"
            )
    if len(coords) > 1:
        body.append(
            f'<polyline points="{" ".join(coords)}" fill="none" stroke="#1565c0" '
            'stroke-width="1.5"/>'
        )
    return _svg(left + w + 10, top + h + 22, body, title)


def bars(values: Sequence[tuple[str, int]], title: str) -> str:
    """Simple horizontal bars (counts)."""
    label_w, bar_w, row_h = 170, 300, 18
    top = max((v for _, v in values), default=1) or 1
    body: list[str] = []
    for i, (label, v) in enumerate(values):
        y = i * row_h
        body.append(f'<text x="0" y="{y + 12}" font-size="9" {FONT}>{escape(label)}</text>')
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * v / top:.1f}" height="{row_h - 6}" '
            f'fill="#1565c0"/>'
        )
        body.append(
            f'<text x="{label_w + bar_w * v / top + 4:.1f}" y="{y + 12}" font-size="9" '
            f"{FONT}>{v}</text>"
        )
    return _svg(label_w + bar_w + 50, row_h * max(1, len(values)) + 4, body, title)
