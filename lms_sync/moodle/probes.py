"""What the sync account may do on a site, found out without changing anything: one probe per capability.

Moodle has no call that lists an account's capabilities. Each probe is a read that depends on the
capability, or a write that Moodle checks the capability for *before* it finds the request invalid
and writes nothing (an empty category name, a course whose end is before its start, a user id that
does not exist...). Every one of them was tried on a real Moodle 5.1 with and without the
capability (``tests/realmoodle/test_check_real.py``).

A probe that cannot tell here (no course yet, a course that is not hidden...) says so as
``UNPROVED`` instead of claiming the capability is there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..errors import (
    AccessDenied,
    AlreadyExists,
    InvalidParameter,
    MoodleError,
    MoodleRemoteError,
    MoodleUnavailable,
    NotFound,
)
from .client import MoodleClient
from .functions import ALL_FEATURES, capabilities_for
from .models import Course, MoodleWarning

GUEST_ID = 1  # Moodle's guest account: present on every site, a user the account may look at
NO_SUCH_USER = 999_999_999
_BAD_DATES = {"startdate": 2, "enddate": 1}  # an end before the start: refused after every other check
PROBE_NAME = "lms-sync-probe"  # sent with an invalid companion value: Moodle refuses before writing it


class Status(StrEnum):
    """How one check came out."""

    OK = "ok"
    FAIL = "FAIL"
    WARN = "warn"
    SKIP = "skip"
    UNPROVED = "not probed"


@dataclass(frozen=True)
class Finding:
    """One row of what ``check`` found: what was checked, how it came out, what to do about it."""

    check: str
    status: Status
    detail: str
    todo: str | None = None
    capability: str | None = None


@dataclass(frozen=True)
class CourseRef:
    """How the programme's course is found: by idnumber, else (a course made by hand) by shortname."""

    idnumber: str
    shortname: str


@dataclass(frozen=True)
class Target:
    """What the probes aim at: the account, the programme's course (when it exists), the site course."""

    account_id: int
    account_username: str
    site_course_id: int = 1
    course: Course | None = None
    role_id: int = 5  # the role enrolments give (push.role_id)
    participant_id: int | None = None
    course_unseen: bool = False  # the course exists but is hidden from the account (course_exists_unseen)
    attendance_id: int | None = None  # the programme's Attendance activity, when it has one


@dataclass
class _Run:
    client: MoodleClient
    target: Target
    findings: dict[str, Finding] = field(default_factory=dict)
    _categories: list[int] | None = None

    def category_ids(self) -> list[int]:
        """The categories the account sees (read once)."""
        if self._categories is None:
            self._categories = [c.id for c in self.client.get_categories()]
        return self._categories

    def ok(self, capability: str, detail: str) -> None:
        self.findings[capability] = Finding(capability, Status.OK, detail, capability=capability)

    def missing(self, capability: str, detail: str, todo: str | None = None) -> None:
        # No todo: check gathers the plain "give the role X" ones into one line.
        self.findings[capability] = Finding(capability, Status.FAIL, detail, todo, capability=capability)

    def unproved(self, capability: str, detail: str) -> None:
        self.findings[capability] = Finding(capability, Status.UNPROVED, detail, capability=capability)

    def odd(self, capability: str, exc: MoodleError) -> None:
        # An answer no probe expects: shown as is, neither claimed present nor missing.
        self.findings[capability] = Finding(
            capability, Status.WARN, f"unexpected answer: {exc}", exc.hint, capability=capability
        )

    def failed(self, capability: str) -> bool:
        found = self.findings.get(capability)
        return found is not None and found.status is not Status.OK


def _refused(exc: MoodleError, *codes: str) -> bool:
    return isinstance(exc, AccessDenied) and (not codes or exc.errorcode in codes)


def _warning_code(warnings: list[MoodleWarning]) -> str | None:
    return warnings[0].warningcode if warnings else None


def _guarded(run: _Run, capability: str, body: Callable[[], None]) -> None:
    """Run one probe; a site that stops answering ends the check, any other surprise is a warning row."""
    try:
        body()
    except MoodleUnavailable:
        raise
    except MoodleError as exc:
        run.odd(capability, exc)


