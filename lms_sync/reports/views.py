"""The completion report's views, each column declared once: header, kind, value, JSON key.

A view is one table: participants, institutions, cohorts (when some participant has one) or
sessions. CSV writes one view per file, XLSX one sheet per view, HTML one table per view, and the
JSON report's keys come from the same columns, so a new column is one line here. Renderers turn
a column's ``kind`` into text, a typed cell or a JSON value; they never pick values themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from ..i18n import t
from ..participant_fields import SHOWN
from ..snapshots import SessionInfo
from .data import CompletionReport, InstitutionLine, ParticipantLine

VIEW_NAMES: tuple[str, ...] = ("participants", "institutions", "cohorts", "sessions")


class Kind(Enum):
    """What a column holds, which decides how each format writes it."""

    TEXT = "text"  # str
    COUNT = "count"  # int
    RATE = "rate"  # float 0..1, None when unknown
    MOMENT = "moment"  # local datetime, None when absent
    YES_NO = "yes_no"  # bool, None when unknown
    MARK = "mark"  # Mark: a participant's attendance of one session (JSON: json_key and "statuses" maps)
    STATUS = "status"  # a participant's read status code (ok, failed, no_access)


@dataclass(frozen=True)
class Mark:
    """One participant at one session: attended or not (None: unknown), and the status a teacher took."""

    attended: bool | None
    status: str | None


@dataclass(frozen=True)
class Column:
    """One column of a view."""

    key: str  # stable name (tests and code refer to it)
    header: Callable[[str], str]  # lang -> its title
    kind: Kind
    value: Callable[[Any], Any]  # the row's item -> the typed value
    json_key: str | None = None  # where the JSON report puts it; None: not in the JSON
    json_sub: str | None = None  # per-session columns: JSON ``{json_key: {json_sub: value}}``
    json_value: Callable[[Any], Any] | None = None  # the JSON value when it is not the typed value
    table: bool = True  # False: the JSON only (a count the tables leave out)
    short_header: Callable[[str], str] | None = None  # the HTML table's title when the full one is long
    long_text: bool = False  # free text that may be long (names, institutions): wraps in a spreadsheet


@dataclass(frozen=True)
class Row:
    """One row: the item the columns read, and how it stands out."""

    item: Any
    total: bool = False  # the totals line
    failed: bool = False  # a participant Moodle could not be read for


@dataclass(frozen=True)
class View:
    """One table of the report."""

    name: str  # one of VIEW_NAMES
    title: str  # its sheet name and heading, in the report's language
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    json_maps: tuple[str, ...] = ()  # the JSON keys holding a map per session, present even with no session

    @property
    def shown(self) -> tuple[Column, ...]:
        """The columns tables show (JSON-only ones left out)."""
        return tuple(c for c in self.columns if c.table)


def heading(key: str) -> Callable[[str], str]:
    """A column title read from the message catalogue in the report's language."""
    return lambda lang: t(key, lang)


def session_title(session: SessionInfo, lang: str) -> str:
    """A session's title, marked when cancelled."""
    return t("rep_cancelled", lang).format(session=session.title) if session.cancelled else session.title


def session_number(index: int, lang: str) -> str:
    """"Séance 2": a session by its place in the programme."""
    return f"{t('rep_session', lang)} {index + 1}"


def has_cohorts(report: CompletionReport) -> bool:
    """True when some participant is in a cohort: only then do reports show cohorts."""
    return bool(report.cohorts)  # the data leaves it empty when nobody has one


# --------------------------------------------------------------------------------- participants


def _profile_column(field: Any) -> Column:
    # An e-mail is one word: it reads (and is copied) best on one line, so it is not narrowed to wrap.
    return Column(field.key, heading(field.label), Kind.TEXT, text_of(field.key),
                  json_key=field.json_key or field.key, long_text=field.key != "email")


def text_of(attribute: str) -> Callable[[Any], str]:
    """A column value: the item's ``attribute`` as text."""
    return lambda item: str(getattr(item, attribute))


