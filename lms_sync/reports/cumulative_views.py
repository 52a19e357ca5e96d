"""The views of the report across programmes, declared like the completion report's (``views.py``).

``people``: each person once, what became of them in each programme (completed, not completed,
took part with completion unknown, or blank: not in it) and how many programmes they took and
completed. ``institutions``: per institution the distinct people trained and those who completed
at least one programme, then enrolled and completed per programme. ``programmes``: one row per
programme, the snapshot it comes from and its counts. The CSV, XLSX, JSON and HTML renderers read
these columns, so a column is declared once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..i18n import t
from .cumulative import CumulativeReport, Enrolment, InstitutionSummary, PersonLine, ProgrammeColumn
from .views import Column, Kind, Row, View, heading

CUMULATIVE_VIEWS: tuple[str, ...] = ("people", "institutions", "programmes")


def outcome_text(enrolment: Enrolment | None, lang: str) -> str:
    """One person in one programme, in words: "achevée", "non achevée", "suivie" (completion unknown), or ""."""
    if enrolment is None:
        return ""
    if enrolment.completed is None:
        return t("cum_took_part", lang)
    return t("cum_completed" if enrolment.completed else "cum_not_completed", lang)


def _enrolment_json(enrolment: Enrolment | None) -> dict[str, object] | None:
    if enrolment is None:
        return None
    return {"completed": enrolment.completed, "attended": enrolment.attended, "marked": enrolment.marked}


# ------------------------------------------------------------------------------------------ people


def _outcome_column(index: int, programme: ProgrammeColumn, lang: str) -> Column:
    def enrolment(p: PersonLine) -> Enrolment | None:
        return p.programmes[index]

    # Worded in the view's language (like the attestation's reasons); the JSON gets the facts.
    return Column(f"programme:{programme.id}", lambda _lang: programme.title, Kind.TEXT,
                  lambda p: outcome_text(enrolment(p), lang), json_key="programmes", json_sub=programme.id,
                  json_value=lambda p: _enrolment_json(enrolment(p)))


def people_view(report: CumulativeReport, lang: str) -> View:
    """One row per person, a column per programme."""
    columns = (
        Column("fullname", heading("rep_name"), Kind.TEXT, lambda p: p.fullname, json_key="fullname", long_text=True),
        Column("username", heading("cum_username"), Kind.TEXT, lambda p: p.username, json_key="username", table=False),
        Column("email", heading("rep_email"), Kind.TEXT, lambda p: p.email, json_key="email", long_text=True),
        Column("institution", heading("rep_institution"), Kind.TEXT, lambda p: p.institution, json_key="institution",
               long_text=True),
        *(_outcome_column(i, programme, lang) for i, programme in enumerate(report.programmes)),
        Column("trained", heading("cum_trained"), Kind.COUNT, lambda p: p.trained, json_key="trained"),
        Column("completed", heading("cum_completed_count"), Kind.COUNT, lambda p: p.completed, json_key="completed"),
    )
    return View("people", t("cum_people", lang), columns, tuple(Row(p) for p in report.people),
                json_maps=("programmes",))


# ------------------------------------------------------------------------------------ institutions


@dataclass(frozen=True)
class _Named:
    shown: str  # "(non renseignée)", "Total"
    summary: InstitutionSummary


def institutions_view(report: CumulativeReport, lang: str) -> View:
    """Counts per institution (distinct people, then per programme), then the totals."""
    def enrolled(i: int) -> Callable[[_Named], int]:
        return lambda n: n.summary.enrolled[i]

    def completed(i: int) -> Callable[[_Named], int]:
        return lambda n: n.summary.completed[i]

    def per_programme(key: str, programme: ProgrammeColumn) -> Callable[[str], str]:
        return lambda lang: t(key, lang).format(programme=programme.title)

    columns = (
        Column("institution", heading("rep_institution"), Kind.TEXT, lambda n: n.shown, json_key="institution",
               json_value=lambda n: n.summary.institution, long_text=True),
        Column("people", heading("cum_people_trained"), Kind.COUNT, lambda n: n.summary.people, json_key="people"),
        Column("completed_any", heading("cum_completed_any"), Kind.COUNT, lambda n: n.summary.completed_any,
               json_key="completed_any"),
        *(column for i, p in enumerate(report.programmes) for column in (
            Column(f"enrolled:{p.id}", per_programme("cum_enrolled_in", p), Kind.COUNT, enrolled(i), json_key="enrolled", json_sub=p.id),
            Column(f"completed:{p.id}", per_programme("cum_completed_in", p), Kind.COUNT, completed(i), json_key="completed", json_sub=p.id))),
    )
    not_set = t("rep_not_set", lang)
    rows = (*(Row(_Named(s.institution or not_set, s)) for s in report.institutions),
            Row(_Named(t("rep_total", lang), report.totals), total=True))
    return View("institutions", t("rep_institutions", lang), columns, rows, json_maps=("enrolled", "completed"))


# -------------------------------------------------------------------------------------- programmes


@dataclass(frozen=True)
class _Programme:
    column: ProgrammeColumn
    enrolled: int
    completed: int

    @property
    def rate(self) -> float | None:
        return self.completed / self.enrolled if self.enrolled else None


def programmes_view(report: CumulativeReport, lang: str) -> View:
    """One row per programme: its snapshot, enrolled, completed, completion rate."""
    columns = (
        Column("id", heading("cum_programme_id"), Kind.TEXT, lambda p: p.column.id, json_key="id"),
        Column("title", heading("cum_programme"), Kind.TEXT, lambda p: p.column.title, json_key="title",
               long_text=True),
        Column("run_id", heading("cum_run"), Kind.COUNT, lambda p: p.column.run_id, json_key="run_id"),
        Column("taken_at", heading("cum_taken_at"), Kind.MOMENT, lambda p: p.column.taken_at, json_key="taken_at"),
        Column("complete", heading("cum_complete"), Kind.YES_NO, lambda p: p.column.complete, json_key="complete"),
        Column("enrolled", heading("rep_enrolled"), Kind.COUNT, lambda p: p.enrolled, json_key="enrolled"),
        Column("completed", heading("rep_completed_count"), Kind.COUNT, lambda p: p.completed, json_key="completed"),
        Column("completion_rate", heading("rep_rate"), Kind.RATE, lambda p: p.rate, json_key="completion_rate"),
    )
    rows = tuple(Row(_Programme(c, report.totals.enrolled[i], report.totals.completed[i]))
                 for i, c in enumerate(report.programmes))
    return View("programmes", t("cum_programmes", lang), columns, rows)


_BUILDERS: dict[str, Callable[[CumulativeReport, str], View]] = {
    "people": people_view,
    "institutions": institutions_view,
    "programmes": programmes_view,
}


def cumulative_view(report: CumulativeReport, name: str, lang: str) -> View:
    """The view ``name`` (ValueError naming the views for another name)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown view {name!r} of the report across programmes; use one of "
                         f"{', '.join(CUMULATIVE_VIEWS)}")
    return _BUILDERS[name](report, lang)


def cumulative_views(report: CumulativeReport, lang: str) -> tuple[View, ...]:
    """Every view, in order."""
    return tuple(cumulative_view(report, n, lang) for n in CUMULATIVE_VIEWS)
