"""Can lms_sync work with this Moodle site? Findings about the site, its token, functions and capabilities.

Data only: ``lms-sync check`` (``commands/check.py``) renders the findings and picks the exit code.
One attempt per call (no retry backoff), and all the calls together within ``moodle.deadline``: a
diagnosis should answer in seconds, and never later than that whatever the site does. Nothing is written:
the capability probes are reads, or writes that Moodle refuses as invalid after it has checked the
capability (see ``probes.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNAVAILABLE,
    AccessDenied,
    ConfigError,
    InvalidToken,
    MoodleError,
    MoodleUnavailable,
    NotFound,
    NotMoodleEndpoint,
    WebServicesDisabled,
)
from ..settings import MoodleSettings
from .client import MoodleClient
from .functions import Feature, capabilities_for, functions_for
from .lookups import find_attendance, find_course
from .models import Course, SiteInfo
from .probes import (
    CourseRef,
    Finding,
    Status,
    Target,
    course_exists_unseen,
    first_category,
    probe_capabilities,
)

ROLE_PRESET = "deploy/moodle/lms_sync-role.xml"


@dataclass
class CheckResult:
    """Everything ``check`` found, in the order it was found."""

    url: str | None
    findings: list[Finding] = field(default_factory=list)
    config_error: bool = False
    unavailable: bool = False  # the site could not be used at all (or stopped answering)
    step: str = "site"  # what was being checked, to name the row if the site stops answering
    course_unseen: bool = False

    def add(self, check: str, status: Status, detail: str, todo: str | None = None) -> None:
        """Record one finding."""
        self.findings.append(Finding(check, status, detail, todo))

    @property
    def exit_code(self) -> int:
        """0 all there, 1 something missing, 2 settings incomplete, 3 site unusable."""
        if self.config_error:
            return EXIT_CONFIG
        if self.unavailable:
            return EXIT_UNAVAILABLE
        return EXIT_PARTIAL if any(f.status is Status.FAIL for f in self.findings) else EXIT_OK

    @property
    def todo(self) -> list[str]:
        """What to do, each once, in the order of the findings that ask for it."""
        return what_to_do(self.findings)


def what_to_do(findings: Iterable[Finding]) -> list[str]:
    """What the findings ask the admin to do, each once, in order; missing capabilities in one line."""
    out: list[str] = []
    capabilities: list[str] = []
    for finding in findings:
        if finding.status is Status.FAIL and finding.capability and not finding.todo:
            if not capabilities:
                out.append("")  # where the capability line goes, in order
            capabilities.append(finding.capability)
        elif finding.todo and finding.status in (Status.FAIL, Status.WARN) and finding.todo not in out:
            out.append(finding.todo)
    if capabilities:
        out[out.index("")] = (
            f"give the sync account's role, at system level: {', '.join(capabilities)} (Site administration > "
            f"Users > Permissions > Define roles; the shipped preset {ROLE_PRESET} has every one)"
        )
    return out


def _message(exc: MoodleError) -> str:
    # The wsfunction prefix is noise in a row that already says what was checked.
    text = str(exc)
    return text.split(": ", 1)[1] if exc.wsfunction and text.startswith(exc.wsfunction + ": ") else text


@dataclass(frozen=True)
class AttendanceRef:
    """The programme's Attendance activity: named (course-module id or idnumber), or created by push (None)."""

    programme_id: str
    activity: int | str | None
    name: str


def run_check(
    moodle: MoodleSettings,
    course: CourseRef | None,
    features: Iterable[Feature],
    *,
    attendance: AttendanceRef | None = None,
    role_id: int = 5,
    client_factory: Callable[[MoodleSettings], MoodleClient] | None = None,
) -> CheckResult:
    """Check the site, token, service functions, capabilities, course and completion; never writes."""
    result = CheckResult(moodle.url)
    try:
        client = (client_factory or _bounded_client)(moodle.model_copy(update={"retry_attempts": 1}))
    except ConfigError as exc:
        result.add("settings", Status.FAIL, str(exc).splitlines()[-1].strip(), exc.hint)
        result.config_error = True
        return result
    with client:
        try:
            _check_site(client, moodle, course, frozenset(features), role_id, result, attendance)
        except MoodleUnavailable as exc:
            # The site stopped answering half-way: what was found stays in the table.
            result.add(result.step, Status.FAIL, _message(exc), exc.hint or "run the check again; if it persists, "
                       "check the site and its logs")
            result.unavailable = True
    return result


