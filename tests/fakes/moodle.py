"""A stateful fake Moodle behind ``responses``: categories, courses, calendar events, users, enrolments, groups.

It answers in the shapes recorded in ``tests/recordings`` (``tests/sync/test_fake_moodle.py``
compares them key by key so the fake cannot drift from the real site), checks the sync account's
capabilities where the real Moodle 5.1 does (``capabilities``: the lms_sync role by default; a test
removes one to see what Moodle answers then, as ``tests/realmoodle`` saw it), enforces the constraints
that matter to a sync (unique idnumbers, usernames and emails; all-or-nothing create batches; a
missing event id failing a whole delete; no update call for events; HTML comments and ``data-*``
stripped from descriptions) and can inject faults: a timeout before or *after* the write was
applied, an HTTP 500, or a simulated crash (``Crash``, a BaseException nothing in lms_sync catches).

Other suites add wsfunctions without editing this file::

    fake.handlers["core_completion_get_course_completion_status"] = my_handler  # (fake, params) -> answer

Handlers receive the fake (its ``users``, ``courses``, ``enrolments``... dicts are public state) and
the request parameters un-flattened from PHP's bracket notation (all scalars are strings).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import requests
import responses

from lms_sync.moodle.functions import ALL_FEATURES, capabilities_for

BASE_URL = "https://moodle.example.test"
ENDPOINT = BASE_URL + "/webservice/rest/server.php"
TOKEN = "fake-token-0d1e2f"
NOW = 1_795_746_858  # a fixed "now" so answers are deterministic
SITE_COURSE = 1  # the front page: a course context with no enrolment method
GUEST = {"id": 1, "username": "guest", "firstname": "Guest user", "lastname": " ", "email": "root@localhost",
         "idnumber": "", "institution": "", "department": "", "auth": "manual", "password": "",
         "password_changes": 0}
FULL_ROLE = frozenset(capabilities_for(ALL_FEATURES))
# How Moodle names a capability in "Sorry, but you do not currently have permissions to do that (...)".
CAPABILITY_NAMES = {
    "moodle/category:manage": "Manage categories",
    "moodle/course:create": "Create courses",
    "moodle/course:update": "Update course settings",
    "moodle/course:changefullname": "Change course full name",
    "moodle/course:changeshortname": "Change course short name",
    "moodle/course:changeidnumber": "Change course ID number",
    "moodle/course:changesummary": "Change course summary",
    "moodle/course:changecategory": "Change course category",
    "moodle/calendar:manageentries": "Manage entries in calendar",
    "moodle/user:create": "Create users",
    "moodle/user:update": "Update user profiles",
    "enrol/manual:enrol": "Enrol users",
    "moodle/course:viewparticipants": "View participants",
    "moodle/course:enrolreview": "Review course enrolments",
    "report/progress:view": "View activity completion reports",
    "moodle/course:managegroups": "Manage groups",
}
# What get_courses_by_field returns about a course the account cannot enter.
PUBLIC_COURSE_FIELDS = frozenset({"id", "fullname", "displayname", "shortname", "courseimage", "categoryid",
                                  "categoryname", "sortorder", "summary", "summaryformat", "summaryfiles",
                                  "overviewfiles", "showactivitydates", "showcompletionconditions", "contacts",
                                  "enrollmentmethods"})
# Course fields update_courses checks a capability for, when the value changes.
CHANGE_CAPABILITIES = {"categoryid": "moodle/course:changecategory", "fullname": "moodle/course:changefullname",
                       "shortname": "moodle/course:changeshortname", "idnumber": "moodle/course:changeidnumber",
                       "summary": "moodle/course:changesummary"}

Handler = Callable[["FakeMoodle", dict[str, Any]], Any]


class MoodleFault(Exception):
    """Raised by a handler: the fake answers Moodle's HTTP 200 error body."""

    def __init__(self, errorcode: str, message: str, exception: str = "core\\exception\\moodle_exception") -> None:
        super().__init__(message)
        self.errorcode = errorcode
        self.message = message
        self.exception = exception


def invalid_parameter() -> MoodleFault:
    """Moodle's generic answer to a bad parameter (the reason is only in debuginfo)."""
    return MoodleFault("invalidparameter", "Invalid parameter value detected", "core\\exception\\invalid_parameter_exception")


def missing_record() -> MoodleFault:
    """Moodle's answer to a nonexistent id."""
    return MoodleFault("invalidrecordunknown", "Can't find data record in database.", "dml_missing_record_exception")


def no_permission(capability: str) -> MoodleFault:
    """Moodle's answer when the account lacks ``capability``."""
    name = CAPABILITY_NAMES.get(capability, capability)
    return MoodleFault("nopermissions", f"Sorry, but you do not currently have permissions to do that ({name}).",
                       "core\\exception\\required_capability_exception")


class Crash(BaseException):
    """The process was killed at this point: nothing in lms_sync may catch it (BaseException)."""


@dataclass
class Call:
    """One request the fake received."""

    wsfunction: str
    params: dict[str, Any]
    write: bool


@dataclass
class Fault:
    """A fault to inject into the ``skip + 1``-th call matching ``wsfunction`` (any call when None).

    Capability probes (writes Moodle refuses by design) are passed over unless ``probes`` is set, so
    that a fault meant for a create hits the create.
    """

    kind: str  # timeout_before, timeout_after, http500, crash_before, crash_after
    wsfunction: str | None = None
    writes_only: bool = False
    skip: int = 0
    probes: bool = False


FAULT_KINDS = ("timeout_before", "timeout_after", "http500", "crash_before", "crash_after")

