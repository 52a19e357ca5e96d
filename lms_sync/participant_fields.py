"""A participant's profile fields, declared once: how Moodle gives each, where reports show it.

The Moodle reads ask for ``userfield`` (``core_enrol_get_enrolled_users``) and look for
``report_title`` (the Report builder column); the reports show those with a ``label`` in that
order, ``width`` wide in a spreadsheet. A new column is one more line here (the snapshot's own
columns are in ``store.py``'s migrations and ``snapshots.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileField:
    """One profile field of a participant."""

    key: str  # the attribute on ParticipantRow and ParticipantLine, and the JSON key (see json_key)
    userfield: str  # what core_enrol_get_enrolled_users returns it as
    report_title: str | None  # the Report builder column ("Course participants" source, English titles)
    label: str | None = None  # i18n key of its column in the reports; None: not shown
    width: int = 14  # a spreadsheet column width that fits most values
    escaped: bool = True  # the report gives it HTML-escaped ("Full name" it does not)
    json_key: str | None = None  # the JSON report's key, when it is not ``key``


PROFILE_FIELDS: tuple[ProfileField, ...] = (
    ProfileField("username", "username", "Username"),
    ProfileField("idnumber", "idnumber", "ID number"),
    ProfileField("fullname", "fullname", "Full name", "rep_name", 28, escaped=False, json_key="name"),
    ProfileField("email", "email", "Email address", "rep_email", 32),
    ProfileField("institution", "institution", "Institution", "rep_institution", 30),
    ProfileField("department", "department", "Department", "rep_department", 22),
)
SHOWN: tuple[ProfileField, ...] = tuple(f for f in PROFILE_FIELDS if f.label)