def _bounded_client(moodle: MoodleSettings) -> MoodleClient:
    return MoodleClient(moodle, total_seconds=moodle.deadline)


def _site_info(client: MoodleClient, result: CheckResult) -> SiteInfo | None:
    try:
        info = client.get_site_info()
    except (InvalidToken, WebServicesDisabled) as exc:
        result.add("reachable", Status.OK, "the site answered")
        what = "token" if isinstance(exc, InvalidToken) else "web services"
        result.add(what, Status.FAIL, _message(exc), exc.hint)
        result.unavailable = True
        return None
    except NotMoodleEndpoint as exc:
        result.add("reachable", Status.FAIL, _message(exc), exc.hint)
        result.unavailable = True
        return None
    except MoodleUnavailable as exc:
        result.add("reachable", Status.FAIL, _message(exc), exc.hint or "check LMS_SYNC_MOODLE__URL and the network")
        result.unavailable = True
        return None
    except AccessDenied:
        result.add("reachable", Status.OK, "the site answered")
        result.add("token", Status.OK, "accepted")
        result.add("functions", Status.FAIL, "core_webservice_get_site_info is not in the token's service",
                   "add function core_webservice_get_site_info (and the others in `lms-sync check --help`) to the "
                   "external service, and make the sync account an authorised user")
        return None
    except MoodleError as exc:
        result.add("reachable", Status.OK, "the site answered")
        result.add("site info", Status.FAIL, _message(exc), exc.hint)
        return None
    result.add("reachable", Status.OK, "Moodle REST web services answered")
    result.add("token", Status.OK, f"accepted: user {info.username} (id {info.userid})")
    result.add("site", Status.OK, f"{info.sitename}, Moodle {info.release or info.version}")
    return info


def _check_site(
    client: MoodleClient,
    moodle: MoodleSettings,
    ref: CourseRef | None,
    features: frozenset[Feature],
    role_id: int,
    result: CheckResult,
    attendance: AttendanceRef | None = None,
) -> None:
    info = _site_info(client, result)
    if info is None:
        return
    if info.userissiteadmin:
        result.add("account", Status.WARN, "the token belongs to a site administrator: capabilities cannot be "
                   "checked (an administrator has them all)",
                   "use a dedicated sync account with the lms_sync role (deploy/moodle/lms_sync-role.xml)")
    needed = [f.name for f in functions_for(features)]
    missing = [name for name in needed if name not in info.function_names]
    if missing:
        result.add("functions", Status.FAIL, f"{len(missing)} of {len(needed)} missing: {', '.join(missing)}",
                   "add to the token's external service (Server > Web services > External services > "
                   f"Functions): {', '.join(missing)}")
        return  # the probes call those functions: their answers would only repeat "not in the service"
    result.add("functions", Status.OK, f"all {len(needed)} needed functions are in the service")
    if info.feature("enablecompletion") in (0, "0"):
        result.add("site completion", Status.FAIL, "completion tracking is off on the site",
                   "tick Enable completion tracking (Site administration > General > Advanced features)")

    result.step = "course"
    course = _check_course(client, ref, result)
    attendance_id = _check_attendance(client, course, attendance, result) if attendance else None
    result.step = "capabilities"
    if not info.userissiteadmin:
        target = Target(
            account_id=info.userid,
            account_username=info.username,
            site_course_id=info.siteid,
            course=course,
            role_id=role_id,
            course_unseen=result.course_unseen,
            attendance_id=attendance_id,
        )
        result.findings += probe_capabilities(client, target, capabilities_for(features))
    result.step = "report builder"
    if Feature.REPORT_BUILDER in features:
        _check_report(client, moodle, result)