# ------------------------------------------------------------------------------------------- probes


def first_category(client: MoodleClient) -> int | None:
    """A course category the account sees, to probe course creation in (None: it sees none)."""
    return next((c.id for c in client.get_categories()), None)


def course_exists_unseen(client: MoodleClient, ref: CourseRef, category_id: int | None) -> bool | None:
    """Whether a course the lookups cannot see holds the programme's shortname or idnumber (None: cannot tell).

    A hidden course is invisible, public fields included, to an account without viewhiddencourses
    (and its idnumber is left out without course:update, which check reports on its own row).
    Moodle checks shortname and idnumber before the dates when it creates a course, so a creation
    that ends before it starts answers "taken" when such a course exists, and creates nothing.
    """
    if category_id is None:
        return None
    try:
        client.create_courses([{"fullname": PROBE_NAME, "shortname": ref.shortname, "idnumber": ref.idnumber,
                                "categoryid": category_id, **_BAD_DATES}])
    except AlreadyExists:
        return True
    except MoodleUnavailable:
        raise
    except MoodleError as exc:
        return False if exc.errorcode == "enddatebeforestartdate" else None
    return None


def _categories(run: _Run) -> None:
    client = run.client

    def viewcourselist() -> None:
        cap = "moodle/category:viewcourselist"
        if run.category_ids():
            run.ok(cap, "the account sees the course categories")
        else:
            run.missing(cap, "the account sees no course category at all")

    def criterion(cap: str, what: str, **criteria: object) -> Callable[[], None]:
        def probe() -> None:
            try:
                client.get_categories(**criteria)  # type: ignore[arg-type]
            except AccessDenied:
                run.missing(cap, f"Moodle refuses to search categories by {what} (criteriaerror)")
                return
            run.ok(cap, f"categories can be searched by {what}")
        return probe

    _guarded(run, "moodle/category:viewcourselist", viewcourselist)
    _guarded(run, "moodle/category:manage", criterion("moodle/category:manage", "idnumber", idnumber=PROBE_NAME))
    _guarded(run, "moodle/category:viewhiddencategories",
             criterion("moodle/category:viewhiddencategories", "visibility", visible=False))


def _course_create(run: _Run) -> None:
    cap = "moodle/course:create"
    category = run.target.course.categoryid if run.target.course else None
    category = category or next(iter(run.category_ids()), None)
    if category is None:
        run.unproved(cap, "no course category visible to probe in")
        return

    def probe() -> None:
        try:
            # An empty full name is refused right after the capability check, before anything is created.
            run.client.create_courses([{"fullname": "", "shortname": PROBE_NAME, "categoryid": category}])
        except AccessDenied:
            run.missing(cap, f"Moodle refuses to create courses in category {category}")
            return
        except InvalidParameter as exc:
            if exc.errorcode == "errorinvalidparam":
                run.ok(cap, f"may create courses in category {category}")
                return
            raise
        run.odd(cap, MoodleRemoteError("a course creation probe was accepted", wsfunction="core_course_create_courses"))

    _guarded(run, cap, probe)


# Each course field push may change, the capability Moodle checks for it, and a request that fails
# validation after that check (end before start: enddatebeforestartdate; an empty name: errorinvalidparam).
COURSE_FIELD_CAPABILITIES: dict[str, str] = {
    "fullname": "moodle/course:changefullname",
    "shortname": "moodle/course:changeshortname",
    "summary": "moodle/course:changesummary",
    "categoryid": "moodle/course:changecategory",
    "idnumber": "moodle/course:changeidnumber",
}


