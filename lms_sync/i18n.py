"""The fixed words participants and DGIDT see, in French (default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

MESSAGES: dict[str, dict[Lang, str]] = {
    "cancelled_prefix": {"fr": "ANNULÉ – ", "en": "CANCELLED – "},
    "platform": {"fr": "Plateforme", "en": "Platform"},
    "attendance_name": {"fr": "Présence aux séances", "en": "Session attendance"},
    "feed_all_name": {"fr": "Séances de formation", "en": "Training sessions"},
    "programme": {"fr": "Programme", "en": "Programme"},
    "organizer": {"fr": "Organisateur", "en": "Organiser"},
    "partners": {"fr": "Partenaires", "en": "Partners"},
    # The page of `lms-sync serve` (GET /).
    "web_sessions": {"fr": "Séances", "en": "Sessions"},
    "web_subscribe": {"fr": "S'abonner au calendrier", "en": "Subscribe to the calendar"},
    "web_subscribe_help": {
        "fr": "Ajoutez ce lien à Google Agenda, Outlook, Calendrier d'Apple ou Thunderbird : "
        "les changements de date et les annulations y apparaîtront d'eux-mêmes.",
        "en": "Add this link to Google Calendar, Outlook, Apple Calendar or Thunderbird: "
        "moved and cancelled sessions will show up there by themselves.",
    },
    "web_webcal": {"fr": "Ouvrir dans mon application d'agenda (webcal)", "en": "Open in my calendar app (webcal)"},
    "web_https": {"fr": "Adresse du flux", "en": "Feed address"},
    "web_date": {"fr": "Date", "en": "Date"},
    "web_time": {"fr": "Horaire (heure de {city})", "en": "Time ({city} time)"},
    "web_session": {"fr": "Séance", "en": "Session"},
    "web_cancelled": {"fr": "Annulée", "en": "Cancelled"},
    "web_no_sessions": {"fr": "Aucune séance n'est programmée.", "en": "No session is scheduled."},
    "web_other_lang": {"fr": "English", "en": "Français"},
    "web_all_programmes": {"fr": "Toutes les formations", "en": "Every programme"},
    "web_subscribe_all": {"fr": "S'abonner à toutes les formations", "en": "Subscribe to every programme"},
    "web_subscribe_one": {"fr": "S'abonner à cette formation seulement", "en": "Subscribe to this programme only"},
    "web_archived": {"fr": "Terminée", "en": "Completed"},
    # Space-separated, Monday first and January first, for dates written out in full.
    "web_weekdays": {
        "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
        "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    },
    "web_months": {
        "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "en": "January February March April May June July August September October November December",
    },
    # Completion reports (`lms-sync report completion`, lms_sync.reports).
    "rep_title": {"fr": "Rapport d'achèvement", "en": "Completion report"},
    "rep_participants": {"fr": "Participants", "en": "Participants"},
    "rep_institutions": {"fr": "Par institution", "en": "By institution"},
    "rep_name": {"fr": "Nom", "en": "Name"},
    "rep_email": {"fr": "Courriel", "en": "Email"},
    "rep_institution": {"fr": "Institution", "en": "Institution"},
    "rep_department": {"fr": "Service", "en": "Department"},
    "rep_attendance_rate": {"fr": "Taux de présence (%)", "en": "Attendance rate (%)"},
    "rep_completed": {"fr": "Formation achevée", "en": "Course completed"},
    "rep_time_completed": {"fr": "Achevée le", "en": "Completed on"},
    # What Moodle gave for the row: empty when read fine (was "Lecture", which nobody understood).
    "rep_status": {"fr": "Données Moodle", "en": "Moodle data"},
    "rep_enrolled": {"fr": "Inscrits", "en": "Enrolled"},
    "rep_completed_count": {"fr": "Ont achevé", "en": "Completed"},
    "rep_rate": {"fr": "Taux d'achèvement (%)", "en": "Completion rate (%)"},
    "rep_failed": {"fr": "Non lus", "en": "Not read"},
    "rep_no_access": {"fr": "Plus inscrits", "en": "No longer enrolled"},
    "rep_present": {"fr": "Présents – {session}", "en": "Attended – {session}"},
    "rep_user_id": {"fr": "Identifiant Moodle", "en": "Moodle user id"},
    "rep_cohort": {"fr": "Groupe", "en": "Cohort"},
    "rep_cohorts": {"fr": "Par groupe", "en": "By cohort"},
    "rep_sessions": {"fr": "Par séance", "en": "By session"},
    "rep_session": {"fr": "Séance", "en": "Session"},
    "rep_number": {"fr": "N°", "en": "No."},
    "rep_session_id": {"fr": "Code de la séance", "en": "Session id"},
    "rep_start": {"fr": "Début", "en": "Start"},
    "rep_end": {"fr": "Fin", "en": "End"},
    "rep_session_cancelled": {"fr": "Annulée", "en": "Cancelled"},
    "rep_tracked": {"fr": "Présence suivie", "en": "Attendance tracked"},
    "rep_attended_count": {"fr": "Présents", "en": "Attended"},
    "rep_marked_count": {"fr": "Présence relevée", "en": "Attendance known"},
    "rep_yes": {"fr": "oui", "en": "yes"},
    "rep_no": {"fr": "non", "en": "no"},
    "rep_status_ok": {"fr": "", "en": ""},
    "rep_status_failed": {"fr": "ÉCHEC DE LECTURE", "en": "READ FAILED"},
    "rep_status_no_access": {"fr": "plus inscrit", "en": "no longer enrolled"},
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
    "rep_first_snapshot": {
        "fr": "Premier instantané : {n} ont achevé à ce jour",
        "en": "First snapshot: {n} completed so far",
    },
    "rep_since_previous": {
        "fr": "Ont achevé depuis l'instantané précédent : {n}",
        "en": "Completed since the previous snapshot: {n}",
    },
    "rep_chart_institutions": {"fr": "Taux d'achèvement par institution", "en": "Completion rate by institution"},
    "rep_chart_cohorts": {"fr": "Taux d'achèvement par groupe", "en": "Completion rate by cohort"},
    "rep_chart_sessions": {"fr": "Présence par séance", "en": "Attendance by session"},
    # The attestation report (`lms-sync report attestation`, lms_sync.reports.attestation_views).
    "att_title": {"fr": "Attestations de formation", "en": "Training attestations"},
    "att_list": {"fr": "Attestations", "en": "Attestations"},
    "att_rule": {"fr": "Règle : {rule}", "en": "Rule: {rule}"},
    "att_rule_sessions": {"fr": "au moins {n} séances suivies sur {of}", "en": "at least {n} of {of} sessions attended"},
    "att_rule_completed": {"fr": "formation achevée dans Moodle", "en": "course completed in Moodle"},
    "att_and": {"fr": " et ", "en": " and "},
    "att_attended": {"fr": "Séances suivies", "en": "Sessions attended"},
    "att_needed": {"fr": "Séances exigées", "en": "Sessions needed"},
    "att_unknown_count": {"fr": "Séances non relevées", "en": "Sessions not taken yet"},
    "att_decision": {"fr": "Décision", "en": "Decision"},
    "att_reason": {"fr": "Ce qui manque", "en": "What is missing"},
    "att_status_qualifies": {"fr": "Obtient l'attestation", "en": "Qualifies"},
    "att_status_one_session_short": {"fr": "À une séance près", "en": "One session short"},
    "att_status_not_qualified": {"fr": "Ne l'obtient pas", "en": "Does not qualify"},
    "att_short_sessions": {"fr": "{n} séance(s) suivie(s) sur {of} exigées", "en": "{n} of {of} sessions needed"},
    "att_short_completion": {"fr": "formation non achevée", "en": "course not completed"},
    "att_short_completion_unknown": {"fr": "achèvement non lu dans Moodle", "en": "completion not read from Moodle"},
    "att_short_not_enrolled": {"fr": "plus inscrit au cours", "en": "no longer enrolled in the course"},
    "att_unknown": {"fr": "{n} séance(s) pas encore relevée(s)", "en": "{n} session(s) not taken yet"},
    "att_participants": {"fr": "Participants", "en": "Participants"},
    "att_count_qualifies": {"fr": "Obtiennent l'attestation", "en": "Qualify"},
    "att_count_one_short": {"fr": "À une séance près", "en": "One session short"},
    "att_count_not_qualified": {"fr": "Ne l'obtiennent pas", "en": "Do not qualify"},
    "att_rate": {"fr": "Part qui l'obtient (%)", "en": "Share qualifying (%)"},
    "att_lower_bound": {
        "fr": "Des présences ne sont pas encore relevées : elles comptent comme absences, la liste peut encore s'allonger.",
        "en": "Some attendance is not taken yet: it counts as absent, so the list may still grow.",
    },
    "rep_not_tracked": {"fr": "présence non suivie", "en": "attendance not tracked"},
    # The report across programmes (reports/cumulative_views.py).
    "cum_title": {"fr": "Formations suivies, tous programmes", "en": "Training across programmes"},
    "cum_people": {"fr": "Personnes", "en": "People"},
    "cum_programmes": {"fr": "Programmes", "en": "Programmes"},
    "cum_username": {"fr": "Identifiant", "en": "Username"},
    "cum_took_part": {"fr": "suivie (achèvement inconnu)", "en": "took part (completion unknown)"},
    "cum_completed": {"fr": "achevée", "en": "completed"},
    "cum_not_completed": {"fr": "non achevée", "en": "not completed"},
    "cum_trained": {"fr": "Programmes suivis", "en": "Programmes taken"},
    "cum_completed_count": {"fr": "Programmes achevés", "en": "Programmes completed"},
    "cum_people_trained": {"fr": "Personnes formées", "en": "People trained"},
    "cum_completed_any": {"fr": "Ont achevé au moins un programme", "en": "Completed at least one programme"},
    "cum_enrolled_in": {"fr": "Inscrits – {programme}", "en": "Enrolled – {programme}"},
    "cum_completed_in": {"fr": "Ont achevé – {programme}", "en": "Completed – {programme}"},
    "cum_programme_id": {"fr": "Identifiant du programme", "en": "Programme id"},
    "cum_programme": {"fr": "Programme", "en": "Programme"},
    "cum_run": {"fr": "Instantané n°", "en": "Snapshot"},
    "cum_taken_at": {"fr": "Lu le", "en": "Read on"},
    "cum_complete": {"fr": "Tous lus", "en": "Everyone read"},
    "cum_latest": {
        "fr": "Dernier instantané de chaque programme ; une personne compte une fois (même identifiant ou même courriel).",
        "en": "The latest snapshot of each programme; a person counts once (same username or same e-mail).",
    },
    "cum_incomplete": {
        "fr": "INCOMPLET : le dernier instantané de {programmes} n'a pas pu lire tout le monde ; les chiffres sont des minimums.",
        "en": "INCOMPLETE: the latest snapshot of {programmes} could not read everyone; the counts are lower bounds.",
    },
    "cum_chart": {"fr": "Personnes formées par institution (part ayant achevé)",
                  "en": "People trained by institution (share who completed)"},
}


def t(key: str, lang: str = "fr") -> str:
    """The text for ``key`` in ``lang`` (French when the language is unknown)."""
    texts = MESSAGES[key]
    return texts.get(lang, texts["fr"])  # type: ignore[call-overload]
