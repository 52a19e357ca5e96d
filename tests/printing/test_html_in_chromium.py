"""The HTML report in a real browser: nothing wider than the screen at 1200 and 390 px, A4 landscape on paper.

The page is laid out by headless Chromium inside two iframes, 1200 and 390 pixels wide, of one
measuring page (its script reads each frame's widths: the report itself has no script); then
printed to PDF and read back with pypdf.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from lms_sync.program import AttestationRule
from lms_sync.reports import render, render_attestation
from lms_sync.reports.attestation import build_attestation
from lms_sync.reports.attestation_views import attestation_views
from lms_sync.reports.render_html import table
from lms_sync.reports.views import all_views
from tests.printing.conftest import LabCourse, run_chromium

WIDTHS = (1200, 390)
A4_LANDSCAPE = (841.9, 595.3)  # points

MEASURE = """
window.addEventListener('load', () => {
  const out = {};
  for (const frame of document.querySelectorAll('iframe')) {
    const doc = frame.contentDocument, root = doc.documentElement;
    const boxes = [...doc.querySelectorAll('.table-wrap')].map(w => ({
      id: w.querySelector('table').id, scroll: w.scrollWidth, client: w.clientWidth}));
    const cut = [...doc.querySelectorAll('ul.bars .label')].filter(l => l.scrollWidth > l.clientWidth + 1
      || l.textContent !== l.title).map(l => l.textContent);
    const wider = [...doc.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
      .slice(0, 5).map(e => e.tagName + ' ' + e.className + ' ' + (e.textContent || '').slice(0, 40));
    out[frame.name + ' ' + frame.width] = {scroll: root.scrollWidth, client: root.clientWidth, boxes, cut, wider};
  }
  document.body.setAttribute('data-measured', JSON.stringify(out));
});
"""


def _measuring_page(pages: dict[str, str]) -> str:
    frames = "".join(f'<iframe name="{name}" width="{w}" height="900" srcdoc="{html.escape(page)}"></iframe>'
                     for name, page in pages.items() for w in WIDTHS)
    return f"<!DOCTYPE html><html><body>{frames}<script>{MEASURE}</script></body></html>"


@pytest.fixture(scope="module")
def report_html(lab_course: LabCourse) -> str:
    """The lab course's report page, in French."""
    return render(lab_course.report, "html").decode("utf-8")


def test_no_horizontal_overflow_at_1200_and_390_px(chromium: str, lab_course: LabCourse, report_html: str,
                                                   tmp_path: Path, profile: Path) -> None:
    """No page wider than the screen, no table needing its scroll box, every chart label whole: the completion
    report and the attestation list (3 of 4 sessions)."""
    att = build_attestation(lab_course.report, AttestationRule(sessions_attended=3))
    page = tmp_path / "measure.html"
    pages = {"completion": report_html, "attestation": render_attestation(att, "html").decode("utf-8")}
    page.write_text(_measuring_page(pages), encoding="utf-8")
    started = time.monotonic()
    dom = run_chromium(chromium, profile, "--window-size=1300,1000", "--dump-dom", page.as_uri())
    found = re.search(r'data-measured="([^"]*)"', dom)
    assert found, "the measuring script did not run"
    measured = json.loads(html.unescape(found.group(1)))
    print(f"\nlayout in chromium ({time.monotonic() - started:.1f} s):",
          {w: (m["scroll"], m["client"]) for w, m in measured.items()})
    assert len(measured) == 4
    for frame, m in measured.items():
        assert m["scroll"] <= m["client"], (frame, m["wider"])
        assert m["wider"] == [], frame
        assert [b for b in m["boxes"] if b["scroll"] > b["client"]] == [], frame  # no table scrolls sideways
        assert m["cut"] == [], frame  # chart labels shown in full, and the same in their hover title
    assert {b["id"] for b in measured["completion 1200"]["boxes"]} == {"institutions", "cohorts", "sessions",
                                                                     "participants"}


def _page_texts(pdf: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(pdf).pages]


def _squeezed(text: str) -> str:
    # A cell may wrap anywhere (a long e-mail at its dots); reading it back, only the spaces differ.
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("kind", ["completion", "attestation"])
def test_prints_on_a4_landscape_with_every_column_and_header(chromium: str, lab_course: LabCourse,
                                                             report_html: str, tmp_path: Path,
                                                             profile: Path, kind: str) -> None:
    """Printed to PDF: A4 landscape pages; every column title present; the participants' header on each of
    their pages; every e-mail whole (no column cut at the page edge). The completion report, and the
    attestation list the certificate office is handed."""
    if kind == "completion":
        page, tables = report_html, [table(v, "fr") for v in all_views(lab_course.report, "fr")]
    else:
        att = build_attestation(lab_course.report, AttestationRule(sessions_attended=3))
        page, tables = render_attestation(att, "html").decode("utf-8"), [
            table(v, "fr") for v in attestation_views(att, "fr")]
    source, pdf = tmp_path / f"{kind}.html", tmp_path / f"{kind}.pdf"
    source.write_text(page, encoding="utf-8")
    started = time.monotonic()
    run_chromium(chromium, profile, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", source.as_uri())
    reader = PdfReader(pdf)
    for sheet in reader.pages:  # A4 is 297 x 210 mm; Chromium rounds it to whole points
        assert abs(float(sheet.mediabox.width) - A4_LANDSCAPE[0]) < 1.5
        assert abs(float(sheet.mediabox.height) - A4_LANDSCAPE[1]) < 1.5
    texts = _page_texts(pdf)
    whole = _squeezed(" ".join(texts))
    for t in tables:
        for title in t.header:
            assert _squeezed(title) in whole, title
    for email in lab_course.emails:
        assert _squeezed(email) in whole, email
    people = next(t for t in tables if t.id == "participants")
    pages_with_people = [text for text in texts if any(_squeezed(n) in _squeezed(text) for n in lab_course.names)]
    assert len(pages_with_people) >= 2
    for text in pages_with_people:  # thead repeated on each page, last column included
        assert all(_squeezed(h) in _squeezed(text) for h in people.header), text[:200]
    print(f"\nHTML {kind} printed: {len(reader.pages)} A4 landscape pages, participants on {len(pages_with_people)} "
          f"({time.monotonic() - started:.1f} s)")