def _course_update(run: _Run) -> None:
    target = run.target
    course = target.course
    course_id = course.id if course else target.site_course_id
    where = f"course {course.shortname}" if course else "the site's front page"
    other_category = next((c for c in run.category_ids() if course is None or c != course.categoryid), None)
    probes: list[tuple[str, dict[str, object]]] = [
        ("moodle/course:update", dict(_BAD_DATES)),
        ("moodle/course:changefullname", {"fullname": ""}),
        ("moodle/course:changeshortname", {"shortname": ""}),
        ("moodle/course:changesummary", {"summary": f"<p>{PROBE_NAME}</p>", **_BAD_DATES}),
        ("moodle/course:changeidnumber", {"idnumber": PROBE_NAME, **_BAD_DATES}),
    ]
    move = (course_id, other_category) if other_category is not None else (target.site_course_id, next(
        iter(run.category_ids()), None))  # the front page sits in no category: any category is a move
    if move[1] is not None:
        probes.append(("moodle/course:changecategory", {"categoryid": move[1], **_BAD_DATES}))
    else:
        run.unproved("moodle/course:changecategory", "no course category visible to probe a move with")
    # Validation that comes after every capability check: the request was allowed, then refused as invalid.
    allowed = {"enddatebeforestartdate", "errorinvalidparam", "invalidcourse", "shortnametaken", "courseidnumbertaken"}
    for cap, fields in probes:
        if cap != "moodle/course:update" and run.failed("moodle/course:update"):
            run.unproved(cap, "moodle/course:update is missing, and Moodle checks it first")
            continue

        def probe(cap: str = cap, fields: dict[str, object] = fields) -> None:
            on = move[0] if cap == "moodle/course:changecategory" else course_id
            code = _warning_code(run.client.update_courses([{"id": on, **fields}]).warnings)
            if code == "nopermissions":
                run.missing(cap, f"Moodle refuses it on {where}")
            elif code in allowed:
                run.ok(cap, f"allowed on {where}")
            else:
                run.odd(cap, MoodleRemoteError(f"update probe answered {code or 'no warning'}",
                                               wsfunction="core_course_update_courses"))

        _guarded(run, cap, probe)


def _calendar(run: _Run) -> None:
    cap = "moodle/calendar:manageentries"

    course = run.target.course

    def probe() -> None:
        # In the course: "course" (manageentries there, what reading and writing its events takes for an
        # account that is not a participant). With no course yet: "site", manageentries above every course.
        wanted, where = ("course", f"in course {course.shortname}") if course else ("site", "site-wide")
        types = run.client.get_allowed_event_types(course.id if course else 0).allowedeventtypes
        if wanted in types:
            run.ok(cap, f"may manage calendar events {where}")
        else:
            run.missing(cap, f"the account may create only {', '.join(types) or 'no'} events {where}, "
                        "not course events")

    _guarded(run, cap, probe)


def _users(run: _Run) -> None:
    client, target = run.client, run.target

    def create() -> None:
        cap = "moodle/user:create"
        try:
            # The account's own username: refused as a duplicate after the capability check.
            client.create_users([{"username": target.account_username, "firstname": "x", "lastname": "x",
                                  "email": "probe@example.invalid", "createpassword": 1}])
        except AccessDenied:
            run.missing(cap, "Moodle refuses to create users")
            return
        except InvalidParameter:
            run.ok(cap, "may create users")
            return
        run.odd(cap, MoodleRemoteError("a user creation probe was accepted", wsfunction="core_user_create_users"))

    def update() -> None:
        cap = "moodle/user:update"
        try:
            code = _warning_code(client.update_users([{"id": NO_SUCH_USER}]).warnings)
        except AccessDenied:
            run.missing(cap, "Moodle refuses to update user profiles")
            return
        if code == "invaliduserid":
            run.ok(cap, "may update user profiles")
        else:
            run.odd(cap, MoodleRemoteError(f"update probe answered {code or 'no warning'}",
                                           wsfunction="core_user_update_users"))

    def see() -> None:
        by_id = client.get_users_by_field("id", [GUEST_ID])
        if not by_id:
            run.missing("moodle/user:viewdetails", "the account cannot see other users' profiles")
            for cap in ("moodle/user:viewalldetails", "moodle/site:viewuseridentity"):
                run.unproved(cap, "moodle/user:viewdetails is missing")
            return
        run.ok("moodle/user:viewdetails", "sees other users' profiles")
        if "email" in by_id[0].model_fields_set:
            run.ok("moodle/site:viewuseridentity", "sees e-mail addresses")
        else:
            run.missing("moodle/site:viewuseridentity", "Moodle leaves e-mail addresses out of its answers",
                        "give the sync account's role moodle/site:viewuseridentity, and keep Email address in "
                        "Show user identity (Site administration > Users > Permissions > User policies)")
        if client.get_users_by_field("username", ["guest"]):
            run.ok("moodle/user:viewalldetails", "can look users up by username")
        else:
            run.missing("moodle/user:viewalldetails", "cannot look users up by username (push finds accounts so)")

    _guarded(run, "moodle/user:create", create)
    _guarded(run, "moodle/user:update", update)
    _guarded(run, "moodle/user:viewdetails", see)


