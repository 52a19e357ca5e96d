"""The XLSX report printed by LibreOffice: the participants fit one A4 landscape page wide, header on every page.

LibreOffice (headless) converts the workbook to PDF with the page set-up the workbook carries;
pypdf reads each page's size and text back.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from pypdf import PdfReader

from lms_sync.reports import render
from lms_sync.reports.views import all_views
from tests.printing.conftest import LabCourse

A4_LANDSCAPE = (841.9, 595.3)  # points


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_participants_print_one_page_wide_with_the_header_on_every_page(soffice: str, lab_course: LabCourse,
                                                                        tmp_path: Path, profile: Path) -> None:
    """Every page is A4 landscape; each page listing participants has every column title (so no column went to
    another page) and each participant's whole row: name and e-mail on the same page."""
    book = tmp_path / "completion.xlsx"
    book.write_bytes(render(lab_course.report, "xlsx"))
    started = time.monotonic()
    done = subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(book)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    reader = PdfReader(tmp_path / "completion.pdf")
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - A4_LANDSCAPE[0]) < 1.5 and abs(height - A4_LANDSCAPE[1]) < 1.5, (width, height)
    texts = [_squeezed(page.extract_text() or "") for page in reader.pages]

    people = next(v for v in all_views(lab_course.report, "fr") if v.name == "participants")
    headers = [_squeezed(c.header("fr")) for c in people.shown]
    pages = [i for i, text in enumerate(texts) if any(_squeezed(n) in text for n in lab_course.names)]
    assert pages == list(range(len(pages)))  # the first sheet, on consecutive pages
    for i in pages:
        assert [h for h in headers if h not in texts[i]] == [], f"page {i + 1} lacks column titles"
    for name, email in zip(lab_course.names, lab_course.emails, strict=True):
        on = [i for i in pages if _squeezed(name) in texts[i]]
        assert len(on) == 1 and _squeezed(email) in texts[on[0]], name  # the row is whole, on one page
    print(f"\nXLSX printed by LibreOffice: {len(reader.pages)} pages in all, {len(lab_course.names)} participants "
          f"on {len(pages)} page(s), one page wide ({time.monotonic() - started:.1f} s)")