def _mark_column(report: CompletionReport, index: int) -> Column:
    session = report.sessions[index]

    def mark(p: ParticipantLine) -> Mark:
        status = p.statuses[index] if index < len(p.statuses) else None
        return Mark(p.attended[index], status)

    # A page shows "Séance 1" (the full title on hover and in the sessions table): four programme titles
    # as column headers made the participants table wider than a 1200-pixel screen.
    return Column(f"session:{session.id}", lambda lang: session_title(session, lang), Kind.MARK, mark,
                  json_key="attended", json_sub=session.id, short_header=lambda lang: session_number(index, lang))


def participant_columns(report: CompletionReport) -> tuple[Column, ...]:
    """The participants view's columns, in order."""
    return (
        Column("user_id", heading("rep_user_id"), Kind.COUNT, lambda p: p.user_id, json_key="user_id", table=False),
        *(_profile_column(f) for f in SHOWN),
        Column("cohort", heading("rep_cohort"), Kind.TEXT, lambda p: p.cohort, json_key="cohort",
               table=has_cohorts(report), long_text=True),
        *(_mark_column(report, i) for i in range(len(report.sessions))),
        Column("attendance_rate", heading("rep_attendance_rate"), Kind.RATE, lambda p: p.attendance_rate,
               json_key="attendance_rate"),
        Column("completed", heading("rep_completed"), Kind.YES_NO, lambda p: p.completed, json_key="completed"),
        Column("time_completed", heading("rep_time_completed"), Kind.MOMENT, lambda p: p.time_completed,
               json_key="time_completed"),
        Column("status", heading("rep_status"), Kind.STATUS, lambda p: p.status, json_key="status"),
    )


def participants_view(report: CompletionReport, lang: str) -> View:
    """One row per participant."""
    rows = tuple(Row(p, failed=p.status == "failed") for p in report.participants)
    return View("participants", t("rep_participants", lang), participant_columns(report), rows,
                json_maps=("attended", "statuses"))


# ------------------------------------------------------------------------------ counts per group


@dataclass(frozen=True)
class GroupLine:
    """The counts of one institution or cohort (or the totals), with its name as shown."""

    name: str  # as Moodle has it ("" when not set, and for the totals)
    shown: str  # as the tables show it: "(non renseignée)", "Total"
    counts: InstitutionLine


def count_columns(report: CompletionReport, name_key: str, label: str) -> tuple[Column, ...]:
    """The columns of counts per institution or per cohort; ``name_key`` is the group's JSON key."""
    def attended(i: int) -> Callable[[GroupLine], int]:
        return lambda g: g.counts.attended[i]

    def marked(i: int) -> Callable[[GroupLine], int]:
        return lambda g: g.counts.marked[i] if g.counts.marked else 0

    sessions = report.sessions
    return (
        Column(name_key, heading(label), Kind.TEXT, lambda g: g.shown, json_key=name_key,
               json_value=lambda g: g.name, long_text=True),
        Column("enrolled", heading("rep_enrolled"), Kind.COUNT, lambda g: g.counts.enrolled, json_key="enrolled"),
        *(Column(f"attended:{s.id}", present_title(s), Kind.COUNT, attended(i), json_key="attended",
                 json_sub=s.id, short_header=present_short(i)) for i, s in enumerate(sessions)),
        *(Column(f"marked:{s.id}", heading("rep_marked_count"), Kind.COUNT, marked(i), json_key="marked",
                 json_sub=s.id, table=False) for i, s in enumerate(sessions)),
        Column("attendance_rate", heading("rep_attendance_rate"), Kind.RATE, lambda g: g.counts.attendance_rate,
               json_key="attendance_rate"),
        Column("completed", heading("rep_completed_count"), Kind.COUNT, lambda g: g.counts.completed,
               json_key="completed"),
        Column("completion_rate", heading("rep_rate"), Kind.RATE, lambda g: g.counts.rate, json_key="completion_rate"),
        Column("failed", heading("rep_failed"), Kind.COUNT, lambda g: g.counts.failed, json_key="failed"),
        Column("no_access", heading("rep_no_access"), Kind.COUNT, lambda g: g.counts.no_access,
               json_key="no_access"),
    )


def present_title(session: SessionInfo) -> Callable[[str], str]:
    """"Présents – Séance 1 – Introduction…"."""
    return lambda lang: t("rep_present", lang).format(session=session_title(session, lang))


