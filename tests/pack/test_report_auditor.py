"""report.pdf as an external auditor reads it, from a pack the real policy engine assessed.

A small demo campus (with its planted violations, including the segmentation leak seg-ai ->
seg-fintech on tcp/5432) is collected, judged against ``policies/`` and packed for the site and
for fintech-a. The PDF is read back (pypdf), its layout boxes inspected (WeasyPrint) and its
pages rendered (pdftoppm): summary on page 2, every failing result in the exceptions register,
the first exception within three pages, no heading or row stranded at a page foot, the leak's
heat-map cell red in the image, PDF/A-3b metadata and the attachments.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from edgeaudit.demo import generate_campus
from edgeaudit.workspace import config as cfg
from tests.pack.helpers import QUARTER, run

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RED = (0xC6, 0x28, 0x28)  # charts.COLORS["open"]


def _pack(root: Path, ws: Path, name: str, *extra: str) -> Path:
    out = root / name
    code, _, err = run(
        "--workspace",
        str(ws),
        "pack",
        "build",
        "--quarter",
        QUARTER,
        "--policies",
        str(REPO / "policies"),
        "--out",
        str(out),
        *extra,
    )
    assert code == 0, err
    return out


LAYOUT: dict[str, Any] = {}  # report.pdf path -> the WeasyPrint document it was written from


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import weasyprint

    from edgeaudit.pack import report as report_module

    original, original_render = report_module.render_report, weasyprint.HTML.render
    rendered: list[Any] = []

    def keep_document(self: Any, *args: Any, **kwargs: Any) -> Any:
        rendered.append(original_render(self, *args, **kwargs))
        return rendered[-1]

    def keep_layout(data: Any, out: Path, templates: Path = report_module.TEMPLATES) -> None:
        rendered.clear()
        original(data, out, templates)
        (LAYOUT[str(out)],) = rendered  # the laid-out pages write_pdf wrote, kept (not redone)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_module, "render_report", keep_layout)
        mp.setattr(weasyprint.HTML, "render", keep_document)
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("auditor")
        campus, ws = root / "campus", root / "ws"
        generate_campus(campus, 3000, seed=7)
        assert run("--workspace", str(ws), "init", "--site", "blr-pod-1")[0] == 0
        code, _, err = run("--workspace", str(ws), "demo", "collect", "--out", str(campus))
        assert code == 0, err
        site = _pack(root, ws, "site")
        tenant = _pack(root, ws, "fintech-a", "--tenant", "fintech-a")
        return {"site": site, "tenant": tenant}


@functools.cache  # the packs are read only: each PDF's text is extracted once (seconds each)
def _pages(pdf: Path) -> tuple[str, ...]:
    return tuple(" ".join((p.extract_text() or "").split()) for p in PdfReader(pdf).pages)


def _doc(pack: Path) -> dict[str, Any]:
    return json.loads((pack / "findings.json").read_text())


def test_summary_is_page_two_and_the_register_holds_every_finding(packs: dict[str, Path]) -> None:
    pages = _pages(packs["site"] / "report.pdf")
    assert pages[0].startswith("Audit pack")
    assert pages[1].startswith("Summary")
    doc = _doc(packs["site"])
    failing = [r for r in doc["results"] if r["status"] == "fail"]
    assert failing, "the demo campus plants violations"
    start = next(i for i, p in enumerate(pages) if p.startswith("Exceptions register"))
    end = next(i for i, p in enumerate(pages) if p.startswith("Scope and system description"))
    register = " ".join(pages[start:end])
    for r in failing:
        assert r["id"] in register, r["id"]
    # the first exception is within the first three pages (summary's top list, register's first)
    first = min(
        failing,
        key=lambda r: (
            ["critical", "high", "medium", "low", "info"].index(r["severity"]),
            r["controls"][:1],
            r["id"],
        ),
    )
    assert any(first["id"] in p for p in pages[:3])
    # the planted leak is an exception with its port
    leak = [r for r in failing if r["rule"] == "segmentation-denied-blocked"]
    assert leak
    assert "tcp/5432" in register


def test_every_result_has_its_population_and_procedure(packs: dict[str, Path]) -> None:
    doc = _doc(packs["site"])
    text = " ".join(_pages(packs["site"] / "report.pdf"))
    cp = doc["assessment"]["checkpoint"]
    assert cp is not None
    assert f"the signed checkpoint of size {cp['tree_size']}" in text
    assert "not a sample" in text
    for rule in doc["rules"]:
        assert rule["procedure"][:40] in text, rule["id"]


def _layout(pack: Path) -> list[list[tuple[str, int]]]:
    """Per page, the (tag, element id) of each block box in document order, as WeasyPrint laid
    out the pages of the pack's PDF (the document ``write_pdf`` wrote)."""
    (document,) = [v for k, v in LAYOUT.items() if Path(k).parent.name == pack.name]
    out = []
    for page in document.pages:
        seq: list[tuple[str, int]] = []
        _walk(page._page_box, seq)
        out.append(seq)
    return out


