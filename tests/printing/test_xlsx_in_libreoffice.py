"""The XLSX report printed by LibreOffice: the participants fit one A4 landscape page wide, header on every page.

LibreOffice (headless) converts the workbook to PDF with the page set-up the workbook carries;
pypdf reads each page's size and text back.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, replace

import pytest

from pypdf import PdfReader

from lms_sync.reports import CompletionReport, render
from lms_sync.reports.views import all_views
from tests.printing.conftest import LabCourse

A4_LANDSCAPE = (841.9, 595.3)  # points


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _three_times(lab: LabCourse) -> tuple[CompletionReport, list[str], list[str]]:
    """The lab course's participants three times over (new names and e-mails): enough rows for several pages."""
    people = [replace(p, user_id=p.user_id + 1000 * n, fullname=f"{p.fullname} {'ABC'[n]}", email=f"{'abc'[n]}.{p.email}")
              for n in range(3) for p in lab.report.participants]
    return replace(lab.report, participants=tuple(people)), [p.fullname for p in people], [p.email for p in people]


@pytest.fixture(scope="module")
def printed(soffice: str, lab_course: LabCourse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Printed]:
    """Both workbooks printed to PDF by one LibreOffice run (its start is most of the time)."""
    folder = tmp_path_factory.mktemp("xlsx")
    profile = folder / "profile"
    profile.mkdir()
    books: dict[str, tuple[CompletionReport, list[str], list[str]]] = {
        "lab-course": (lab_course.report, list(lab_course.names), list(lab_course.emails)),
        "three-times": _three_times(lab_course),
    }
    for name, (report, _, _) in books.items():
        (folder / f"{name}.xlsx").write_bytes(render(report, "xlsx"))
    started = time.monotonic()
    done = subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                           "--convert-to", "pdf", "--outdir", str(folder), *(str(folder / f"{n}.xlsx") for n in books)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"\nLibreOffice printed both workbooks in {time.monotonic() - started:.1f} s")
    return {name: Printed(PdfReader(folder / f"{name}.pdf"), *books[name]) for name in books}


@dataclass(frozen=True)
class Printed:
    """A workbook printed to PDF, and who is in it."""

    pdf: PdfReader
    report: CompletionReport
    names: list[str]
    emails: list[str]


@pytest.mark.parametrize("name", ["lab-course", "three-times"])
def test_participants_print_one_page_wide_with_the_header_on_every_page(printed: dict[str, Printed],
                                                                        name: str) -> None:
    """Every page is A4 landscape; each page listing participants has every column title (the header row
    repeated, and no column sent to another page) and each participant's whole row: name and e-mail together."""
    book = printed[name]
    for page in book.pdf.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - A4_LANDSCAPE[0]) < 1.5 and abs(height - A4_LANDSCAPE[1]) < 1.5, (width, height)
    texts = [_squeezed(page.extract_text() or "") for page in book.pdf.pages]
    people = next(v for v in all_views(book.report, "fr") if v.name == "participants")
    headers = [_squeezed(c.header("fr")) for c in people.shown]
    pages = [i for i, text in enumerate(texts) if any(_squeezed(n) in text for n in book.names)]
    assert pages == list(range(len(pages)))  # the first sheet, on consecutive pages
    if name == "three-times":
        assert len(pages) >= 2
    for i in pages:
        assert [h for h in headers if h not in texts[i]] == [], f"page {i + 1} lacks column titles"
    for person, email in zip(book.names, book.emails, strict=True):
        on = [i for i in pages if _squeezed(person) in texts[i]]
        assert len(on) == 1 and _squeezed(email) in texts[on[0]], person  # the row is whole, on one page
    print(f"\nXLSX printed by LibreOffice ({name}): {len(texts)} pages in all, {len(book.names)} participants "
          f"on {len(pages)} page(s), one page wide")
