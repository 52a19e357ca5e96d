"""Finding the programme's course and Attendance activity in Moodle, the same way for push, pull and check.

The course: by idnumber, else, made by hand, by shortname. The Attendance activity: the one the
programme names, else the one whose sessions carry the programme's marker, else the only one
with the programme's attendance name.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..markers import parse_marker
from .client import MoodleClient
from .models import AttendanceSession, Course


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


@dataclass(frozen=True)
class AttendanceInstance:
    """An Attendance activity of the course: its attendance id and, when it was looked up, its module."""

    id: int
    cmid: int | None = None
    name: str = ""


def find_attendance(
    client: MoodleClient, course: Course, *, programme_id: str, activity: int | str | None, name: str,
    read: dict[int, list[AttendanceSession]] | None = None,
) -> tuple[AttendanceInstance | None, str | None]:
    """The programme's Attendance activity in the course, or why there is none to use (None, None: create one).

    The sessions it had to read to recognise the activity are left in ``read`` (attendance id -> sessions).
    """
    read = {} if read is None else read
    modules = [m for section in client.get_course_contents(course.id) for m in section.modules
               if m.modname == "attendance" and m.instance is not None]
    if isinstance(activity, int):
        found = next((m for m in modules if m.id == activity), None)
        what = f"course-module id {activity}"
    elif isinstance(activity, str):
        found = next((m for m in modules if (m.idnumber if m.idnumber is not None
                                             else client.get_course_module(m.id).cm.idnumber) == activity), None)
        what = f"idnumber {activity!r}"
    else:
        # create = true: the one lms_sync made has sessions marked for this programme, or (none yet)
        # carries the programme's attendance name.
        for m in modules:
            read[int(m.instance or 0)] = client.get_attendance_sessions(int(m.instance or 0))
        marked = [m for m in modules if any((parse_marker(s.description) or ("",))[0] == programme_id
                                            for s in read[int(m.instance or 0)])]
        named = [m for m in modules if m.name == name]
        chosen = marked or (named if len(named) == 1 else [])
        found = chosen[0] if chosen else None
        return (AttendanceInstance(int(found.instance or 0), found.id, found.name) if found else None), None
    if found is None:
        return None, (f"course {course.shortname} has no Attendance activity with {what} ([attendance] activity "
                      "in the programme): check the id, or set create = true to let push make one")
    return AttendanceInstance(int(found.instance or 0), found.id, found.name), None
