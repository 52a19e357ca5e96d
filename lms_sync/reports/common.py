"""What the renderers share: a cell as text, the fixed words, the lines the reader must see first."""

from __future__ import annotations

from typing import Any

from ..i18n import t
from . import formatting
from .data import CompletionReport
from .views import Kind, Mark, View

# Cell starts a spreadsheet reads as a formula (OWASP CSV injection): = + - @, and tab or carriage
# return, which some spreadsheets skip before looking for one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def yes_no(value: bool | None, lang: str) -> str:
    """``oui``/``non`` (or yes/no); empty when unknown."""
    if value is None:
        return ""
    return t("rep_yes" if value else "rep_no", lang)


def status_text(status: str, lang: str) -> str:
    """How a row's read status is shown (empty when read fine)."""
    return t(f"rep_status_{status}", lang)


def mark_text(mark: Mark, lang: str) -> str:
    """A participant's attendance of one session: the status taken (Attendance activity), else yes/no."""
    return mark.status if mark.status else yes_no(mark.attended, lang)


def cell_text(kind: Kind, value: Any, lang: str, *, prose: bool = False) -> str:
    """A typed value as a table cell: CSV's (``prose`` False) or the HTML page's (numbers and dates as prose)."""
    if kind is Kind.TEXT:
        return str(value)
    if kind is Kind.COUNT:
        return formatting.count(value, lang) if prose else str(value)
    if kind is Kind.RATE:
        return formatting.rate_number(value, lang)
    if kind is Kind.MOMENT:
        return formatting.moment(value, lang) if prose else formatting.table_moment(value)
    if kind is Kind.YES_NO:
        return yes_no(value, lang)
    if kind is Kind.MARK:
        return mark_text(value, lang)
    if kind is Kind.STATUS:
        return status_text(value, lang)
    raise AssertionError(f"unhandled column kind {kind}")


def row_text(view: View, item: Any, lang: str) -> list[str]:
    """One row of a view as the text cells a CSV holds."""
    return [cell_text(c.kind, c.value(item), lang) for c in view.shown]


def banner_lines(report: CompletionReport, lang: str) -> list[str]:
    """What the reader must know first: incomplete snapshot, completion off."""
    out: list[str] = []
    if not report.complete:
        out.append(t("rep_incomplete", lang).format(n=report.totals.failed))
    if not report.snapshot.completion_enabled:
        out.append(t("rep_completion_off", lang))
    return out


def snapshot_label(report: CompletionReport, lang: str) -> str:
    """"Snapshot 12 of 21 Jan 2021 10:30"."""
    return t("rep_snapshot", lang).format(run=report.snapshot.run_id,
                                          date=formatting.moment(report.taken_at_local, lang))


def since_label(report: CompletionReport, lang: str) -> str:
    """How many completed since the asked date, or since the previous snapshot."""
    n = formatting.count(report.since_count, lang)
    if report.since is not None:
        return t("rep_since_date", lang).format(date=formatting.day_only(report.since, lang), n=n)
    if report.previous_run is None:  # nothing to compare with: say how many so far, not "since"
        return t("rep_first_snapshot", lang).format(n=n)
    return t("rep_since_previous", lang).format(n=n)