def _check_course(client: MoodleClient, ref: CourseRef | None, result: CheckResult) -> Course | None:
    if ref is None:
        result.add("course", Status.SKIP, "no programme given")
        return None
    try:
        match = find_course(client, ref.idnumber, ref.shortname)
        course = match.course
        if course is None and match.taken_by is None and course_exists_unseen(client, ref, first_category(client)):
            result.course_unseen = True
            result.add("course", Status.FAIL, f"a course with shortname {ref.shortname} or idnumber {ref.idnumber} "
                       "exists, but the account cannot see it (it is hidden)")
            return None
    except MoodleUnavailable:
        raise
    except MoodleError as exc:
        result.add("course", Status.FAIL, _message(exc), exc.hint)
        return None
    if match.taken_by is not None:
        taken = match.taken_by
        result.add("course", Status.FAIL, f"no course {ref.idnumber}, and its shortname {ref.shortname} belongs to "
                   f"course {taken.id} (idnumber {taken.idnumber!r}): push would be refused",
                   "set another [course].shortname in the programme, or give that course's idnumber to the programme")
        return None
    if course is None:
        result.add("course", Status.OK, f"no course {ref.idnumber} yet: `lms-sync push` creates it")
        return None
    if match.made_by_hand:
        result.add("course", Status.OK, f"{ref.shortname} (id {course.id}) has no idnumber: made by hand; push "
                   f"adopts it and gives it idnumber {ref.idnumber}")
    else:
        result.add("course", Status.OK, f"{ref.idnumber}: id {course.id}, {course.shortname}")
    if "enablecompletion" not in course.model_fields_set:
        # Moodle gives only public fields to an account that cannot enter the course.
        result.add("course completion", Status.UNPROVED, "Moodle did not say: the account cannot enter the course")
    elif course.enablecompletion:
        result.add("course completion", Status.OK, "enabled")
    else:
        result.add("course completion", Status.FAIL, f"completion tracking is off in course {course.shortname}",
                   f"edit course {course.shortname} > Completion tracking: Yes (and set its completion criteria)")
    return course


def _check_attendance(
    client: MoodleClient, course: Course | None, ref: AttendanceRef, result: CheckResult
) -> int | None:
    result.step = "attendance"
    if course is None:
        result.add("attendance", Status.SKIP, "the course does not exist yet")
        return None
    try:
        instance, problem = find_attendance(client, course, programme_id=ref.programme_id, activity=ref.activity,
                                            name=ref.name)
    except MoodleUnavailable:
        raise
    except MoodleError as exc:
        result.add("attendance", Status.FAIL, _message(exc), exc.hint)
        return None
    if problem:
        result.add("attendance", Status.FAIL, problem, "fix [attendance] in the programme")
        return None
    if instance is None:
        result.add("attendance", Status.OK, f"no Attendance activity “{ref.name}” yet: push creates it")
        return None
    result.add("attendance", Status.OK, f"Attendance activity “{instance.name or instance.id}” "
               f"(course module {instance.cmid})")
    return instance.id


def _check_report(client: MoodleClient, moodle: MoodleSettings, result: CheckResult) -> None:
    report_id = moodle.completion_report_id
    if report_id is None:
        return
    try:
        answer = client.retrieve_report(report_id, page=0, perpage=1)
    except (AccessDenied, NotFound) as exc:
        result.add("report builder", Status.FAIL, f"report {report_id}: {_message(exc)}",
                   exc.hint or f"check moodle.completion_report_id ({report_id})")
        return
    except MoodleUnavailable:
        raise
    except MoodleError as exc:
        result.add("report builder", Status.FAIL, f"report {report_id}: {_message(exc)}", exc.hint)
        return
    result.add("report builder", Status.OK,
               f"report {report_id} \u201c{answer.details.name}\u201d, {answer.data.totalrowcount} row(s)")
