"""The fixed words participants and DGIDT see, in French (default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

MESSAGES: dict[str, dict[Lang, str]] = {
    "cancelled_prefix": {"fr": "ANNULÉ – ", "en": "CANCELLED – "},
    "platform": {"fr": "Plateforme", "en": "Platform"},
    "programme": {"fr": "Programme", "en": "Programme"},
    "organizer": {"fr": "Organisateur", "en": "Organiser"},
    "partners": {"fr": "Partenaires", "en": "Partners"},
    # Completion reports (`lms-sync report completion`, lms_sync.reports).
    "rep_title": {"fr": "Rapport d'achèvement", "en": "Completion report"},
    "rep_participants": {"fr": "Participants", "en": "Participants"},
    "rep_institutions": {"fr": "Par institution", "en": "By institution"},
    "rep_name": {"fr": "Nom", "en": "Name"},
    "rep_email": {"fr": "Courriel", "en": "Email"},
    "rep_institution": {"fr": "Institution", "en": "Institution"},
    "rep_department": {"fr": "Service", "en": "Department"},
    "rep_completed": {"fr": "Formation achevée", "en": "Course completed"},
    "rep_time_completed": {"fr": "Achevée le", "en": "Completed on"},
    "rep_status": {"fr": "Lecture", "en": "Read status"},
    "rep_enrolled": {"fr": "Inscrits", "en": "Enrolled"},
    "rep_completed_count": {"fr": "Ont achevé", "en": "Completed"},
    "rep_rate": {"fr": "Taux d'achèvement (%)", "en": "Completion rate (%)"},
    "rep_failed": {"fr": "Non lus", "en": "Not read"},
    "rep_present": {"fr": "Présents – {session}", "en": "Attended – {session}"},
    "rep_yes": {"fr": "oui", "en": "yes"},
    "rep_no": {"fr": "non", "en": "no"},
    "rep_status_ok": {"fr": "", "en": ""},
    "rep_status_failed": {"fr": "ÉCHEC DE LECTURE", "en": "READ FAILED"},
    "rep_status_no_access": {"fr": "sans accès", "en": "no access"},
    "rep_total": {"fr": "Total", "en": "Total"},
    "rep_not_set": {"fr": "(non renseignée)", "en": "(not set)"},
    "rep_cancelled": {"fr": "{session} (annulée)", "en": "{session} (cancelled)"},
    "rep_snapshot": {"fr": "Instantané n° {run} du {date}", "en": "Snapshot {run} of {date}"},
    "rep_incomplete": {
        "fr": "INSTANTANÉ INCOMPLET : {n} participant(s) n'ont pas pu être lus ; les chiffres sont des minimums.",
        "en": "INCOMPLETE SNAPSHOT: {n} participant(s) could not be read; the counts are lower bounds.",
    },
    "rep_completion_off": {
        "fr": "L'achèvement n'est pas activé ou pas lisible dans le cours Moodle.",
        "en": "Completion is not enabled, or not readable, in the Moodle course.",
    },
    "rep_since_date": {"fr": "Ont achevé depuis le {date} : {n}", "en": "Completed since {date}: {n}"},
    "rep_since_previous": {
        "fr": "Ont achevé depuis l'instantané précédent : {n}",
        "en": "Completed since the previous snapshot: {n}",
    },
    "rep_chart_institutions": {"fr": "Taux d'achèvement par institution", "en": "Completion rate by institution"},
    "rep_chart_sessions": {"fr": "Présence par séance", "en": "Attendance by session"},
    "rep_not_tracked": {"fr": "présence non suivie", "en": "attendance not tracked"},
}


def t(key: str, lang: str = "fr") -> str:
    """The text for ``key`` in ``lang`` (French when the language is unknown)."""
    texts = MESSAGES[key]
    return texts.get(lang, texts["fr"])  # type: ignore[call-overload]
