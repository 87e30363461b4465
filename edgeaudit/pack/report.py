"""``report.pdf``: the pack for people. Jinja2 templates in ``report_templates/``, WeasyPrint.

The only module that imports WeasyPrint. Sections (``report_context`` computes them): cover,
summary, exceptions register, scope and system description, controls framework by framework,
segmentation, operations (JIT, keys, physical access, RACI), management assertion, appendix;
a campus pack's report shows the figures of every log summed, with "Evidence per log" and a
log column where a table would mix them (``report_campus``).
Its size follows the number of results, not of events: results list at most
:data:`EVIDENCE_SHOWN` cited entries each, and the evidence itself lives in the
machine-readable files. The PDF is written as PDF/A-3b with the manifest of every other file
(whose SHA-256 is the "evidence digest" on the cover), the findings (JSON, CSV) and the OSCAL
results attached. Templates cannot fetch anything: the URL fetcher allows only ``data:`` URLs.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from edgeaudit.canonical import canonical_json
from edgeaudit.collect.inventory import Inventory
from edgeaudit.pack import charts, report_campus
from edgeaudit.pack import report_context as rc
from edgeaudit.pack.evidence import Stats
from edgeaudit.pack.report_campus import LogFigures
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.statuses import CONTROL_STATUSES
from edgeaudit.verify.pack_key import ManifestKey

_PACKAGE = Path(__file__).resolve().parents[1]
# the copy a regular install ships in the package (setup.py), else a checkout's report_templates/
_SHIPPED = _PACKAGE / "_report_templates"
TEMPLATES: Final = _SHIPPED if _SHIPPED.is_dir() else _PACKAGE.parent / "report_templates"
EVIDENCE_SHOWN: Final = 8
CONTROL_ORDER: Final = CONTROL_STATUSES  # the policy engine's one lattice
RESULT_ORDER: Final = ("pass", "fail", "waived", "stale", "not-evaluated")
# PCI DSS 11.4.5 / 11.4.6 / A1.1.4 want a qualified, independent tester: automated
# probes only support those controls.
PROBE_SUPPORTED: Final = ("11.4.5", "11.4.6", "a1.1.4")


@dataclass(frozen=True)
class ReportInput:
    header: Mapping[str, Any]
    content_manifest: bytes
    findings: Mapping[str, Any] | None
    stats: Stats
    checkpoint: str
    quarantined: int | None
    manifest_key: ManifestKey
    raci: Sequence[Mapping[str, Any]] | None = None
    inventory: Inventory | None = None
    view: TenantView | None = None
    # the quarantine per (source kind, reason) with counts (site packs only)
    quarantine: Sequence[tuple[str, str, int]] | None = None
    # further files attached to the PDF: (name, bytes, description)
    attachments: Sequence[tuple[str, bytes, str]] = ()
    # failing result id -> how a later period's recorded assessment shows it remediated
    remediated: Mapping[str, str] | None = None
    # a campus pack: every log's figures, the central part's first (``stats`` is its own);
    # the report shows their sum with a breakdown per log. Empty: a single-log pack.
    logs: Sequence[LogFigures] = ()


def _framework_summary(doc: Mapping[str, Any]) -> list[tuple[str, Counter[str]]]:
    by_fw: dict[str, Counter[str]] = {}
    for c in doc.get("controls", []):
        status = str(c.get("status"))
        if _probe_supported(str(c.get("control", ""))) and status.startswith("satisfied"):
            status = status.replace("satisfied", "supported", 1)
        by_fw.setdefault(str(c.get("framework")), Counter())[status] += 1
    if not by_fw:
        for r in doc["results"]:
            for ctl in r.get("controls", []):
                by_fw.setdefault(ctl.split(":", 1)[0], Counter())[str(r["status"])] += 1
    return sorted(by_fw.items())


def _probe_supported(control: str) -> bool:
    tail = control.rsplit(":", 1)[-1].lower()
    return any(tail.endswith(p) for p in PROBE_SUPPORTED)


def _control_wording(control: Mapping[str, Any]) -> str:
    status = str(control.get("status"))
    if _probe_supported(str(control.get("control", ""))) and status in ("satisfied", "supported"):
        return "supported by automated probes (a qualified, independent test is still required)"
    if _probe_supported(str(control.get("control", ""))) and status.endswith("with-exceptions"):
        return (
            "supported by automated probes, with accepted exceptions (a qualified, independent "
            "test is still required)"
        )
    return status.replace("-", " ")


def _context(data: ReportInput) -> dict[str, Any]:
    h = data.header
    doc = data.findings
    central_stats = data.stats  # the times of the entries the central log's citations name
    campus: dict[str, Any] = {"campus_logs": None}
    if data.logs:
        campus = report_campus.context(data.logs)
    stats: Stats = campus.get("stats", central_stats)  # the figures shown: campus-wide
    pods = report_campus.by_origin(data.logs)
    ctx: dict[str, Any] = {
        "h": h,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "evidence_digest": hashlib.sha256(data.content_manifest).hexdigest(),
        "checkpoint": data.checkpoint,
        "manifest_key": data.manifest_key,
        "stats": stats,
        "quarantined": data.quarantined,
        "assessed": doc is not None,
        "raci": data.raci,
        "evidence_shown": EVIDENCE_SHOWN,
        **dict.fromkeys(
            ("heatmap", "coverage", "key_chart", "key_rows", "results", "controls", "waivers"),
            None,
        ),
        **campus,
    }
    if doc is not None:
        summary = _framework_summary(doc)
        ctx["frameworks"] = [(fw, dict(c)) for fw, c in summary]
        order = CONTROL_ORDER if doc.get("controls") else RESULT_ORDER
        ctx["framework_chart"] = Markup(  # noqa: S704 (charts escape every label)
            charts.stacked_bars(summary, order, "controls per framework by status")
        )
        ctx["results"] = doc["results"]
        ctx["controls"] = [{**c, "wording": _control_wording(c)} for c in doc.get("controls", [])]
        ctx["waivers"] = [r for r in doc["results"] if r.get("waiver")]
        ctx["assessment"] = doc["assessment"]
    view = data.view or TenantView.site()
    ctx["system"] = rc.system(data.inventory, view, stats, doc, data.quarantine)
    ctx["segments"] = rc.segmentation(stats)
    ctx["legend"] = [
        ("open", "a denied path reached (leak)"),
        ("blocked", "every denied path blocked"),
        ("pass", "allowed paths reached"),
        ("unreachable", "an allowed path not reached"),
        ("error", "inconclusive"),
    ]
    ctx["colors"] = charts.COLORS
    ctx["register"] = []
    ctx["passing"] = []
    ctx["index"] = []
    ctx["jit_split"] = None
    # a campus pack: its citations name their logs, each entry's time is its part's
    central = str(h.get("origin")) if h.get("logs") is not None else None
    if doc is not None:
        register = rc.exceptions(doc, central_stats, data.raci, data.remediated, central, pods)
        ctx["register"] = register
        ctx["summary"] = rc.summary(doc, register)
        ctx["framework_controls"] = rc.controls(doc, central_stats)
        ctx["passing"] = [r for r in doc["results"] if r["status"] not in ("fail", "waived")]
        ctx["index"] = rc.evidence_index(doc, central_stats, central, pods)
        ctx["physical"] = [
            r for r in doc["results"] if str(r.get("rule", "")).startswith("physical")
        ]
        split = rc.jit_split(doc)
        if split:
            ctx["jit_split"] = split
            ctx["jit_chart"] = Markup(  # noqa: S704 (charts escape every label)
                charts.bars(split, "privileged sessions by how the engine allowed them")
            )
    if stats.probes:
        rows = sorted({s for s, _ in stats.probes})
        cols = sorted({d for _, d in stats.probes})
        ctx["heatmap"] = Markup(  # noqa: S704 (charts escape every label)
            charts.heatmap(rows, cols, stats.probes, "isolation probes: source to destination")
        )
    weeks = sorted(stats.weeks.items())
    if weeks:
        ctx["coverage"] = Markup(  # noqa: S704 (charts escape every label)
            charts.line_chart(
                [(w, (g / n) if n else None) for w, (n, g) in weeks],
                "admin sessions citing a JIT grant, per week",
            )
        )
        ctx["weeks"] = weeks
    if stats.key_use:
        per_owner: Counter[str] = Counter()
        for (owner, _user, _outcome), n in stats.key_use.items():
            per_owner[owner] += n
        ctx["key_chart"] = Markup(  # noqa: S704 (charts escape every label)
            charts.bars(sorted(per_owner.items()), "key uses per owner")
        )
        ctx["key_rows"] = sorted(stats.key_use.items())
    ctx["kinds"] = sorted(stats.kinds.items())
    return ctx


def render_html(data: ReportInput, templates: Path = TEMPLATES) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # optional members of results render empty
    )
    env.filters["entry_ref"] = lambda e: rc.ref(int(e["index"]), e.get("origin"))
    return env.get_template("report.html.j2").render(**_context(data))


def render_report(data: ReportInput, out: Path, templates: Path = TEMPLATES) -> None:
    import weasyprint

    html = render_html(data, templates)
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))
    css = weasyprint.CSS(string=(templates / "report.css").read_text(encoding="utf-8"))
    attachments = [
        weasyprint.Attachment(
            string=data.content_manifest.decode("utf-8"),
            name="pack-manifest.json",
            description="SHA-256 of every pack file but this PDF (its digest is on the cover)",
        )
    ]
    if data.findings is not None:
        attachments.append(
            weasyprint.Attachment(
                string=canonical_json(data.findings).decode("utf-8"),
                name="findings.json",
                description="the assessment document (findings.json)",
            )
        )
    for name, content, description in data.attachments:
        attachments.append(
            weasyprint.Attachment(
                string=content.decode("utf-8"), name=name, description=description
            )
        )
    # PDF/A-3b: an archival PDF that may carry the machine-readable files as attachments
    weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf(
        out, stylesheets=[css], attachments=attachments, pdf_variant="pdf/a-3b"
    )
