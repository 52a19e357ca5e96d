"""The attestation report's views (the list for the certificate office, counts per institution and cohort).

Built on ``attestation.build_attestation`` and declared like the completion report's views
(``views.py``): each column once, read by the CSV, XLSX, JSON and HTML renderers. The list is in
the order the certificate office works through it: who qualifies first, then who is one session
short, then the others; within each, the report's order (institution, then name).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..i18n import t
from ..participant_fields import SHOWN
from .attestation import Attestation, AttestationCount, AttestationLine, AttestationStatus, Shortfall
from .views import Column, Kind, Row, View, heading

ATTESTATION_VIEWS: tuple[str, ...] = ("participants", "institutions", "cohorts")
STATUS_ORDER = (AttestationStatus.QUALIFIES, AttestationStatus.ONE_SESSION_SHORT, AttestationStatus.NOT_QUALIFIED)


def rule_text(att: Attestation, lang: str) -> str:
    """The rule in words: "au moins 3 séances suivies sur 4 et formation achevée"."""
    parts = []
    if att.rule.sessions_attended is not None:
        parts.append(t("att_rule_sessions", lang).format(n=att.rule.sessions_attended, of=att.sessions_held))
    if att.rule.course_completed:
        parts.append(t("att_rule_completed", lang))
    return t("att_and", lang).join(parts)


def decision_text(status: AttestationStatus, lang: str) -> str:
    """"Obtient l'attestation", "À une séance près", "Non"."""
    return t(f"att_status_{status.value}", lang)


def reason_text(line: AttestationLine, lang: str) -> str:
    """What is missing, in words; what is not known yet said too (attendance not taken)."""
    words = []
    for shortfall in line.shortfalls:
        if shortfall is Shortfall.SESSIONS:
            words.append(t("att_short_sessions", lang).format(n=line.attended, of=line.needed))
        else:
            words.append(t(f"att_short_{shortfall.value}", lang))
    if line.unknown and not line.qualifies:
        words.append(t("att_unknown", lang).format(n=line.unknown))
    return " ; ".join(words) if lang == "fr" else "; ".join(words)


def _participant_text(attribute: str) -> Callable[[AttestationLine], str]:
    return lambda line: str(getattr(line.participant, attribute))


def participant_columns(att: Attestation, lang: str) -> tuple[Column, ...]:
    """The list's columns: who, their attendance and completion, the decision and why (worded in ``lang``)."""
    def profile(field_key: str, json_key: str) -> Column:
        label = next(f.label for f in SHOWN if f.key == field_key)
        assert label is not None
        return Column(field_key, heading(label), Kind.TEXT, _participant_text(field_key),
                      json_key=json_key, long_text=field_key != "email")

    has_cohorts = bool(att.cohorts)
    return (
        Column("user_id", heading("rep_user_id"), Kind.COUNT, lambda a: a.participant.user_id, json_key="user_id",
               table=False),
        profile("fullname", "name"),
        profile("email", "email"),
        profile("institution", "institution"),
        Column("cohort", heading("rep_cohort"), Kind.TEXT, lambda a: a.participant.cohort, json_key="cohort",
               table=has_cohorts, long_text=True),
        Column("attended", heading("att_attended"), Kind.COUNT, lambda a: a.attended, json_key="attended"),
        Column("needed", heading("att_needed"), Kind.COUNT, lambda a: a.needed, json_key="needed",
               table=att.rule.sessions_attended is not None),
        Column("unknown", heading("att_unknown_count"), Kind.COUNT, lambda a: a.unknown, json_key="unknown"),
        Column("completed", heading("rep_completed"), Kind.YES_NO, lambda a: a.participant.completed,
               json_key="completed"),
        Column("decision", heading("att_decision"), Kind.TEXT, lambda a: decision_text(a.status, lang),
               json_key="status", json_value=lambda a: a.status.value),
        Column("reason", heading("att_reason"), Kind.TEXT, lambda a: reason_text(a, lang), json_key="shortfalls",
               json_value=lambda a: [s.value for s in a.shortfalls], long_text=True),
    )


def ordered(att: Attestation) -> list[AttestationLine]:
    """Who qualifies first, then one session short, then the others; the report's order within each."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return sorted(att.lines, key=lambda line: rank[line.status])  # sorted() is stable: the report's order stays


def participants_view(att: Attestation, lang: str) -> View:
    """One row per participant, with the decision."""
    rows = tuple(Row(line, failed=line.participant.status == "failed") for line in ordered(att))
    return View("participants", t("att_list", lang), participant_columns(att, lang), rows)


class Group(NamedTuple):
    """One institution's or cohort's counts (or the totals), with its name as shown."""

    counts: AttestationCount
    shown: str


def count_columns(name_key: str, label: str) -> tuple[Column, ...]:
    """Counts per institution or cohort."""
    return (
        Column(name_key, heading(label), Kind.TEXT, lambda g: g.shown, json_key=name_key, json_value=lambda g: g.counts.label,
               long_text=True),
        Column("participants", heading("att_participants"), Kind.COUNT, lambda g: g.counts.participants,
               json_key="participants"),
        Column("qualifies", heading("att_count_qualifies"), Kind.COUNT, lambda g: g.counts.qualifies, json_key="qualifies"),
        Column("one_session_short", heading("att_count_one_short"), Kind.COUNT, lambda g: g.counts.one_session_short,
               json_key="one_session_short"),
        Column("not_qualified", heading("att_count_not_qualified"), Kind.COUNT, lambda g: g.counts.not_qualified,
               json_key="not_qualified"),
        Column("rate", heading("att_rate"), Kind.RATE,
               lambda g: g.counts.qualifies / g.counts.participants if g.counts.participants else None, json_key="rate"),
    )


def _groups(att: Attestation, lang: str, name: str, counts: Sequence[AttestationCount], name_key: str,
            label: str, title: str) -> View:
    not_set = t("rep_not_set", lang)
    rows = (*(Row(Group(c, c.label or not_set)) for c in counts), Row(Group(att.totals, t("rep_total", lang)), total=True))
    return View(name, t(title, lang), count_columns(name_key, label), rows)


def institutions_view(att: Attestation, lang: str) -> View:
    """How many qualify per institution, then the totals."""
    return _groups(att, lang, "institutions", att.institutions, "institution", "rep_institution", "rep_institutions")


def cohorts_view(att: Attestation, lang: str) -> View:
    """How many qualify per cohort, then the totals."""
    return _groups(att, lang, "cohorts", att.cohorts, "cohort", "rep_cohort", "rep_cohorts")


_BUILDERS: dict[str, Callable[[Attestation, str], View]] = {
    "participants": participants_view,
    "institutions": institutions_view,
    "cohorts": cohorts_view,
}


def attestation_view(att: Attestation, name: str, lang: str) -> View:
    """The view ``name`` (ValueError naming the views for another name)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown attestation view {name!r}; use one of {', '.join(ATTESTATION_VIEWS)}")
    return _BUILDERS[name](att, lang)


def attestation_views(att: Attestation, lang: str) -> tuple[View, ...]:
    """Every view, cohorts only when some participant has one."""
    return tuple(attestation_view(att, n, lang) for n in ATTESTATION_VIEWS if n != "cohorts" or att.cohorts)