def _enrol(run: _Run) -> None:
    target = run.target

    def probe() -> None:
        # The site's front page has no enrolment method, so Moodle stops at "no instance" once it has
        # checked that the account may enrol and may give the role: nothing is written.
        try:
            run.client.enrol_users([{"roleid": target.role_id, "userid": target.account_id,
                                     "courseid": target.site_course_id}])
        except AccessDenied as exc:
            if exc.errorcode == "wsusercannotassign":
                run.ok("enrol/manual:enrol", "may enrol users")
                run.missing("moodle/role:assign", f"may not give role {target.role_id} (student) on enrolment",
                            "give the sync account's role moodle/role:assign, and tick Student under its "
                            "Allow role assignments (Site administration > Users > Define roles)")
            else:
                run.missing("enrol/manual:enrol", "Moodle refuses manual enrolments")
                run.unproved("moodle/role:assign", "enrol/manual:enrol is missing, and Moodle checks it first")
            return
        except MoodleRemoteError as exc:
            if exc.errorcode == "wsnoinstance":
                run.ok("enrol/manual:enrol", "may enrol users")
                run.ok("moodle/role:assign", f"may give role {target.role_id} on enrolment")
                return
            raise
        run.odd("enrol/manual:enrol", MoodleRemoteError("the enrolment probe was accepted on the front page",
                                                        wsfunction="enrol_manual_enrol_users"))

    _guarded(run, "enrol/manual:enrol", probe)


IN_COURSE_CAPABILITIES = ("moodle/course:enrolreview", "moodle/site:accessallgroups", "report/completion:view",
                          "report/progress:view")