def _walk(box: Any, seq: list[tuple[str, int]], header: bool = False) -> None:
    # rows of a <thead> repeat on every page a table spans: they are not split rows
    header = header or bool(getattr(box, "is_header", False))
    tag = getattr(box, "element_tag", None)
    if tag in ("h2", "h3", "tr", "p") and getattr(box, "element", None) is not None:
        seq.append(("thead-tr" if header and tag == "tr" else tag, id(box.element)))
    for child in getattr(box, "children", ()):
        _walk(child, seq, header)


def test_no_heading_or_row_is_stranded_at_a_page_foot(packs: dict[str, Path]) -> None:
    for name in ("site", "tenant"):
        pages = _layout(packs[name])
        seen_rows: dict[int, int] = {}
        for n, seq in enumerate(pages, 1):
            if seq:
                assert seq[-1][0] not in ("h2", "h3"), f"{name}: page {n} ends with a heading"
            for tag, element in seq:
                if tag == "tr":
                    assert seen_rows.setdefault(element, n) == n, f"{name}: a row split at page {n}"


def _render(pdf: Path, page: int, out: Path) -> Path:
    if shutil.which("pdftoppm") is None:
        if IN_CI:
            pytest.fail("pdftoppm (poppler-utils) is missing")
        pytest.skip("pdftoppm (poppler-utils) is missing")
    prefix = out / f"p{page}"
    subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-f", str(page), "-l", str(page), str(pdf), str(prefix)],
        check=True,
    )
    (png,) = out.glob(f"p{page}*.png")
    return png


def _red_cells(png: Path) -> int:
    """Red areas at least as large as a heat-map cell (legend swatches and text are smaller)."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    w, h = img.size
    px = img.load()
    red = {
        (x, y)
        for y in range(h)
        for x in range(w)
        if all(abs(c - r) <= 12 for c, r in zip(px[x, y], RED, strict=True))
    }
    cells = 0
    while red:
        stack = [red.pop()]
        size = 0
        while stack:
            x, y = stack.pop()
            size += 1
            for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if q in red:
                    red.remove(q)
                    stack.append(q)
        cells += size >= 400  # a cell is about 30 x 30 points
    return cells


@pytest.mark.parametrize("name", ["site", "tenant"])
def test_the_planted_leak_is_the_one_red_cell(
    packs: dict[str, Path], name: str, tmp_path: Path
) -> None:
    pdf = packs[name] / "report.pdf"
    pages = _pages(pdf)
    n = next(i for i, p in enumerate(pages, 1) if p.startswith("Segmentation"))
    end = next(i for i, p in enumerate(pages, 1) if p.startswith("Just-in-time access"))
    assert "leak: tcp/5432" in " ".join(pages[n - 1 : end - 1])
    assert _red_cells(_render(pdf, n, tmp_path)) == 1


def test_pdf_a3b_with_the_machine_readable_files_attached(packs: dict[str, Path]) -> None:
    reader = PdfReader(packs["site"] / "report.pdf")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8", "replace")
    assert re.search(r"pdfaid:part[^0-9]{0,5}3", xmp), xmp[:400]
    assert re.search(r"pdfaid:conformance[^A-Z]{0,5}B", xmp), xmp[:400]
    attachments = reader.attachments
    assert set(attachments) == {
        "pack-manifest.json",
        "findings.json",
        "findings.csv",
        "oscal-assessment-results.json",
    }
    for name in ("findings.csv", "oscal-assessment-results.json"):
        assert attachments[name][0] == (packs["site"] / name).read_bytes()


def test_the_tenant_report_counts_only_the_tenants_results(packs: dict[str, Path]) -> None:
    doc = _doc(packs["tenant"])
    counts = doc["assessment"]["counts"]
    assert sum(counts.values()) == len(doc["results"])
    assert all((r["scope"].get("tenant") in ("fintech-a", None)) for r in doc["results"])
    text = " ".join(_pages(packs["tenant"] / "report.pdf"))
    for other in ("media-b", "ai-c", "mb-render-02", "ac-gpu-01"):
        assert other not in text
    assert zipfile  # the packs here are directories


def _ink(png: Path) -> tuple[float, int]:
    """(share of non-white pixels, pixels of the report's red) of a rendered page."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    data = list(img.getdata())
    ink = sum(1 for p in data if sum(p) < 720) / len(data)
    red = sum(1 for p in data if all(abs(c - r) <= 40 for c, r in zip(p, RED, strict=True)))
    return ink, red


def test_the_summary_and_register_pages_render_with_their_failures_in_red(
    packs: dict[str, Path], tmp_path: Path
) -> None:
    pdf = packs["site"] / "report.pdf"
    summary = _render(pdf, 2, tmp_path)
    register = _render(pdf, 3, tmp_path)
    for png in (summary, register):
        ink, red = _ink(png)
        assert 0.02 < ink < 0.6, (png.name, ink)  # a page of text, neither blank nor a blot
        assert red > 20, png.name  # not-satisfied counts / failing statuses are drawn red
