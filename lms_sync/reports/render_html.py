"""HTML: one self-contained page (no script, no external file) from Jinja2 templates, screen and print.

The templates (``templates/``, autoescaped) lay the page out; this module only hands them text:
every table is a view of ``views.py``, every number and date is formatted by ``formatting``.
Jinja2 is imported on first use, so ``lms-sync serve`` loads it only when a page is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..i18n import t
from . import formatting
from .common import banner_lines, cell_text, since_label, snapshot_label
from .data import CompletionReport, InstitutionLine
from .views import Kind, View, all_views, has_cohorts, session_title

_NUMERIC = (Kind.COUNT, Kind.RATE)
LONG_WORD = 16  # characters: a longer word gets break points
WIDE_TABLE = 10  # columns
_BREAK_AFTER = re.compile(r"([@._/])(?=[^@._/])")


@dataclass(frozen=True)
class Cell:
    """One table cell as the template shows it."""

    text: str
    numeric: bool

    @property
    def html(self) -> Any:
        """The text escaped, with break points after @ . _ / in long words, so an e-mail wraps instead of
        widening its column (the text read or copied is unchanged: <wbr> is no character)."""
        from markupsafe import Markup, escape

        words = []
        for word in self.text.split(" "):
            escaped = str(escape(word))
            if len(word) > LONG_WORD:
                escaped = _BREAK_AFTER.sub(r"\1<wbr>", escaped)
            words.append(escaped)
        return Markup(" ".join(words))


@dataclass(frozen=True)
class TableRow:
    """One table row: its cells and its CSS class ("total", "failed" or none)."""

    cells: tuple[Cell, ...]
    css: str


@dataclass(frozen=True)
class Table:
    """A view as the template shows it."""

    id: str
    title: str
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]
    full_header: tuple[str, ...]  # the full titles (hover) where ``header`` holds short ones

    @property
    def wide(self) -> bool:
        """Many columns: the page sets it a little smaller."""
        return len(self.header) > WIDE_TABLE


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: the full label, the share 0..1 (None: no bar) and the value as text."""

    label: str
    share: float | None
    text: str


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart."""

    caption: str
    bars: tuple[Bar, ...]


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("lms_sync.reports", "templates"),
        autoescape=True,  # every value is text from Moodle or the programme: always escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _css() -> str:
    return resources.files(__package__).joinpath("templates/report.css").read_text(encoding="utf-8").strip()


def render_page(template: str, *, lang: str, title: str, meta: Sequence[str] = (), warnings: Sequence[str] = (),
                **context: Any) -> bytes:
    """A report page from ``template`` with the shared head, stylesheet and warnings."""
    from markupsafe import Markup

    page = _environment().get_template(template).render(
        lang=lang, title=title, meta=list(meta), warnings=list(warnings), css=Markup(_css()), **context)
    return str(page).encode("utf-8")


def table(v: View, lang: str) -> Table:
    """A view as an HTML table, numbers and dates written for a reader."""
    columns = v.shown
    rows = tuple(
        TableRow(tuple(Cell(cell_text(c.kind, c.value(r.item), lang, prose=True), c.kind in _NUMERIC)
                       for c in columns),
                 "total" if r.total else "failed" if r.failed else "")
        for r in v.rows)
    header = tuple((c.short_header or c.header)(lang) for c in columns)
    return Table(v.name, v.title, header, rows, tuple(c.header(lang) for c in columns))


def _share_text(share: float | None, done: int, of: int, lang: str) -> str:
    return f"{formatting.percent(share, lang)} ({formatting.count(done, lang)}/{formatting.count(of, lang)})"


def _completion_chart(caption: str, lines: Sequence[InstitutionLine], lang: str) -> Chart:
    return Chart(caption, tuple(
        Bar(line.label or t("rep_not_set", lang), line.rate, _share_text(line.rate, line.completed,
                                                                              line.enrolled, lang))
        for line in lines))


def _sessions_chart(report: CompletionReport, lang: str) -> Chart:
    bars = []
    totals = report.totals
    for n, s in enumerate(report.sessions):
        # Attended over those whose attendance is known (a session not yet taken has none: no bar).
        known = totals.marked[n] if totals.marked else 0
        share = totals.session_rate(n) if s.tracked else None
        text = (_share_text(share, totals.attended[n], known, lang) if s.tracked and known
                else t("rep_not_tracked", lang) if not s.tracked else "—")
        bars.append(Bar(session_title(s, lang), share, text))
    return Chart(t("rep_chart_sessions", lang), tuple(bars))


def render_html(report: CompletionReport, *, lang: str = "fr") -> bytes:
    """The completion report as a single HTML page."""
    charts = [_completion_chart(t("rep_chart_institutions", lang), report.institutions, lang)]
    if has_cohorts(report):
        charts.append(_completion_chart(t("rep_chart_cohorts", lang), report.cohorts, lang))
    charts.append(_sessions_chart(report, lang))
    views = {v.name: v for v in all_views(report, lang)}
    order = ("institutions", "cohorts", "sessions", "participants")  # the summary before the long list
    return render_page(
        "completion.html.j2", lang=lang,
        title=f"{t('rep_title', lang)} – {report.snapshot.programme_title}",
        meta=[snapshot_label(report, lang), since_label(report, lang)],
        warnings=banner_lines(report, lang),
        charts=charts,
        tables=[table(views[name], lang) for name in order if name in views],
    )
