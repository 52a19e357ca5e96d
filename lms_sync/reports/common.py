"""Formatting shared by the renderers: the fixed words, cells of the two views, dates."""

from __future__ import annotations

from datetime import datetime

from ..i18n import t
from ..participant_fields import SHOWN
from .data import CompletionReport, InstitutionLine, ParticipantLine

DATE_FORMAT = "%Y-%m-%d %H:%M"
# Cell starts a spreadsheet reads as a formula (OWASP CSV injection): = + - @, and tab or carriage
# return, which some spreadsheets skip before looking for one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def yes_no(value: bool | None, lang: str) -> str:
    """``oui``/``non`` (or yes/no); empty when unknown."""
    if value is None:
        return ""
    return t("rep_yes" if value else "rep_no", lang)


def when(moment: datetime | None) -> str:
    """A local time as text, to the minute (empty when absent)."""
    return moment.strftime(DATE_FORMAT) if moment else ""


def rate(value: float | None, lang: str) -> str:
    """A percentage with one decimal, decimal comma in French."""
    if value is None:
        return ""
    text = f"{value * 100:.1f}"
    return text.replace(".", ",") if lang == "fr" else text


def session_title(report: CompletionReport, index: int, lang: str) -> str:
    """A session's column title, marked when cancelled."""
    s = report.sessions[index]
    return t("rep_cancelled", lang).format(session=s.title) if s.cancelled else s.title


def participant_header(report: CompletionReport, lang: str) -> list[str]:
    """Column titles of the participant view."""
    return [
        *(t(f.label, lang) for f in SHOWN if f.label),
        *(session_title(report, i, lang) for i in range(len(report.sessions))),
        t("rep_attendance_rate", lang),
        t("rep_completed", lang), t("rep_time_completed", lang), t("rep_status", lang),
    ]


def status_text(status: str, lang: str) -> str:
    """How a row's read status is shown (empty when read fine)."""
    return t(f"rep_status_{status}", lang)


def institution_name(name: str, lang: str) -> str:
    """An institution, or the "not set" label."""
    return name or t("rep_not_set", lang)


def institution_header(report: CompletionReport, lang: str) -> list[str]:
    """Column titles of the institution view."""
    return [
        t("rep_institution", lang), t("rep_enrolled", lang),
        *(t("rep_present", lang).format(session=session_title(report, i, lang)) for i in range(len(report.sessions))),
        t("rep_attendance_rate", lang),
        t("rep_completed_count", lang), t("rep_rate", lang), t("rep_failed", lang), t("rep_no_access", lang),
    ]


def participant_cells(p: ParticipantLine, lang: str) -> list[str]:
    """Text cells of one participant."""
    return [
        *profile_cells(p),
        *(session_cell(p, i, lang) for i in range(len(p.attended))),
        rate(p.attendance_rate, lang),
        yes_no(p.completed, lang), when(p.time_completed), status_text(p.status, lang),
    ]


def profile_cells(p: ParticipantLine) -> list[str]:
    """The participant's profile fields the reports show (participant_fields.SHOWN), in order."""
    return [str(getattr(p, f.key)) for f in SHOWN]


def session_cell(p: ParticipantLine, index: int, lang: str) -> str:
    """A participant's attendance of one session: the status taken (Attendance activity), else yes/no."""
    status = p.statuses[index] if index < len(p.statuses) else None
    return status if status else yes_no(p.attended[index], lang)


def institution_cells(line: InstitutionLine, lang: str, *, total: bool = False) -> list[str]:
    """Text cells of one institution (or of the totals)."""
    name = t("rep_total", lang) if total else institution_name(line.institution, lang)
    return [name, str(line.enrolled), *(str(n) for n in line.attended), rate(line.attendance_rate, lang),
            str(line.completed), rate(line.rate, lang), str(line.failed), str(line.no_access)]


def banner_lines(report: CompletionReport, lang: str) -> list[str]:
    """What the reader must know first: incomplete snapshot, completion off, recent completions."""
    out: list[str] = []
    if not report.complete:
        out.append(t("rep_incomplete", lang).format(n=report.totals.failed))
    if not report.snapshot.completion_enabled:
        out.append(t("rep_completion_off", lang))
    return out


def snapshot_label(report: CompletionReport, lang: str) -> str:
    """"Snapshot 12 of 2021-01-21 10:00"."""
    return t("rep_snapshot", lang).format(run=report.snapshot.run_id, date=when(report.taken_at_local))


def since_label(report: CompletionReport, lang: str) -> str:
    """How many completed since the asked date, or since the previous snapshot."""
    if report.since is not None:
        return t("rep_since_date", lang).format(date=report.since.isoformat(), n=report.since_count)
    if report.previous_run is None:  # nothing to compare with: say how many so far, not "since"
        return t("rep_first_snapshot", lang).format(n=report.since_count)
    return t("rep_since_previous", lang).format(n=report.since_count)
