"""The Attendance activity (mod_attendance) on the fake Moodle, as the recordings and the real site show it.

``add_attendance_support(fake)`` registers the plugin's functions; ``take(fake, session_id, marks)``
is a teacher marking statuses. What the real plugin does is kept: sessions have no key and
duplicates are accepted, descriptions come back exactly as sent, statuses are the instance's own
copy of P/L/E/A with ids in no useful order, ``attendance_log`` rows carry ``statusid`` as a string,
``remove_session`` of a session already gone is ``invalidrecordunknown``, an account that cannot see
the activity (no mod/attendance:view) gets ``requireloginerror``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.moodle import NOW, FakeMoodle, MoodleFault, _int, invalid_parameter, missing_record
from tests.fakes.moodle_completion import CompletionState, add_completion

# The order get_session lists them (by grade), with ids in no useful order (recorded: P 5, L 7, E 8, A 6).
STATUS_SET = (("P", "Present", 2, 0), ("L", "Late", 1, 2), ("E", "Excused", 1, 3), ("A", "Absent", 0, 1))


@dataclass
class Instance:
    """One Attendance activity: its course module, statuses and sessions."""

    id: int
    cmid: int
    courseid: int
    name: str
    statuses: list[dict[str, Any]]
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class AttendanceState:
    """Every Attendance activity of the fake site, by attendance id."""

    instances: dict[int, Instance] = field(default_factory=dict)

    def session(self, session_id: int) -> tuple[Instance, dict[str, Any]]:
        """The session and its activity; ``invalidrecordunknown`` when there is none."""
        for instance in self.instances.values():
            if session_id in instance.sessions:
                return instance, instance.sessions[session_id]
        raise missing_record()


def add_attendance_support(fake: FakeMoodle) -> AttendanceState:
    """Register mod_attendance's functions on ``fake`` (and completion's, for the course contents)."""
    if not hasattr(fake, "completion"):
        add_completion(fake)
    state = AttendanceState()
    fake.attendance = state  # type: ignore[attr-defined]
    fake.handlers.update({
        "mod_attendance_add_attendance": _add_attendance,
        "mod_attendance_add_session": _add_session,
        "mod_attendance_remove_session": _remove_session,
        "mod_attendance_get_sessions": _get_sessions,
    })
    return state


def add_instance(fake: FakeMoodle, courseid: int, name: str) -> Instance:
    """An Attendance activity made by hand in a course."""
    state: AttendanceState = fake.attendance  # type: ignore[attr-defined]
    attendance_id = fake.new_id()
    cmid = fake.new_id()
    statuses = []
    for acronym, description, grade, offset in STATUS_SET:
        statuses.append({"id": 1000 + attendance_id * 10 + offset, "attendanceid": attendance_id, "acronym": acronym,
                         "description": description, "grade": grade, "visible": 1, "deleted": 0, "setnumber": 0})
    instance = Instance(attendance_id, cmid, courseid, name, statuses)
    state.instances[attendance_id] = instance
    completion: CompletionState = fake.completion  # type: ignore[attr-defined]
    completion.modules.setdefault(courseid, []).append(
        {"id": cmid, "name": name, "modname": "attendance", "idnumber": "", "completion": 0,
         "instance": attendance_id})
    return instance


def take(fake: FakeMoodle, session_id: int, marks: dict[int, str], *, teacher: int = 2) -> None:
    """A teacher marks participants (user id -> status acronym) in one session."""
    instance, session = fake.attendance.session(session_id)  # type: ignore[attr-defined]
    ids = {s["acronym"]: s["id"] for s in instance.statuses}
    for userid, acronym in marks.items():
        session["log"][userid] = ids[acronym]
    session["lasttaken"], session["lasttakenby"] = NOW, teacher


def _instance(fake: FakeMoodle, attendance_id: int) -> Instance:
    instance = fake.attendance.instances.get(attendance_id)  # type: ignore[attr-defined]
    if instance is None:
        raise missing_record()
    fake.enter_course(instance.courseid)
    if not fake.can("mod/attendance:view"):  # the activity is not "uservisible" to the account
        raise MoodleFault("requireloginerror", "Course or activity not accessible.", "require_login_exception")
    return instance


def _add_attendance(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    courseid = _int(params.get("courseid"))
    if courseid not in fake.courses:
        raise missing_record()
    fake.require("moodle/course:manageactivities")
    fake.require("mod/attendance:addinstance")
    if _int(params.get("groupmode"), 0) not in (0, 1, 2):
        raise invalid_parameter()
    return {"attendanceid": add_instance(fake, courseid, params.get("name", "")).id}


def _add_session(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    instance = _instance(fake, _int(params.get("attendanceid")))
    fake.require("mod/attendance:manageattendances")
    if _int(params.get("groupid"), 0):
        raise invalid_parameter()  # "Group id is specified, but group mode is disabled for activity"
    sid = fake.new_id()
    instance.sessions[sid] = {
        "id": sid, "sessdate": _int(params.get("sessiontime")), "duration": _int(params.get("duration"), 0),
        "description": params.get("description", ""), "lasttaken": None, "lasttakenby": 0, "log": {},
        "calendarevent": params.get("addcalendarevent", "1") not in ("0", "false"),
    }
    return {"sessionid": sid}


def _remove_session(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    instance, _ = fake.attendance.session(_int(params.get("sessionid")))  # type: ignore[attr-defined]
    _instance(fake, instance.id)
    fake.require("mod/attendance:manageattendances")
    del instance.sessions[_int(params.get("sessionid"))]
    return True


def _get_sessions(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    instance = _instance(fake, _int(params.get("attendanceid")))
    if not fake.can("mod/attendance:manageattendances"):
        raise invalid_parameter()  # "Invalid session id or no permissions."
    users = [{"id": uid, "firstname": fake.users[uid]["firstname"], "lastname": fake.users[uid]["lastname"]}
             for (cid, uid), e in sorted(fake.enrolments.items()) if cid == instance.courseid and not e["status"]]
    out = []
    for sid, s in sorted(instance.sessions.items()):
        out.append({
            "id": sid, "attendanceid": instance.id, "groupid": 0, "sessdate": s["sessdate"], "duration": s["duration"],
            "lasttaken": s["lasttaken"], "lasttakenby": s["lasttakenby"], "timemodified": NOW,
            "description": s["description"], "descriptionformat": 1, "studentscanmark": 0, "absenteereport": 1,
            "autoassignstatus": 0, "preventsharedip": 0, "preventsharediptime": None, "statusset": 0,
            "includeqrcode": 0, "studentsearlyopentime": 0, "courseid": instance.courseid,
            "statuses": [dict(st) for st in instance.statuses],
            "attendance_log": [{"studentid": uid, "statusid": str(status), "remarks": None, "id": str(n)}
                               for n, (uid, status) in enumerate(sorted(s["log"].items()), start=1)],
            "users": users,
        })
    return out
