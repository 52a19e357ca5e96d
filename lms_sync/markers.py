"""The marker that makes what lms_sync created in Moodle recognisable again, even with the state store lost.

In an event description it is the fragment of the platform link,
``<a href="https://formation.ena.tn/#lms-sync:dgidt-ia-2020:seance-1">``, which Moodle's HTML
cleaning keeps (HTML comments and ``data-*`` attributes it strips); in an Attendance session's
description, kept exactly as sent, the same text. Ids are slugs ([a-z0-9._-]), so ":" separates
them without ambiguity.
"""

from __future__ import annotations

import re

MARKER_PREFIX = "lms-sync:"
MARKER_RE = re.compile(r"#lms-sync:([a-z0-9][a-z0-9._-]*):([a-z0-9][a-z0-9._-]*)")


def marker(programme_id: str, session_id: str) -> str:
    """The marker of a session, e.g. ``lms-sync:dgidt-ia-2020:seance-1`` (written after a ``#``)."""
    return f"{MARKER_PREFIX}{programme_id}:{session_id}"


def parse_marker(description: str) -> tuple[str, str] | None:
    """``(programme_id, session_id)`` from a description, or None when it carries no marker."""
    found = MARKER_RE.search(description or "")
    return (found.group(1), found.group(2)) if found else None