def _in_course(run: _Run) -> None:
    client, course = run.client, run.target.course
    if course is None and run.target.course_unseen:
        run.missing("moodle/course:viewhiddencourses", "the programme's course is hidden, and the account cannot "
                    "see it at all")
        for cap in ("moodle/course:view", *IN_COURSE_CAPABILITIES):
            run.unproved(cap, "the account cannot see the programme's course")
        return
    if course is None:
        for cap in ("moodle/course:view", "moodle/course:viewhiddencourses", *IN_COURSE_CAPABILITIES):
            run.unproved(cap, "the programme's course does not exist yet (push creates it)")
        return

    def view() -> None:
        answer = client.get_user_administration_options([course.id])
        if any(str(w.warningcode) == "1" for w in answer.warnings):  # "No access rights in course context"
            if not course.visible:
                run.missing("moodle/course:viewhiddencourses", f"course {course.shortname} is hidden, and the "
                            "account cannot enter it")
                run.unproved("moodle/course:view", "the course is hidden")
            else:
                run.missing("moodle/course:view", f"the account cannot enter course {course.shortname} "
                            "(it is not a participant)")
                run.unproved("moodle/course:viewhiddencourses", "the course cannot be entered at all")
            return
        run.ok("moodle/course:view", f"enters course {course.shortname} without being a participant")
        if course.visible:
            run.unproved("moodle/course:viewhiddencourses", "needed only if the course is hidden; it is visible")
        else:
            run.ok("moodle/course:viewhiddencourses", f"enters course {course.shortname}, which is hidden")

    _guarded(run, "moodle/course:view", view)
    cannot_enter = run.failed("moodle/course:view") or (not course.visible and run.failed("moodle/course:viewhiddencourses"))
    if cannot_enter:
        for cap in IN_COURSE_CAPABILITIES:
            run.unproved(cap, "the account cannot enter the course")
        return

    def enrolreview() -> None:
        cap = "moodle/course:enrolreview"
        try:
            first = client.get_enrolled_users(course.id, userfields=("id",), only_active=True, limit_number=1)
        except AccessDenied:
            run.missing(cap, "Moodle refuses to list the course's active participants")
            return
        run.ok(cap, "lists the course's active participants")
        run.target = replace(run.target, participant_id=first[0].id if first else None)

    def groups() -> None:
        cap = "moodle/site:accessallgroups"
        try:
            # Naming a group the account is not in (here one that does not exist) takes accessallgroups.
            client.get_enrolled_users(course.id, userfields=("id",), group_id=NO_SUCH_USER, limit_number=1)
        except AccessDenied:
            if course.groupmode == 1:
                run.missing(cap, "the course is in separate-groups mode: without it the account sees none of "
                            "its participants")
            else:
                run.findings[cap] = Finding(cap, Status.WARN, "missing: needed if the course is put in "
                                            "separate-groups mode", capability=cap)
            return
        run.ok(cap, "sees the participants of every group")

    _guarded(run, "moodle/course:enrolreview", enrolreview)
    if not run.failed("moodle/course:enrolreview"):
        _guarded(run, "moodle/site:accessallgroups", groups)
    else:
        run.unproved("moodle/site:accessallgroups", "moodle/course:enrolreview is missing")
    other = run.target.participant_id or 2  # user 2 is the site's first administrator
    if not course.enablecompletion:
        for cap in ("report/completion:view", "report/progress:view"):
            run.unproved(cap, f"completion tracking is off in course {course.shortname}")
        return

    def completion() -> None:
        cap = "report/completion:view"
        try:
            client.get_course_completion_status(course.id, other)
        except AccessDenied as exc:
            if exc.errorcode == "cannotviewreport":
                run.missing(cap, "Moodle refuses to show participants' course completion")
                return
            raise
        except (NotFound, MoodleRemoteError):
            pass  # not enrolled, no criteria: refused after the capability check
        run.ok(cap, "reads participants' course completion")

    def progress() -> None:
        cap = "report/progress:view"
        try:
            client.get_activities_completion_status(course.id, other)
        except AccessDenied:
            run.missing(cap, "Moodle refuses to show participants' activity completion")
            return
        run.ok(cap, "reads participants' activity completion")

    _guarded(run, "report/completion:view", completion)
    _guarded(run, "report/progress:view", progress)


ATTENDANCE_CAPABILITIES = ("mod/attendance:view", "mod/attendance:manageattendances")


def _activities(run: _Run) -> None:
    client, course = run.client, run.target.course
    manage = "moodle/course:manageactivities"
    if course is None:
        run.unproved(manage, "the programme's course does not exist yet (push creates it)")
    else:
        def modules() -> None:
            first = next((m for section in client.get_course_contents(course.id) for m in section.modules), None)
            if first is None:
                run.unproved(manage, f"course {course.shortname} has no activity to probe with")
                return
            # Moodle gives an activity's idnumber (and grades) only to who may manage activities.
            if "idnumber" in client.get_course_module(first.id).cm.model_fields_set:
                run.ok(manage, f"manages the activities of course {course.shortname}")
            else:
                run.missing(manage, "Moodle leaves activities' idnumbers out: the account may not manage them")

        _guarded(run, manage, modules)

    def addinstance() -> None:
        cap = "mod/attendance:addinstance"
        if course is None:
            run.unproved(cap, "the programme's course does not exist yet (push creates it)")
            return
        try:
            # An invalid group mode is refused after both capability checks: nothing is created.
            client.add_attendance(course.id, PROBE_NAME, groupmode=99)
        except InvalidParameter:
            run.ok(cap, "may add an Attendance activity")
            return
        except AccessDenied:
            found = run.findings.get(manage)
            if found is not None and found.status is Status.FAIL:
                run.unproved(cap, "moodle/course:manageactivities is missing, and Moodle checks it first")
            elif found is not None and found.status is Status.OK:
                run.missing(cap, "Moodle refuses to add an Attendance activity")
            else:  # either of the two it checks: both are named
                run.missing(cap, "Moodle refuses to add an Attendance activity",
                            f"give the sync account's role {manage} and {cap} at system level")
            return
        run.odd(cap, MoodleRemoteError("the activity probe was accepted", wsfunction="mod_attendance_add_attendance"))

    _guarded(run, "mod/attendance:addinstance", addinstance)


