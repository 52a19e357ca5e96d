"""The marker that makes what lms_sync created in Moodle recognisable again, even with the state store lost.

In an event description it is the fragment of the platform link,
``<a href="https://formation.ena.tn/#lms-sync:dgidt-ia-2020:seance-1">``, which Moodle's HTML
cleaning keeps (HTML comments and ``data-*`` attributes it strips); in an Attendance session's
description, kept exactly as sent, the same text. Ids are slugs ([a-z0-9._-]), so ":" separates
them without ambiguity. The course groups of the roster's cohorts are marked by their idnumber
(``lms-sync-cohort:<key>``).
"""

from __future__ import annotations

import hashlib
import re

from .text import fold

MARKER_PREFIX = "lms-sync:"
MARKER_RE = re.compile(r"#lms-sync:([a-z0-9][a-z0-9._-]*):([a-z0-9][a-z0-9._-]*)")


def marker(programme_id: str, session_id: str) -> str:
    """The marker of a session, e.g. ``lms-sync:dgidt-ia-2020:seance-1`` (written after a ``#``)."""
    return f"{MARKER_PREFIX}{programme_id}:{session_id}"


def parse_marker(description: str) -> tuple[str, str] | None:
    """``(programme_id, session_id)`` from a description, or None when it carries no marker."""
    found = MARKER_RE.search(description or "")
    return (found.group(1), found.group(2)) if found else None


# Course groups lms_sync keeps for the roster's cohorts carry this idnumber prefix; a group without
# it was made by hand and is never touched. Group idnumbers are unique per course (Moodle refuses a
# second one: core_group_create_groups.duplicate_idnumber), so the idnumber is the group's key.
COHORT_PREFIX = "lms-sync-cohort:"
_KEY_MAX = 80  # Moodle's groups.idnumber holds 100 characters


def cohort_key(label: str) -> str:
    """A cohort's stable key from its label: lower case ASCII, words joined by ``-`` ("Responsables
    informatiques" -> ``responsables-informatiques``); labels differing only in case, accents or
    punctuation share a key."""
    key = re.sub(r"[^a-z0-9]+", "-", fold(label)).strip("-")[:_KEY_MAX].strip("-")
    if not key:  # a label of symbols only ("—"): a digest keeps it distinct and stable
        key = "c-" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:12]
    return key


def cohort_idnumber(key: str) -> str:
    """The idnumber of a cohort's group, e.g. ``lms-sync-cohort:responsables-informatiques``."""
    return f"{COHORT_PREFIX}{key}"


def parse_cohort_idnumber(idnumber: str | None) -> str | None:
    """The cohort key of a group lms_sync keeps, or None for a group made by hand."""
    if idnumber and idnumber.startswith(COHORT_PREFIX) and len(idnumber) > len(COHORT_PREFIX):
        return idnumber[len(COHORT_PREFIX):]
    return None