WRITE_FUNCTIONS = frozenset(
    {
        "core_course_create_categories",
        "core_course_update_categories",
        "core_course_create_courses",
        "core_course_update_courses",
        "core_calendar_create_calendar_events",
        "core_calendar_delete_calendar_events",
        "core_calendar_submit_create_update_form",
        "core_calendar_update_event_start_day",
        "core_user_create_users",
        "core_user_update_users",
        "enrol_manual_enrol_users",
        "enrol_manual_unenrol_users",
        "mod_attendance_add_attendance",
        "mod_attendance_add_session",
        "mod_attendance_remove_session",
        "core_group_create_groups",
        "core_group_add_group_members",
        "core_group_delete_group_members",
    }
)

# Keys Moodle accepts at create time; any other key is "Unexpected keys" (invalidparameter).
EVENT_CREATE_KEYS = frozenset(
    {"name", "description", "format", "courseid", "groupid", "repeats", "eventtype", "timestart", "timeduration",
     "visible", "sequence"}
)
COURSE_KEYS = frozenset(
    {"id", "fullname", "shortname", "categoryid", "idnumber", "summary", "summaryformat", "format", "showgrades",
     "newsitems", "startdate", "enddate", "numsections", "maxbytes", "showreports", "visible", "hiddensections",
     "groupmode", "groupmodeforce", "defaultgroupingid", "enablecompletion", "completionnotify", "lang",
     "forcetheme", "courseformatoptions", "customfields", "showactivitydates", "showcompletionconditions"}
)
USER_KEYS = frozenset(
    {"id", "createpassword", "username", "auth", "password", "firstname", "lastname", "email", "maildisplay", "city",
     "country", "timezone", "description", "idnumber", "institution", "department", "phone1", "phone2", "address",
     "lang", "calendartype", "theme", "mailformat", "suspended", "customfields", "preferences"}
)
USERNAME_RE = re.compile(r"^[a-z0-9_.@-]+$")


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP bracket fields (``events[0][name]``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)  # type: ignore[no-any-return]


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def is_probe(wsfunction: str, params: dict[str, Any]) -> bool:
    """Whether a call is one of lms_sync's capability probes (``lms_sync/moodle/probes.py``): a write Moodle refuses."""
    if wsfunction not in WRITE_FUNCTIONS:
        return False
    text = json.dumps(params)
    return any(mark in text for mark in ('"lms-sync-probe', '"999999999"', '"startdate": "2", "enddate": "1"',
                                         '"fullname": ""', '"shortname": ""', '"probe@example.invalid"',
                                         '"courseid": "1"'))