def present_short(index: int) -> Callable[[str], str]:
    """"Présents – Séance 1"."""
    return lambda lang: t("rep_present", lang).format(session=session_number(index, lang))


def _groups_view(report: CompletionReport, lang: str, name: str, lines: Sequence[InstitutionLine],
                 name_key: str, label: str, title: str) -> View:
    not_set = t("rep_not_set", lang)
    rows = (*(Row(GroupLine(line.label, line.label or not_set, line)) for line in lines),
            Row(GroupLine("", t("rep_total", lang), report.totals), total=True))
    return View(name, t(title, lang), count_columns(report, name_key, label), rows, json_maps=("attended", "marked"))


def institutions_view(report: CompletionReport, lang: str) -> View:
    """Counts per institution, then the totals."""
    return _groups_view(report, lang, "institutions", report.institutions, "institution", "rep_institution",
                        "rep_institutions")


def cohorts_view(report: CompletionReport, lang: str) -> View:
    """Counts per cohort, then the totals."""
    return _groups_view(report, lang, "cohorts", report.cohorts, "cohort", "rep_cohort", "rep_cohorts")


# ------------------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionLine:
    """One session and the attendance counted for it among the enrolled."""

    session: SessionInfo
    number: int  # its place in the programme, from 1
    attended: int
    marked: int
    rate: float | None

    @property
    def start(self) -> datetime:
        """Its start, local time."""
        return datetime.fromisoformat(self.session.start)


def session_lines(report: CompletionReport) -> tuple[SessionLine, ...]:
    """Each session with its attendance counts (from the totals)."""
    totals = report.totals
    return tuple(SessionLine(s, i + 1, totals.attended[i], totals.marked[i] if totals.marked else 0,
                             totals.session_rate(i)) for i, s in enumerate(report.sessions))


def session_columns() -> tuple[Column, ...]:
    """The sessions view's columns."""
    return (
        Column("number", heading("rep_number"), Kind.COUNT, lambda s: s.number),
        Column("id", heading("rep_session_id"), Kind.TEXT, lambda s: s.session.id, json_key="id"),
        Column("title", heading("rep_session"), Kind.TEXT, lambda s: s.session.title, json_key="title",
               long_text=True),
        Column("start", heading("rep_start"), Kind.MOMENT, lambda s: s.start, json_key="start",
               json_value=lambda s: s.session.start),
        Column("end", heading("rep_end"), Kind.TEXT, lambda s: s.session.end, json_key="end", table=False),
        Column("cancelled", heading("rep_session_cancelled"), Kind.YES_NO, lambda s: s.session.cancelled,
               json_key="cancelled"),
        Column("tracked", heading("rep_tracked"), Kind.YES_NO, lambda s: s.session.tracked, json_key="tracked"),
        Column("attended", heading("rep_attended_count"), Kind.COUNT, lambda s: s.attended, json_key="attended"),
        Column("marked", heading("rep_marked_count"), Kind.COUNT, lambda s: s.marked, json_key="marked"),
        Column("attendance_rate", heading("rep_attendance_rate"), Kind.RATE, lambda s: s.rate,
               json_key="attendance_rate"),
    )


def sessions_view(report: CompletionReport, lang: str) -> View:
    """One row per session: when, tracked or not, attendance among the enrolled."""
    return View("sessions", t("rep_sessions", lang), session_columns(), tuple(Row(s) for s in session_lines(report)))


# ------------------------------------------------------------------------------------------ all

_BUILDERS: dict[str, Callable[[CompletionReport, str], View]] = {
    "participants": participants_view,
    "institutions": institutions_view,
    "cohorts": cohorts_view,
    "sessions": sessions_view,
}


def view(report: CompletionReport, name: str, lang: str) -> View:
    """The view ``name`` of the report (ValueError naming the views for another name)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown report view {name!r}; use one of {', '.join(VIEW_NAMES)}")
    return _BUILDERS[name](report, lang)


def all_views(report: CompletionReport, lang: str) -> tuple[View, ...]:
    """Every view the report has, in order (cohorts only when some participant has one)."""
    return tuple(view(report, n, lang) for n in VIEW_NAMES if n != "cohorts" or has_cohorts(report))
