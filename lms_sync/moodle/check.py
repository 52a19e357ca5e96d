"""``lms-sync check``: can lms_sync work with this Moodle site, and if not, what must the admin do.

One attempt per call (no retry backoff): a diagnosis should answer in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

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
from ..settings import MoodleSettings, Settings
from .client import MoodleClient

# wsfunction -> what lms_sync uses it for. The token's external service must hold all of them.
REQUIRED_FUNCTIONS: dict[str, str] = {
    "core_webservice_get_site_info": "check",
    "core_course_get_categories": "push",
    "core_course_create_categories": "push",
    "core_course_get_courses_by_field": "push, pull",
    "core_course_create_courses": "push",
    "core_course_update_courses": "push",
    "core_calendar_get_calendar_events": "push",
    "core_calendar_create_calendar_events": "push",
    "core_calendar_delete_calendar_events": "push",
    "core_user_get_users_by_field": "push",
    "core_user_create_users": "push",
    "core_user_update_users": "push",
    "enrol_manual_enrol_users": "push",
    "core_enrol_get_enrolled_users": "pull",
    "core_completion_get_course_completion_status": "pull",
    "core_completion_get_activities_completion_status": "pull",
}
# Needed only for some set-ups: a Report builder pull, or sessions naming their activity by idnumber.
OPTIONAL_FUNCTIONS: dict[str, str] = {
    "core_reportbuilder_retrieve_report": "pull (Report builder)",
    "core_course_get_contents": "pull (attendance activities named by idnumber)",
    "core_course_get_course_module": "pull (attendance activities named by idnumber)",
}

SYNC_CAPABILITIES = (
    "webservice/rest:use",
    "moodle/category:manage",
    "moodle/category:viewhiddencategories",
    "moodle/course:create",
    "moodle/course:update",
    "moodle/course:view",
    "moodle/course:viewhiddencourses",
    "moodle/course:viewparticipants",
    "moodle/course:enrolreview",
    "moodle/calendar:manageentries",
    "moodle/user:create",
    "moodle/user:update",
    "moodle/user:viewdetails",
    "moodle/user:viewalldetails",
    "moodle/site:viewuseridentity",
    "moodle/role:assign",
    "enrol/manual:enrol",
    "report/completion:view",
    "report/progress:view",
)


def _wrap(names: list[str], indent: str, width: int = 96) -> str:
    lines, line = [], indent
    for name in names:
        if len(line) + len(name) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += name + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


CHECK_HELP = f"""\
Setting up Moodle for lms_sync (once, as a Moodle administrator):

  1. Site administration > General > Advanced features: tick "Enable web services" and
     "Enable completion tracking" (and "Enable custom reports" for the Report builder pull).
  2. Site administration > Server > Web services > Manage protocols: enable REST.
  3. Create the sync account (for example "lms-sync", manual authentication), then a role
     "lms_sync" (Site administration > Users > Define roles), context type System, with:
{_wrap(list(SYNC_CAPABILITIES), "       ")}
     In "Allow role assignments", let it assign Student. Assign the role to the account at
     system level (Site administration > Users > Assign system roles).
  4. Site administration > Server > Web services > External services > Add: name "lms_sync",
     Enabled, "Authorised users only". Under Functions, add:
{_wrap(list(REQUIRED_FUNCTIONS), "       ")}
     and, when used (Report builder pull, activities named by idnumber): {", ".join(OPTIONAL_FUNCTIONS)}.
     Under Authorised users, add the sync account.
  5. Site administration > Server > Web services > Manage tokens > Create token: user = the sync
     account, service = lms_sync. Give it to lms_sync as LMS_SYNC_MOODLE__TOKEN, or in a file
     named by [moodle] token_file; LMS_SYNC_MOODLE__URL is the site root (https://...).
  6. Optional: a custom report (Report builder, source "Course participants", condition on the
     course idnumber, audience = the sync account) with the completion columns; set its id as
     [moodle] completion_report_id.

Exit codes: 0 everything lms_sync needs is there; 1 functions, course or completion missing;
2 settings incomplete; 3 site unreachable, not Moodle, web services off or token refused.
"""

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"


@dataclass
class _Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    unavailable: bool = False  # the site stopped answering after site info: exit 3, not 1

    def add(self, check: str, status: str, detail: str, todo: str | None = None) -> None:
        self.rows.append((check, status, detail))
        if todo and todo not in self.todo:
            self.todo.append(todo)

    @property
    def failed(self) -> bool:
        return any(status == FAIL for _, status, _ in self.rows)

    def render(self, out: TextIO, title: str, verdict: str) -> None:
        header = ("check", "result", "detail")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(2)]
        out.write(f"{title}\n\n")
        for row in [header, tuple("-" * len(h) for h in header), *self.rows]:
            out.write(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip() + "\n")
        if self.todo:
            out.write("\nWhat to do:\n")
            for item in self.todo:
                out.write(f"  - {item}\n")
        out.write(f"\n{verdict}\n")


def _message(exc: MoodleError) -> str:
    # The wsfunction prefix is noise in a table row that already says what was checked.
    text = str(exc)
    return text.split(": ", 1)[1] if exc.wsfunction and text.startswith(exc.wsfunction + ": ") else text


def run_check(
    settings: Settings,
    out: TextIO,
    course_idnumber: str | None = None,
    *,
    client_factory: Callable[[MoodleSettings], MoodleClient] | None = None,
) -> int:
    """Check the site, token, service functions, course and completion; print a table; return the exit code."""
    moodle = settings.moodle
    report = _Report()
    title = f"lms-sync check: {moodle.url or '(no Moodle URL)'}"
    try:
        client = (client_factory or (lambda s: MoodleClient(s)))(moodle.model_copy(update={"retry_attempts": 1}))
    except ConfigError as exc:
        report.add("settings", FAIL, str(exc).splitlines()[-1].strip(), exc.hint)
        report.render(out, title, "Not checked: the settings are incomplete.")
        return EXIT_CONFIG
    with client:
        code = _check_site(client, moodle, course_idnumber, report)
    verdict = {
        EXIT_OK: "All lms_sync needs is in place.",
        EXIT_PARTIAL: "Moodle is reachable, but something lms_sync needs is missing (see above).",
        EXIT_UNAVAILABLE: "lms_sync cannot use this Moodle site (see above).",
    }[code]
    report.render(out, title, verdict)
    return code


def _check_site(client: MoodleClient, moodle: MoodleSettings, course_idnumber: str | None, report: _Report) -> int:
    try:
        info = client.get_site_info()
    except (InvalidToken, WebServicesDisabled) as exc:
        report.add("reachable", OK, "the site answered")
        what = "token" if isinstance(exc, InvalidToken) else "web services"
        report.add(what, FAIL, _message(exc), exc.hint)
        return EXIT_UNAVAILABLE
    except NotMoodleEndpoint as exc:
        report.add("reachable", FAIL, _message(exc), exc.hint)
        return EXIT_UNAVAILABLE
    except MoodleUnavailable as exc:
        report.add("reachable", FAIL, _message(exc), exc.hint or "check LMS_SYNC_MOODLE__URL and the network")
        return EXIT_UNAVAILABLE
    except AccessDenied:
        report.add("reachable", OK, "the site answered")
        report.add("token", OK, "accepted")
        report.add(
            "functions", FAIL, "core_webservice_get_site_info is not in the token's service",
            "add function core_webservice_get_site_info (and the others in `lms-sync check --help`) to the "
            "external service, and make the sync account an authorised user",
        )
        return EXIT_PARTIAL
    except MoodleError as exc:
        report.add("reachable", OK, "the site answered")
        report.add("site info", FAIL, _message(exc), exc.hint)
        return EXIT_PARTIAL

    report.add("reachable", OK, "Moodle REST web services answered")
    report.add("token", OK, f"accepted: user {info.username} (id {info.userid})")
    report.add("site", OK, f"{info.sitename}, Moodle {info.release or info.version}")
    if info.userissiteadmin:
        report.add("account", WARN, "the token belongs to a site administrator",
                   "use a dedicated sync account with only the capabilities listed in `lms-sync check --help`")

    available = info.function_names
    missing = [name for name in REQUIRED_FUNCTIONS if name not in available]
    if missing:
        report.add("functions", FAIL, f"{len(missing)} of {len(REQUIRED_FUNCTIONS)} missing: {', '.join(missing)}",
                   f"add to the token's external service (Server > Web services > External services > "
                   f"Functions): {', '.join(missing)}")
    else:
        report.add("functions", OK, f"all {len(REQUIRED_FUNCTIONS)} needed functions are in the service")
    _check_report_function(client, moodle, available, report)

    if info.feature("enablecompletion") in (0, "0"):
        report.add("site completion", FAIL, "completion tracking is off on the site",
                   "tick Enable completion tracking (Site administration > General > Advanced features)")
    _check_course(client, course_idnumber, available, report)
    if report.unavailable:
        return EXIT_UNAVAILABLE
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _failed(report: _Report, check: str, exc: MoodleError, prefix: str = "") -> None:
    """Add a FAIL row for a check that Moodle could not answer; an unavailable site makes the exit code 3."""
    if isinstance(exc, MoodleUnavailable):
        report.unavailable = True
    hint = exc.hint or ("run the check again; if it persists, check the site and its logs"
                        if isinstance(exc, MoodleUnavailable) else None)
    report.add(check, FAIL, prefix + _message(exc), hint)


def _check_report_function(
    client: MoodleClient, moodle: MoodleSettings, available: frozenset[str], report: _Report
) -> None:
    name = "core_reportbuilder_retrieve_report"
    if moodle.completion_report_id is None:
        detail = "available" if name in available else f"{name} not in the service"
        report.add("report builder", SKIP, f"optional, no completion_report_id set ({detail})")
        return
    if name not in available:
        report.add("report builder", FAIL, f"completion_report_id is set but {name} is not in the service",
                   f"add {name} to the external service, or unset moodle.completion_report_id")
        return
    try:
        result = client.retrieve_report(moodle.completion_report_id, page=0, perpage=1)
    except (AccessDenied, NotFound) as exc:
        report.add("report builder", FAIL, f"report {moodle.completion_report_id}: {_message(exc)}",
                   exc.hint or f"check moodle.completion_report_id ({moodle.completion_report_id})")
        return
    except MoodleError as exc:
        # Timeouts, 5xx, odd answers: a row in the table, never a traceback that hides the table.
        _failed(report, "report builder", exc, f"report {moodle.completion_report_id}: ")
        return
    report.add("report builder", OK,
               f"report {moodle.completion_report_id} \u201c{result.details.name}\u201d, {result.data.totalrowcount} row(s)")


def _check_course(client: MoodleClient, idnumber: str | None, available: frozenset[str], report: _Report) -> None:
    if idnumber is None:
        report.add("course", SKIP, "no course idnumber given")
        return
    if "core_course_get_courses_by_field" not in available:
        report.add("course", SKIP, "cannot look it up: core_course_get_courses_by_field is missing")
        return
    try:
        courses = client.get_courses_by_field("idnumber", idnumber).courses
    except MoodleError as exc:
        _failed(report, "course", exc)
        return
    if not courses:
        report.add("course", FAIL, f"no course with idnumber {idnumber}",
                   f"run `lms-sync push` to create course {idnumber}, or fix the idnumber in the programme file")
        return
    course = courses[0]
    report.add("course", OK, f"{idnumber}: id {course.id}, {course.shortname}")
    if course.enablecompletion:
        report.add("course completion", OK, "enabled")
    else:
        report.add("course completion", FAIL, f"completion tracking is off in course {course.shortname}",
                   f"edit course {course.shortname} > Completion tracking: Yes (and set its completion criteria)")
