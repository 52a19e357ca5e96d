"""Finding the programme's course in Moodle: by idnumber, else, made by hand, by shortname.

Shared by push (which adopts such a course) and ``check`` (which says push will), so both judge
a course the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import MoodleClient
from .models import Course


@dataclass(frozen=True)
class CourseMatch:
    """The course found, and how: ``made_by_hand`` (shortname, no idnumber); ``taken_by`` (shortname, other idnumber)."""

    course: Course | None
    made_by_hand: bool = False
    taken_by: Course | None = None


def find_course(client: MoodleClient, idnumber: str, shortname: str) -> CourseMatch:
    """The course with ``idnumber``; else one with ``shortname`` and no idnumber (made by hand) to adopt."""
    found = client.get_courses_by_field("idnumber", idnumber).courses
    course = next((c for c in found if c.idnumber == idnumber), None)
    if course is not None:
        return CourseMatch(course)
    named = client.get_courses_by_field("shortname", shortname).courses
    same = next((c for c in named if c.shortname == shortname), None)
    if same is None:
        return CourseMatch(None)
    if not same.idnumber:
        return CourseMatch(same, made_by_hand=True)
    return CourseMatch(None, taken_by=same)  # another programme's, or someone's: never taken over
