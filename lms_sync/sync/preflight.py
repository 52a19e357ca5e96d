"""Before a push writes anything: may the sync account do what its plan needs? The same probes as ``check``.

A plan that would fail half-way for want of a capability (a course summary to change without
``moodle/course:changesummary``, say) is stopped before its first write, with what to add.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..moodle.client import MoodleClient
from ..moodle.probes import (
    COURSE_FIELD_CAPABILITIES,
    CourseRef,
    Finding,
    Status,
    Target,
    course_exists_unseen,
    first_category,
    probe_capabilities,
)
from .plan import Action
from .remote import Remote

# (kind, op) -> the capabilities Moodle checks for that write, whatever its fields.
WRITE_CAPABILITIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("category", "create"): ("moodle/category:manage",),
    ("category", "update"): ("moodle/category:manage",),
    ("course", "create"): ("moodle/course:create",),
    ("course", "update"): ("moodle/course:update",),
    ("event", "create"): ("moodle/calendar:manageentries",),
    ("event", "replace"): ("moodle/calendar:manageentries",),
    ("event", "delete"): ("moodle/calendar:manageentries",),
    ("user", "create"): ("moodle/user:create",),
    ("user", "update"): ("moodle/user:update",),
    ("enrolment", "enrol"): ("enrol/manual:enrol", "moodle/role:assign"),
    ("enrolment", "suspend"): ("enrol/manual:enrol", "moodle/role:assign"),
    ("attendance", "create"): ("moodle/course:manageactivities", "mod/attendance:addinstance"),
    ("attendance_session", "create"): ("mod/attendance:view", "mod/attendance:manageattendances"),
    ("attendance_session", "replace"): ("mod/attendance:view", "mod/attendance:manageattendances"),
    ("attendance_session", "delete"): ("mod/attendance:view", "mod/attendance:manageattendances"),
    ("group", "create"): ("moodle/course:managegroups",),
    ("group_member", "add"): ("moodle/course:managegroups",),
    ("group_member", "remove"): ("moodle/course:managegroups",),
}


def needed_capabilities(actions: Iterable[Action]) -> set[str]:
    """The capabilities the plan's writes need, the course fields it changes included."""
    needed: set[str] = set()
    for action in actions:
        needed.update(WRITE_CAPABILITIES.get((action.kind, action.op), ()))
        if (action.kind, action.op) == ("course", "update"):
            needed.update(COURSE_FIELD_CAPABILITIES[name] for name, _, _ in action.changes
                          if name in COURSE_FIELD_CAPABILITIES)
    return needed


def preflight(client: MoodleClient, actions: list[Action], remote: Remote, role_id: int) -> list[Finding]:
    """The capabilities the plan needs that the account lacks (empty: the plan may run). Writes nothing."""
    needed = needed_capabilities(actions)
    if not needed:
        return []
    info = client.get_site_info()
    if info.userissiteadmin:
        return []  # an administrator holds every capability
    target = Target(info.userid, info.username, info.siteid, remote.course, role_id,
                    attendance_id=remote.attendance.id if remote.attendance else None)
    missing = [f for f in probe_capabilities(client, target, needed) if f.status is Status.FAIL]
    create = next((a for a in actions if (a.kind, a.op) == ("course", "create")), None)
    if create is not None and not missing:
        missing += _hidden_course(client, create, remote)
    return missing


def _hidden_course(client: MoodleClient, create: Action, remote: Remote) -> list[Finding]:
    """A course push cannot see but Moodle holds (hidden, without viewhiddencourses): creating one more would fail."""
    ref = CourseRef(create.key, str(create.fields()["shortname"]))
    category = remote.category.id if remote.category is not None else first_category(client)
    if not course_exists_unseen(client, ref, category):
        return []
    capability = "moodle/course:viewhiddencourses"
    return [Finding(capability, Status.FAIL, f"a course with shortname {ref.shortname} or idnumber {ref.idnumber} "
                    "exists but the account cannot see it (hidden): push would try to create it again",
                    capability=capability)]