def clean_html(text: str) -> str:
    """What Moodle's cleaning does to a description, as far as the fixtures show: comments and data-* go."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return re.sub(r"\s+data-[\w-]+=(\"[^\"]*\"|'[^']*')", "", text)


def _int(value: Any, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if not re.fullmatch(r"-?\d+", str(value)):
        raise invalid_parameter()
    return int(value)


class FakeMoodle:
    """A Moodle site in memory; ``install(rsps)`` routes the REST endpoint of ``url`` to it."""

    def __init__(
        self,
        url: str = BASE_URL,
        token: str = TOKEN,
        *,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        ws_userid: int = 3,
        capabilities: frozenset[str] | set[str] = FULL_ROLE,
    ) -> None:
        """An empty site; ``latency`` seconds are slept (with ``sleep``) per call, for benchmarks."""
        self.url = url.rstrip("/")
        self.endpoint = self.url + "/webservice/rest/server.php"
        self.token = token
        self.latency = latency
        self.sleep = sleep
        self.ws_userid = ws_userid
        self.capabilities = set(capabilities)
        self.ws_username = "wsuser"
        self.categories: dict[int, dict[str, Any]] = {}
        self.courses: dict[int, dict[str, Any]] = {}
        self.events: dict[int, dict[str, Any]] = {}
        # The guest account and the sync account itself, as on every site.
        self.users: dict[int, dict[str, Any]] = {
            1: dict(GUEST),
            ws_userid: {**GUEST, "id": ws_userid, "username": self.ws_username, "firstname": "WS", "lastname": "User",
                        "email": "wsuser@example.invalid", "password": "sent"},
        }
        # (courseid, userid) -> {"roleids": set[int], "status": 0 active | 1 suspended}
        self.enrolments: dict[tuple[int, int], dict[str, Any]] = {}
        # id -> {"id", "courseid", "name", "idnumber", "description", "members": set of user ids}
        self.groups: dict[int, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.before_call: Callable[[str, dict[str, Any]], None] | None = None  # hook for other suites
        self._ids = itertools.count(10)  # ids above the fixtures' small ones, shared by all kinds
        self.handlers: dict[str, Handler] = {
            "core_webservice_get_site_info": FakeMoodle._site_info,
            "core_course_get_categories": FakeMoodle._get_categories,
            "core_course_create_categories": FakeMoodle._create_categories,
            "core_course_update_categories": FakeMoodle._update_categories,
            "core_course_get_user_administration_options": FakeMoodle._administration_options,
            "core_calendar_get_allowed_event_types": FakeMoodle._allowed_event_types,
            "core_course_get_courses_by_field": FakeMoodle._get_courses_by_field,
            "core_course_create_courses": FakeMoodle._create_courses,
            "core_course_update_courses": FakeMoodle._update_courses,
            "core_calendar_get_calendar_events": FakeMoodle._get_events,
            "core_calendar_create_calendar_events": FakeMoodle._create_events,
            "core_calendar_delete_calendar_events": FakeMoodle._delete_events,
            "core_user_get_users_by_field": FakeMoodle._get_users_by_field,
            "core_user_create_users": FakeMoodle._create_users,
            "core_user_update_users": FakeMoodle._update_users,
            "enrol_manual_enrol_users": FakeMoodle._enrol_users,
            "core_enrol_get_enrolled_users": FakeMoodle._get_enrolled_users,
            "core_group_get_course_groups": FakeMoodle._get_course_groups,
            "core_group_get_group_members": FakeMoodle._get_group_members,
            "core_group_create_groups": FakeMoodle._create_groups,
            "core_group_add_group_members": FakeMoodle._add_group_members,
            "core_group_delete_group_members": FakeMoodle._delete_group_members,
        }

    # ------------------------------------------------------------------------------------ plumbing

    def install(self, rsps: responses.RequestsMock) -> FakeMoodle:
        """Answer every POST to this site's REST endpoint from now on."""
        rsps.add_callback(responses.POST, self.endpoint, callback=self._callback)
        return self

    def inject(self, kind: str, wsfunction: str | None = None, *, writes_only: bool = False, skip: int = 0,
               probes: bool = False) -> None:
        """Make the ``skip + 1``-th matching call fail with ``kind`` (see FAULT_KINDS); probes count if ``probes``."""
        if kind not in FAULT_KINDS:
            raise ValueError(kind)
        self.faults.append(Fault(kind, wsfunction, writes_only, skip, probes))

    @property
    def write_calls(self) -> list[Call]:
        """The calls that changed the site (a write Moodle refused is not one), or failed before it could tell."""
        return [c for c in self.calls if c.write]

    @property
    def write_attempts(self) -> list[Call]:
        """Every call to a write function, refused ones (the capability probes) included."""
        return [c for c in self.calls if c.wsfunction in WRITE_FUNCTIONS]

    def reset_calls(self) -> None:
        """Forget the calls recorded so far (the state stays)."""
        self.calls.clear()

    def _take_fault(self, wsfunction: str, write: bool, probe: bool) -> Fault | None:
        for fault in self.faults:
            if fault.wsfunction not in (None, wsfunction) or (fault.writes_only and not write):
                continue
            if probe and not fault.probes:
                continue
            if fault.skip:
                fault.skip -= 1
                return None
            self.faults.remove(fault)
            return fault
        return None

    def _callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body or ""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        pairs = parse_qsl(text, keep_blank_values=True)
        form = dict(pairs)
        wsfunction = form.get("wsfunction", "")
        params = unflatten([(k, v) for k, v in pairs if k not in ("wstoken", "wsfunction", "moodlewsrestformat")])
        write = wsfunction in WRITE_FUNCTIONS
        if self.latency:
            self.sleep(self.latency)
        if self.before_call is not None:
            self.before_call(wsfunction, params)
        fault = self._take_fault(wsfunction, write, is_probe(wsfunction, params))
        if fault and fault.kind == "crash_before":
            raise Crash(f"killed before {wsfunction}")
        if fault and fault.kind == "timeout_before":
            raise requests.exceptions.ConnectionError(f"connection reset before {wsfunction} reached the site")
        if fault and fault.kind == "http500":
            self.calls.append(Call(wsfunction, params, write))
            return 500, {"Content-Type": "text/html"}, "<html><body>Internal Server Error</body></html>"
        before = self._digest() if write else ""
        status, answer = self._dispatch(form, wsfunction, params)
        # A write call Moodle refused (an error, a warning per item: the capability probes) changed nothing.
        self.calls.append(Call(wsfunction, params, write and self._digest() != before))
        if fault and fault.kind == "crash_after":
            raise Crash(f"killed after {wsfunction} was applied")
        if fault and fault.kind == "timeout_after":
            raise requests.exceptions.ReadTimeout(f"no answer to {wsfunction} (it was applied)")
        return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(answer, ensure_ascii=False)

    def _digest(self) -> str:
        return repr((self.categories, self.courses, self.events, self.users, self.enrolments, self.groups))

    def _dispatch(self, form: dict[str, str], wsfunction: str, params: dict[str, Any]) -> tuple[int, Any]:
        if form.get("wstoken") != self.token:
            return 200, {"exception": "core\\exception\\moodle_exception", "errorcode": "invalidtoken",
                         "message": "Invalid token - token not found"}
        handler = self.handlers.get(wsfunction)
        if handler is None:
            return 200, {"exception": "core\\exception\\moodle_exception", "errorcode": "accessexception",
                         "message": "Access control exception"}
        try:
            return 200, handler(self, params)
        except MoodleFault as fault:
            return 200, {"exception": fault.exception, "errorcode": fault.errorcode, "message": fault.message}

    def new_id(self) -> int:
        """A fresh record id."""
        return next(self._ids)

    def can(self, capability: str) -> bool:
        """Whether the sync account holds ``capability`` (at system level, so everywhere)."""
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        """Raise Moodle's ``nopermissions`` unless the account holds ``capability``."""
        if not self.can(capability):
            raise no_permission(capability)

    def enter_course(self, courseid: int, *, wrap: str | None = None) -> dict[str, Any]:
        """validate_context on a course: a non-participant needs course:view, a hidden course viewhiddencourses."""
        course = self.courses.get(courseid)
        if course is None:
            raise missing_record()
        if not self.can("moodle/course:view") or (not course["visible"] and not self.can("moodle/course:viewhiddencourses")):
            if wrap:
                raise MoodleFault(wrap, "Context error")
            raise MoodleFault("requireloginerror", "Course or activity not accessible.", "require_login_exception")
        return course

    # --------------------------------------------------------------------------------- inspection

    def course_by_idnumber(self, idnumber: str) -> dict[str, Any] | None:
        """The course with this idnumber, if any."""
        return next((c for c in self.courses.values() if c["idnumber"] == idnumber), None)

    def course_events(self, courseid: int) -> list[dict[str, Any]]:
        """The course's events, by id."""
        return sorted((e for e in self.events.values() if e["courseid"] == courseid), key=lambda e: e["id"])

    def user_by_username(self, username: str) -> dict[str, Any] | None:
        """The user with this username, if any."""
        return next((u for u in self.users.values() if u["username"] == username), None)

    def course_groups(self, courseid: int) -> dict[str, set[str]]:
        """The course's groups: name -> usernames of their members."""
        return {g["name"]: {self.users[u]["username"] for u in g["members"]}
                for g in self.groups.values() if g["courseid"] == courseid}

    def active_usernames(self, courseid: int) -> set[str]:
        """Usernames with an active enrolment in the course."""
        return {
            self.users[uid]["username"]
            for (cid, uid), enrolment in self.enrolments.items()
            if cid == courseid and enrolment["status"] == 0
        }

    # ---------------------------------------------------------------------------------- handlers

    def _site_info(self, params: dict[str, Any]) -> Any:
        return {
            "sitename": "Fake Moodle", "username": self.ws_username, "firstname": "WS", "lastname": "User",
            "fullname": "WS User", "lang": "en", "userid": self.ws_userid, "siteurl": self.url,
            "userpictureurl": "", "functions": [{"name": n, "version": "2025100600"} for n in sorted(self.handlers)],
            "downloadfiles": 0, "uploadfiles": 0, "release": "5.1+ (Build: 20251017)", "version": "2025100600.02",
            "mobilecssurl": "", "advancedfeatures": [{"name": "enablecompletion", "value": 1}],
            "usercanmanageownfiles": True, "userquota": 0, "usermaxuploadfilesize": 0, "userhomepage": 1,
            "userprivateaccesskey": "", "siteid": 1, "sitecalendartype": "gregorian", "usercalendartype": "gregorian",
            "userissiteadmin": False, "theme": "boost", "limitconcurrentlogins": 0, "policyagreed": 1,
        }

    def _category_out(self, cat: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": cat["id"], "name": cat["name"], "idnumber": cat["idnumber"], "description": cat["description"],
            "descriptionformat": cat["descriptionformat"], "parent": cat["parent"], "sortorder": 10000 * cat["id"],
            "coursecount": sum(1 for c in self.courses.values() if c["categoryid"] == cat["id"]), "visible": 1,
            "visibleold": 1, "timemodified": NOW, "depth": 1, "path": f"/{cat['id']}", "theme": "",
        }

    def _get_categories(self, params: dict[str, Any]) -> Any:
        if not self.can("moodle/category:viewcourselist"):
            return []
        cats = list(self.categories.values())
        for criterion in params.get("criteria", []):
            key, value = criterion["key"], criterion["value"]
            if key not in ("id", "ids", "name", "parent", "idnumber", "visible", "theme"):
                raise invalid_parameter()
            needs = {"idnumber": "moodle/category:manage", "theme": "moodle/category:manage",
                     "visible": "moodle/category:viewhiddencategories"}.get(key)
            if needs and not self.can(needs):
                raise MoodleFault("criteriaerror", "Missing permissions to search on a criterion.")
            if key == "visible":
                cats = [c for c in cats if str(c.get("visible", 1)) == value]
                continue
            if key == "ids":
                wanted = {int(v) for v in value.split(",")}
                cats = [c for c in cats if c["id"] in wanted]
            else:
                cats = [c for c in cats if str(c.get(key, "")) == value]
        return [self._category_out(c) for c in sorted(cats, key=lambda c: c["id"])]

    def _create_categories(self, params: dict[str, Any]) -> Any:
        items = params.get("categories", [])
        taken = {c["idnumber"] for c in self.categories.values() if c["idnumber"]}
        for item in items:  # all-or-nothing, like Moodle's transaction
            self.require("moodle/category:manage")
            if not item.get("name", "").strip():
                raise MoodleFault("categorynamerequired", "Category name is required")
            if item.get("idnumber") and item["idnumber"] in taken:
                raise MoodleFault("categoryidnumbertaken", "ID number is already used for another category")
            taken.add(item.get("idnumber", ""))
        out = []
        for item in items:
            cid = self.new_id()
            self.categories[cid] = {
                "id": cid, "name": item["name"], "idnumber": item.get("idnumber", ""),
                "description": item.get("description", ""), "descriptionformat": _int(item.get("descriptionformat"), 1),
                "parent": _int(item.get("parent"), 0),
            }
            out.append({"id": cid, "name": item["name"]})
        return out

    def _update_categories(self, params: dict[str, Any]) -> Any:
        for item in params.get("categories", []):  # one transaction: validated before any change
            cat = self.categories.get(_int(item.get("id")))
            if cat is None:
                raise MoodleFault("unknowncategory", "Category not known")
            self.require("moodle/category:manage")
            if "name" in item and not item["name"].strip():
                raise MoodleFault("categorynamerequired", "Category name is required")
            idnumber = item.get("idnumber")
            if idnumber and any(c["idnumber"] == idnumber and c["id"] != cat["id"] for c in self.categories.values()):
                raise MoodleFault("categoryidnumbertaken", "ID number is already used for another category")
        for item in params.get("categories", []):
            cat = self.categories[_int(item["id"])]
            cat.update({k: v for k, v in item.items() if k in ("name", "idnumber", "description")})
        return None

    def _course_out(self, c: dict[str, Any]) -> dict[str, Any]:
        cat = self.categories.get(c["categoryid"], {})
        return {
            "id": c["id"], "fullname": c["fullname"], "displayname": c["fullname"], "shortname": c["shortname"],
            "courseimage": f"{self.url}/pluginfile.php/15/course/generated/course.svg", "categoryid": c["categoryid"],
            "categoryname": cat.get("name", ""), "sortorder": 20000 + c["id"], "summary": c["summary"],
            "summaryformat": c["summaryformat"], "summaryfiles": [], "overviewfiles": [], "showactivitydates": True,
            "showcompletionconditions": True, "contacts": [], "enrollmentmethods": ["manual"],
            "idnumber": c["idnumber"], "format": c["format"], "showgrades": 1, "newsitems": 5,
            "startdate": c["startdate"], "enddate": c["enddate"], "maxbytes": 0, "showreports": 0,
            "visible": c["visible"], "groupmode": c.get("groupmode", 0), "groupmodeforce": 0, "defaultgroupingid": 0,
            "enablecompletion": c["enablecompletion"], "completionnotify": 0, "lang": c.get("lang", ""), "theme": "",
            "marker": 0, "legacyfiles": 0, "calendartype": "", "timecreated": NOW, "timemodified": NOW,
            "requested": 0, "cacherev": NOW,
            "filters": [{"filter": "displayh5p", "localstate": 0, "inheritedstate": 1}],
            "courseformatoptions": [{"name": "hiddensections", "value": 1}],
        }

    def _get_courses_by_field(self, params: dict[str, Any]) -> Any:
        fieldname, value = params.get("field", ""), params.get("value", "")
        courses = list(self.courses.values())
        if fieldname == "":
            pass
        elif fieldname in ("id", "category"):
            key = "id" if fieldname == "id" else "categoryid"
            courses = [c for c in courses if c[key] == _int(value)]
        elif fieldname == "ids":
            wanted = {int(v) for v in value.split(",") if v}
            courses = [c for c in courses if c["id"] in wanted]
        elif fieldname in ("shortname", "idnumber"):
            courses = [c for c in courses if c[fieldname] == value]
        else:
            raise invalid_parameter()
        # A hidden course passes the first test with course:update, then the account cannot enter it, and
        # without viewhiddencourses not even its public information comes back: invisible.
        if not self.can("moodle/course:viewhiddencourses"):
            courses = [c for c in courses if c["visible"]]
        out = [self._course_out(c) for c in sorted(courses, key=lambda c: c["id"])]
        for course in out:
            if not self.can("moodle/course:view"):  # cannot enter it: the public information only
                for key in set(course) - PUBLIC_COURSE_FIELDS:
                    course.pop(key)
            elif not self.can("moodle/course:update"):  # the idnumber comes back only with course:update
                course.pop("idnumber")
        return {"courses": out, "warnings": []}

    def _check_course_fields(self, item: dict[str, Any]) -> None:
        if set(item) - COURSE_KEYS or item.get("lang") == "":
            raise invalid_parameter()

    def _create_courses(self, params: dict[str, Any]) -> Any:
        items = params.get("courses", [])
        shortnames = {c["shortname"] for c in self.courses.values()}
        idnumbers = {c["idnumber"] for c in self.courses.values() if c["idnumber"]}
        for item in items:  # all-or-nothing: one bad course fails the whole batch
            self._check_course_fields(item)
            catid = _int(item.get("categoryid"))
            if catid not in self.categories:
                raise MoodleFault(
                    "errorcatcontextnotvalid",
                    f"You cannot execute functions in the category context (category id:{catid}). "
                    "The context error message was: Invalid parameter value detected",
                )
            self.require("moodle/course:create")
            if not item.get("fullname", "").strip() or not item.get("shortname", "").strip():
                which = "fullname" if not item.get("fullname", "").strip() else "shortname"
                raise MoodleFault("errorinvalidparam", f'The param "{which}" is invalid.')
            if item["shortname"] in shortnames:
                raise MoodleFault("shortnametaken", f"Short name is already used for another course ({item['shortname']})")
            if item.get("idnumber") and item["idnumber"] in idnumbers:
                raise MoodleFault("courseidnumbertaken", f"ID number is already used for another course ({item['idnumber']})")
            start, end = _int(item.get("startdate"), NOW), _int(item.get("enddate"), 0)
            if end and end < start:
                raise MoodleFault("enddatebeforestartdate", "The course end date must be after the start date.")
            shortnames.add(item["shortname"])
            idnumbers.add(item.get("idnumber", ""))
        out = []
        for item in items:
            cid = self.new_id()
            self.courses[cid] = {
                "id": cid, "fullname": item["fullname"], "shortname": item["shortname"],
                "categoryid": _int(item["categoryid"]), "idnumber": item.get("idnumber", ""),
                "summary": item.get("summary", ""), "summaryformat": _int(item.get("summaryformat"), 1),
                "format": item.get("format", "topics"), "startdate": _int(item.get("startdate"), NOW),
                "enddate": _int(item.get("enddate"), 0), "visible": _int(item.get("visible"), 1),
                "enablecompletion": _int(item.get("enablecompletion"), 0),
            }
            out.append({"id": cid, "shortname": item["shortname"]})
        return out

    def _update_courses(self, params: dict[str, Any]) -> Any:
        warnings = []
        for item in params.get("courses", []):
            self._check_course_fields(item)
            cid = _int(item.get("id"))
            try:
                course = self._may_update_course(cid, item)
            except MoodleFault as fault:  # each course fails on its own, as a warning
                warnings.append({"item": "course", "itemid": cid, "warningcode": fault.errorcode,
                                 "message": fault.message})
                continue
            if "shortname" in item and any(
                c["shortname"] == item["shortname"] and c["id"] != cid for c in self.courses.values()
            ):
                warnings.append({"item": "course", "itemid": cid, "warningcode": "shortnametaken",
                                 "message": f"Short name is already used for another course ({item['shortname']})"})
                continue
            for key, value in item.items():
                if key in ("id", "courseformatoptions", "customfields"):
                    continue
                ints = ("categoryid", "startdate", "enddate", "visible", "enablecompletion", "summaryformat")
                course[key] = _int(value) if key in ints else value
        return {"warnings": warnings}

    def _may_update_course(self, cid: int, item: dict[str, Any]) -> dict[str, Any]:
        """Moodle's checks before update_course() writes, in its order: context, capabilities, validation."""
        site = cid == SITE_COURSE
        course = {"id": cid, "categoryid": 0, "fullname": "Site", "shortname": "site", "idnumber": "",
                  "summary": ""} if site else None
        if course is None:
            if cid not in self.courses:
                raise missing_record()
            course = self.enter_course(cid)
        self.require("moodle/course:update")
        for key, capability in CHANGE_CAPABILITIES.items():
            if key in item and str(item[key]) != str(course.get(key, "")):
                self.require(capability)
                if key in ("fullname", "shortname") and not item[key].strip():
                    raise MoodleFault("errorinvalidparam", f'The param "{key}" is invalid.')
        if site:
            raise MoodleFault("invalidcourse", "Invalid course")
        # course_validate_dates() looks at the dates sent, not the stored ones.
        start, end = _int(item.get("startdate"), 0), _int(item.get("enddate"), 0)
        if end and not start:
            raise MoodleFault("nostartdatenoenddate", "A course end date can only be set if a start date is also set.")
        if end and end < start:
            raise MoodleFault("enddatebeforestartdate", "The course end date must be after the start date.")
        return course

    def _administration_options(self, params: dict[str, Any]) -> Any:
        courses, warnings = [], []
        for raw in params.get("courseids", []):
            cid = _int(raw)
            try:
                self.enter_course(cid)
            except MoodleFault:
                warnings.append({"item": "course", "itemid": cid, "warningcode": "1",
                                 "message": "No access rights in course context"})
                continue
            update = self.can("moodle/course:update")
            names = ("update", "editcompletion", "filters", "reports", "backup", "restore", "copy", "files",
                     "tags", "gradebook", "outcomes", "badges", "import", "reset", "roles")
            available = {"update": update, "editcompletion": update, "badges": True}
            courses.append({"id": cid, "options": [{"name": n, "available": available.get(n, False)} for n in names]})
        return {"courses": courses, "warnings": warnings}

    def _allowed_event_types(self, params: dict[str, Any]) -> Any:
        types = ["user"]
        if self.can("moodle/calendar:manageentries"):
            types += ["site", "course"] if _int(params.get("courseid"), 0) else ["site"]
        if self.can("moodle/category:manage"):
            types.append("category")
        return {"allowedeventtypes": types, "warnings": []}

    def _event_out(self, e: dict[str, Any], *, created: bool = False) -> dict[str, Any]:
        description = e["description"]
        if e["format"] == 2 and not created:  # a plain-text description is read back as HTML
            description = html.escape(description, quote=False).replace("\n", "<br />\n")
        if created:
            return {
                "id": e["id"], "name": e["name"], "description": description, "format": e["format"],
                "courseid": e["courseid"], "groupid": 0, "userid": e["userid"], "modulename": "", "instance": 0,
                "eventtype": e["eventtype"], "timestart": e["timestart"], "timeduration": e["timeduration"],
                "visible": e["visible"], "uuid": "", "sequence": e["sequence"], "timemodified": NOW,
                "subscriptionid": None,
            }
        return {
            "id": e["id"], "name": e["name"], "description": description, "format": e["format"],
            "courseid": e["courseid"], "categoryid": None, "groupid": None, "userid": e["userid"], "repeatid": None,
            "modulename": None, "instance": None, "eventtype": e["eventtype"], "timestart": e["timestart"],
            "timeduration": e["timeduration"], "visible": e["visible"], "sequence": e["sequence"],
            "timemodified": NOW, "subscriptionid": None,
        }

    def _get_events(self, params: dict[str, Any]) -> Any:
        events_param = params.get("events", {}) or {}
        options = params.get("options", {}) or {}
        ids = {int(v) for v in events_param.get("eventids", [])}
        courseids = {int(v) for v in events_param.get("courseids", [])}
        start, end = _int(options.get("timestart"), 0), _int(options.get("timeend"), 0)
        found, warnings = [], []
        for e in sorted(self.events.values(), key=lambda e: (e["timestart"], e["id"])):
            if e["id"] not in ids and e["courseid"] not in courseids:
                continue
            if e["timestart"] + e["timeduration"] < start or (end and e["timestart"] > end):
                continue
            if not self.can("moodle/calendar:manageentries"):  # not a participant: only with manageentries
                warnings.append({"item": str(e["id"]), "warningcode": "nopermissions",
                                 "message": "you do not have permissions to view this event"})
                continue
            found.append(self._event_out(e))
        return {"events": found, "warnings": warnings}

    def _create_events(self, params: dict[str, Any]) -> Any:
        items = params.get("events", [])
        for item in items:  # validated before any is created
            if set(item) - EVENT_CREATE_KEYS:
                raise invalid_parameter()
            _int(item.get("timestart"))  # a date string or a float is rejected
            if _int(item.get("courseid")) not in self.courses:
                raise missing_record()
        if not self.can("moodle/calendar:manageentries"):  # each event is skipped with a warning
            return {"events": [], "warnings": [{"item": item.get("name", ""), "warningcode": "nopermissions",
                                                "message": "you do not have permissions to create this event"}
                                               for item in items]}
        out = []
        for item in items:
            eid = self.new_id()
            event = {
                "id": eid, "name": item["name"], "description": clean_html(item.get("description", "")),
                "format": _int(item.get("format"), 1), "courseid": _int(item.get("courseid")),
                "userid": self.ws_userid, "eventtype": item.get("eventtype", "user"),
                "timestart": _int(item.get("timestart")), "timeduration": _int(item.get("timeduration"), 0),
                "visible": _int(item.get("visible"), 1), "sequence": _int(item.get("sequence"), 1),
            }
            self.events[eid] = event
            out.append(self._event_out(event, created=True))
        return {"events": out, "warnings": []}

    def _delete_events(self, params: dict[str, Any]) -> Any:
        ids = [_int(item["eventid"]) for item in params.get("events", [])]
        if any(i not in self.events for i in ids):  # one missing id fails the whole call (one transaction)
            raise missing_record()
        if ids:
            self.require("moodle/calendar:manageentries")
        for i in ids:
            del self.events[i]
        return None

    def _user_out(self, u: dict[str, Any]) -> dict[str, Any]:
        out = {
            "id": u["id"], "username": u["username"], "firstname": u["firstname"], "lastname": u["lastname"],
            "fullname": f"{u['firstname']} {u['lastname']}", "email": u["email"], "department": u["department"],
            "idnumber": u["idnumber"],
            "firstaccess": 0, "lastaccess": 0, "auth": u["auth"], "suspended": False, "confirmed": True,
            "lang": "en", "theme": "", "timezone": "99", "mailformat": 1, "trackforums": 0,
            "profileimageurlsmall": f"{self.url}/theme/image.php/boost/core/1/u/f2",
            "profileimageurl": f"{self.url}/theme/image.php/boost/core/1/u/f1",
        }
        # Moodle leaves these out when empty (username.ok.json, guest.ok.json); department it keeps.
        for key in ("institution", "idnumber", "city", "country"):
            if u.get(key):
                out[key] = u[key]
            else:
                out.pop(key, None)
        return self._visible_fields(out)

    def _visible_fields(self, user: dict[str, Any]) -> dict[str, Any]:
        """What Moodle leaves out for lack of capability: e-mail (identity fields), idnumber & co, username."""
        if not self.can("moodle/site:viewuseridentity"):
            user.pop("email", None)
        if not self.can("moodle/user:viewalldetails"):
            for key in ("idnumber", "institution", "department", "username", "auth", "lang", "theme", "mailformat",
                        "trackforums", "confirmed"):
                user.pop(key, None)
        return user

    def _get_users_by_field(self, params: dict[str, Any]) -> Any:
        fieldname = params.get("field", "")
        if fieldname not in ("id", "idnumber", "username", "email"):
            raise invalid_parameter()
        values = set(params.get("values", []))
        if not self.can("moodle/user:viewdetails"):
            return []
        found = [u for u in self.users.values() if str(u[fieldname]) in values]
        # A user is returned only when the searched field is visible to the account.
        return [out for u in sorted(found, key=lambda u: u["id"]) if fieldname in (out := self._user_out(u))]

    def _create_users(self, params: dict[str, Any]) -> Any:
        self.require("moodle/user:create")  # before the parameters are looked at
        items = params.get("users", [])
        usernames = {u["username"] for u in self.users.values()}
        emails = {u["email"].lower() for u in self.users.values()}
        for item in items:  # all-or-nothing: a duplicate fails the whole batch
            if set(item) - USER_KEYS or not USERNAME_RE.match(item.get("username", "")):
                raise invalid_parameter()
            if item["username"] in usernames or item.get("email", "").lower() in emails:
                raise invalid_parameter()
            if item.get("auth", "manual") == "manual" and not item.get("password") and item.get("createpassword") != "1":
                raise invalid_parameter()  # "you must provide a password, or set createpassword"
            usernames.add(item["username"])
            emails.add(item.get("email", "").lower())
        out = []
        for item in items:
            uid = self.new_id()
            self.users[uid] = {
                "id": uid, "username": item["username"], "firstname": item["firstname"], "lastname": item["lastname"],
                "email": item.get("email", ""), "idnumber": item.get("idnumber", ""),
                "institution": item.get("institution", ""), "department": item.get("department", ""),
                "auth": item.get("auth", "manual"),
                "password": "sent" if item.get("password") else ("generated" if item.get("createpassword") else ""),
                "password_changes": 0,
            }
            out.append({"id": uid, "username": item["username"]})
        return out

    def _update_users(self, params: dict[str, Any]) -> Any:
        self.require("moodle/user:update")
        warnings = []
        for item in params.get("users", []):
            if set(item) - USER_KEYS:
                raise invalid_parameter()
            user = self.users.get(_int(item.get("id")))
            if user is None:
                warnings.append({"item": "user", "itemid": _int(item.get("id")), "warningcode": "invaliduserid",
                                 "message": "Invalid user ID"})
                continue
            for key, value in item.items():
                if key == "password":
                    user["password_changes"] += 1
                elif key != "id":
                    user[key] = value
        return {"warnings": warnings}

    def _enrol_users(self, params: dict[str, Any]) -> Any:
        items = params.get("enrolments", [])
        for item in items:
            courseid = _int(item.get("courseid"))
            if courseid not in self.courses and courseid != SITE_COURSE:
                raise invalid_parameter()
            if courseid != SITE_COURSE:
                self.enter_course(courseid)
            self.require("enrol/manual:enrol")
            if _int(item.get("userid")) not in self.users:
                raise missing_record()
            if not self.can("moodle/role:assign"):
                raise MoodleFault("wsusercannotassign", "You don't have the permission to assign this role "
                                  f"({item.get('roleid')}) to this user ({item.get('userid')}) in this course"
                                  f"({courseid}).")
            if courseid == SITE_COURSE:
                raise MoodleFault("wsnoinstance", "Manual enrolment plugin instance doesn't exist or is disabled "
                                  f"for the course (id = {courseid})")
        for item in items:  # re-enrolling is accepted: it updates the status and adds the role
            key = (_int(item["courseid"]), _int(item["userid"]))
            enrolment = self.enrolments.setdefault(key, {"roleids": set(), "status": 0})
            enrolment["roleids"].add(_int(item["roleid"]))
            enrolment["status"] = _int(item.get("suspend"), 0)
        return None

    def _get_enrolled_users(self, params: dict[str, Any]) -> Any:
        courseid = _int(params.get("courseid"))
        options = {o["name"]: o["value"] for o in params.get("options", [])}
        only_active = options.get("onlyactive") in ("1", "true")
        only_suspended = options.get("onlysuspended") in ("1", "true")
        course = self.enter_course(courseid, wrap="errorcoursecontextnotvalid")
        if not (self.can("moodle/course:viewparticipants") or self.can("moodle/course:enrolreview")):
            raise no_permission("moodle/course:viewparticipants")
        if options.get("groupid") not in (None, "", "0"):
            # A group the account is not in (it is in none): only with accessallgroups. No such groups here.
            if not self.can("moodle/site:accessallgroups"):
                raise no_permission("moodle/site:accessallgroups")
            return []
        if (only_active or only_suspended) and not self.can("moodle/course:enrolreview"):
            raise no_permission("moodle/course:enrolreview")
        if course.get("groupmode") == 1 and not self.can("moodle/site:accessallgroups"):
            return []  # separate groups: only the account's own groups, and it is in none
        wanted = [f for f in options.get("userfields", "").split(",") if f]
        out = []
        for (cid, uid), enrolment in sorted(self.enrolments.items(), key=lambda kv: kv[0][1]):
            if cid != courseid or (only_active and enrolment["status"]) or (only_suspended and not enrolment["status"]):
                continue
            u = self.users[uid]
            full = {
                "id": uid, "username": u["username"], "firstname": u["firstname"], "lastname": u["lastname"],
                "fullname": f"{u['firstname']} {u['lastname']}", "email": u["email"], "department": u["department"],
                "idnumber": u["idnumber"], "firstaccess": 0, "lastaccess": 0, "lastcourseaccess": u.get("lastcourseaccess", 0), "city": "",
                "country": "", "profileimageurlsmall": f"{self.url}/theme/image.php/boost/core/1/u/f2",
                "profileimageurl": f"{self.url}/theme/image.php/boost/core/1/u/f1",
                "roles": [{"roleid": r, "name": "", "shortname": "student" if r == 5 else f"role{r}", "sortorder": 0}
                          for r in sorted(enrolment["roleids"])],
                "enrolledcourses": [{"id": cid, "fullname": self.courses[cid]["fullname"],
                                     "shortname": self.courses[cid]["shortname"]}],
            }
            if u["institution"]:
                full["institution"] = u["institution"]
            full = self._visible_fields(full)
            if wanted:  # userfields: only those (fullname always comes back, as recorded)
                full = {k: v for k, v in full.items() if k in wanted or k in ("id", "fullname")}
                if "institution" in wanted and "institution" not in full and self.can("moodle/user:viewalldetails"):
                    full["institution"] = u["institution"]
            out.append(full)
        limit_from, limit_number = _int(options.get("limitfrom"), 0), _int(options.get("limitnumber"), 0)
        return out[limit_from: limit_from + limit_number if limit_number else None]


    # ------------------------------------------------------------------------------------- groups
    # As group/externallib.php does it: every call enters the group's course (a context error is
    # "errorcoursecontextnotvalid") and checks moodle/course:managegroups there; each list call is one
    # transaction, so a bad item fails the whole batch and nothing is applied.

    def _group_course(self, courseid: int) -> None:
        if courseid != SITE_COURSE:
            self.enter_course(courseid, wrap="errorcoursecontextnotvalid")
        self.require("moodle/course:managegroups")

    def _group_out(self, g: dict[str, Any], *, created: bool = False) -> dict[str, Any]:
        # enrolmentkey is "" in create_groups' answer, null in get_course_groups' (recorded), and the name is
        # read through format_string, which escapes "&" (core_group_get_course_groups.cohort.ok.json).
        name = g["name"] if created else re.sub(r"&(?![a-zA-Z0-9#]{1,8};)", "&amp;", g["name"])
        return {"id": g["id"], "courseid": g["courseid"], "name": name, "description": g["description"],
                "descriptionformat": 1, "enrolmentkey": "" if created else None, "idnumber": g["idnumber"],
                "visibility": 0, "participation": True}

    def _get_course_groups(self, params: dict[str, Any]) -> Any:
        courseid = _int(params.get("courseid"))
        self._group_course(courseid)
        return [self._group_out(g) for g in sorted(self.groups.values(), key=lambda g: g["id"])
                if g["courseid"] == courseid]

    def _create_groups(self, params: dict[str, Any]) -> Any:
        items = params.get("groups", [])
        pending: list[dict[str, Any]] = []
        for item in items:
            courseid = _int(item.get("courseid"))
            name = item.get("name", "")
            if not name.strip():
                raise invalid_parameter()  # "Invalid group name"
            same_course = [g for g in (*self.groups.values(), *pending) if g["courseid"] == courseid]
            if any(g["name"] == name for g in same_course):
                raise invalid_parameter()  # "Group with the same name already exists in the course"
            self._group_course(courseid)
            idnumber = item.get("idnumber", "")
            if idnumber and any(g["idnumber"] == idnumber for g in same_course):
                raise MoodleFault("idnumbertaken", "This ID number is already in use")
            pending.append({"id": 0, "courseid": courseid, "name": name, "idnumber": idnumber,
                            "description": item.get("description", ""), "members": set()})
        out = []
        for group in pending:
            group["id"] = self.new_id()
            self.groups[group["id"]] = group
            out.append(self._group_out(group, created=True))
        return out

    def _member_pairs(self, params: dict[str, Any], *, enrolled: bool) -> list[tuple[dict[str, Any], int]]:
        pairs = []
        for item in params.get("members", []):
            group = self.groups.get(_int(item.get("groupid")))
            userid = _int(item.get("userid"))
            if group is None or userid not in self.users:
                raise missing_record()
            self._group_course(group["courseid"])
            if enrolled and (group["courseid"], userid) not in self.enrolments:
                raise invalid_parameter()  # "Only enrolled users may be members of groups"
            pairs.append((group, userid))
        return pairs

    def _add_group_members(self, params: dict[str, Any]) -> Any:
        for group, userid in self._member_pairs(params, enrolled=True):
            group["members"].add(userid)  # a member already: accepted (recorded "repeat")
        return None

    def _delete_group_members(self, params: dict[str, Any]) -> Any:
        for group, userid in self._member_pairs(params, enrolled=False):
            group["members"].discard(userid)  # not a member: accepted too
        return None

    def _get_group_members(self, params: dict[str, Any]) -> Any:
        out = []
        for groupid in params.get("groupids", []):
            group = self.groups.get(_int(groupid))
            if group is None:
                raise missing_record()
            self._group_course(group["courseid"])
            out.append({"groupid": group["id"], "userids": sorted(group["members"])})
        return out