def _attendance(run: _Run) -> None:
    instance = run.target.attendance_id
    if instance is None:
        for cap in ATTENDANCE_CAPABILITIES:
            run.unproved(cap, "the programme's Attendance activity does not exist yet (push creates it)")
        return

    def probe() -> None:
        try:
            # A group in an activity without groups is refused after the capability checks: no session made.
            run.client.add_attendance_session(instance, sessiontime=0, duration=0, description=PROBE_NAME,
                                              groupid=NO_SUCH_USER)
        except InvalidParameter:
            run.ok("mod/attendance:view", "enters the Attendance activity")
            run.ok("mod/attendance:manageattendances", "may add and remove its sessions")
            return
        except AccessDenied:
            run.ok("mod/attendance:view", "enters the Attendance activity")
            run.missing("mod/attendance:manageattendances", "Moodle refuses to manage the activity's sessions")
            return
        except MoodleRemoteError as exc:
            if exc.errorcode == "requireloginerror":
                run.missing("mod/attendance:view", "the Attendance activity is not accessible to the account")
                run.unproved("mod/attendance:manageattendances", "mod/attendance:view is missing, and Moodle "
                             "checks it first")
                return
            raise
        run.odd("mod/attendance:manageattendances", MoodleRemoteError(
            "the session probe was accepted", wsfunction="mod_attendance_add_session"))

    _guarded(run, "mod/attendance:manageattendances", probe)


def _groups(run: _Run) -> None:
    cap = "moodle/course:managegroups"
    course = run.target.course
    # A read that checks the capability and nothing else; with no course yet, on the site's front page,
    # where a system-level role holds it too.
    course_id, where = (course.id, f"course {course.shortname}") if course else (
        run.target.site_course_id, "the site's front page")

    def probe() -> None:
        try:
            run.client.get_course_groups(course_id)
        except AccessDenied:
            run.missing(cap, f"Moodle refuses to manage the groups of {where} (the cohorts)")
            return
        run.ok(cap, f"manages the groups of {where}")

    _guarded(run, cap, probe)


# Probes in the order Moodle's own checks mask one another (course:update before the change* ones...).
_PROBES: tuple[tuple[frozenset[str], Callable[[_Run], None]], ...] = (
    (frozenset({"moodle/category:viewcourselist", "moodle/category:manage", "moodle/category:viewhiddencategories"}),
     _categories),
    (frozenset({"moodle/course:create"}), _course_create),
    (frozenset({"moodle/course:update", *COURSE_FIELD_CAPABILITIES.values()}), _course_update),
    (frozenset({"moodle/calendar:manageentries"}), _calendar),
    (frozenset({"moodle/user:create", "moodle/user:update", "moodle/user:viewdetails", "moodle/user:viewalldetails",
                "moodle/site:viewuseridentity"}), _users),
    (frozenset({"enrol/manual:enrol", "moodle/role:assign"}), _enrol),
    (frozenset({"moodle/course:view", "moodle/course:viewhiddencourses", *IN_COURSE_CAPABILITIES}), _in_course),
    (frozenset({"moodle/course:manageactivities", "mod/attendance:addinstance"}), _activities),
    (frozenset(ATTENDANCE_CAPABILITIES), _attendance),
    (frozenset({"moodle/course:managegroups"}), _groups),
)
# Proved by the very fact that the check got an answer, or by the Report builder row.
PROVED_ELSEWHERE = frozenset({"webservice/rest:use", "moodle/reportbuilder:view"})
PROBED = frozenset().union(*(caps for caps, _ in _PROBES)) | PROVED_ELSEWHERE


def probe_capabilities(
    client: MoodleClient, target: Target, capabilities: Iterable[str] | None = None
) -> list[Finding]:
    """Probe the given capabilities (default: every one lms_sync needs); one finding each, in a stable order."""
    wanted = set(capabilities if capabilities is not None else capabilities_for(ALL_FEATURES)) - PROVED_ELSEWHERE
    run = _Run(client, target)
    for caps, probe in _PROBES:
        if caps & wanted:
            probe(run)
    return [run.findings[cap] for cap in sorted(wanted) if cap in run.findings]
