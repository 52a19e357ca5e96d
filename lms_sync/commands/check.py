"""``lms-sync check``: is the Moodle site ready for lms_sync? A table of findings and what to do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ..context import Context
from ..errors import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, EXIT_UNAVAILABLE, ConfigError
from ..moodle.check import ROLE_PRESET, AttendanceRef, CheckResult, run_check
from ..moodle.functions import (
    ALL_FEATURES,
    Feature,
    capabilities_for,
    features_of,
    functions_for,
)
from ..moodle.probes import CourseRef, Finding
from ..moodle.role_preset import ROLE_SHORTNAME
from ..program import Programme, has_cohorts
from ..settings import Settings
from ..sync import desired_state
from .base import SubParsers, add_command

ORDER = 30


def _wrap(names: Sequence[str], indent: str, width: int = 96) -> str:
    lines, line = [], indent
    for name in names:
        if len(line) + len(name) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += name + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


_CORE = [f.name for f in functions_for({Feature.SITE, Feature.PUSH, Feature.ROSTER, Feature.PULL})]
_OPTIONAL = [f.name for f in functions_for(ALL_FEATURES) if f.name not in _CORE]

CHECK_HELP = f"""\
Setting up Moodle for lms_sync (once, as a Moodle administrator):

  1. Site administration > General > Advanced features: tick "Enable web services" and
     "Enable completion tracking" (and "Enable custom reports" for the Report builder pull).
  2. Site administration > Server > Web services > Manage protocols: enable REST.
  3. Create the sync account (for example "lms-sync", manual authentication, with a first name,
     last name and e-mail). Then Site administration > Users > Permissions > Define roles >
     Add a new role: choose the file {ROLE_PRESET} (shipped with lms_sync) as
     "Input file", Continue, then "Create this role". It makes the role "{ROLE_SHORTNAME}", context
     type System, allowed to assign Student, with exactly these capabilities:
{_wrap(capabilities_for(ALL_FEATURES), "       ")}
     Assign it to the sync account at system level (Users > Permissions > Assign system roles).
  4. Site administration > Server > Web services > External services > Add: name "lms_sync",
     Enabled, "Authorised users only". Under Functions, add:
{_wrap(_CORE, "       ")}
     and, when used (Report builder pull, activities named by idnumber):
{_wrap(_OPTIONAL, "       ")}
     Under Authorised users, add the sync account.
  5. Site administration > Server > Web services > Manage tokens > Create token: user = the sync
     account, service = lms_sync. Give it to lms_sync as LMS_SYNC_MOODLE__TOKEN, or in a file
     named by [moodle] token_file; LMS_SYNC_MOODLE__URL is the site root (https://...).
  6. Optional: a custom report (Report builder, source "Course participants", condition on the
     course idnumber, audience = the sync account) with the completion columns; set its id as
     [moodle] completion_report_id.

check writes nothing: each capability is probed with a read, or with a request Moodle refuses as
invalid once it has checked the capability. A capability that cannot be probed here (no course yet,
a course that is not hidden) is shown as "not probed", with when it matters. One attempt per call,
and the verdict within moodle.deadline (120 s) in all, even from a site that trickles its answers.

Exit codes: 0 everything lms_sync needs is there; 1 a function, capability, course or completion
setting is missing (the table says which, and what to do); 2 settings incomplete; 3 site
unreachable, too slow, not Moodle, web services off or token refused; 70 a bug in lms_sync (run
again with --debug for the traceback, and report it with the output of `lms-sync -v check`).
"""

VERDICTS = {
    EXIT_OK: "All lms_sync needs is in place.",
    EXIT_PARTIAL: "Moodle is reachable, but something lms_sync needs is missing (see above).",
    EXIT_CONFIG: "Not checked: the settings are incomplete.",
    EXIT_UNAVAILABLE: "lms_sync cannot use this Moodle site (see above).",
}


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``check``."""
    add_command(
        sub, parent, "check",
        summary="check that Moodle is reachable and the token can do what lms_sync needs",
        description="Check the Moodle site: reachability, token, site name and release, the web-service "
        "functions lms_sync needs, each capability of the sync account, and whether the programme's course "
        "exists with completion enabled. Prints a table and what to do for each missing piece. Makes no "
        "change.\n\n" + CHECK_HELP,
        examples="  lms-sync check\n  lms-sync --settings /etc/lms-sync/settings.toml check",
        handler=cmd_check,
    )


def render_findings(findings: Sequence[Finding], out: TextIO) -> None:
    """The findings as an aligned table."""
    header = ("check", "result", "detail")
    rows = [(f.check, str(f.status), f.detail) for f in findings]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    for row in [header, tuple("-" * len(h) for h in header), *rows]:
        out.write(f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip() + "\n")


def render_todo(todo: Sequence[str], out: TextIO) -> None:
    """The list of what to do, when there is anything."""
    if todo:
        out.write("\nWhat to do:\n")
        for item in todo:
            out.write(f"  - {item}\n")


def render_check(result: CheckResult, out: TextIO) -> None:
    """Title, table, what to do, verdict."""
    out.write(f"lms-sync check: {result.url or '(no Moodle URL)'}\n\n")
    render_findings(result.findings, out)
    render_todo(result.todo, out)
    out.write(f"\n{VERDICTS[result.exit_code]}\n")


def configured_features(programmes: Sequence[Programme], settings: Settings, *, cohorts: bool = False) -> frozenset[Feature]:
    """What these programmes and settings use of Moodle (so which functions and capabilities they need);
    ``cohorts``: a roster has a cohort column."""
    specs = [p.attendance for p in programmes if p.takes_attendance_in_moodle and p.attendance]
    return features_of(
        report_builder=settings.moodle.completion_report_id is not None,
        activity_idnumbers=any(isinstance(s.activity, str) for p in programmes for s in p.sessions),
        attendance=bool(specs),
        attendance_create=any(spec.create for spec in specs),
        cohorts=cohorts,
    )


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    """Run the checks for each live programme's course (the site's once the site is unusable) and print them."""
    settings = ctx.settings
    programmes: list[Programme | None]
    cohorts: dict[str, bool] = {}
    try:
        entries = [e for e in ctx.selected if ctx.program_id or not e.programme.archived]
        programmes = [e.programme for e in entries]
        for entry in entries:
            try:
                cohorts[entry.id] = has_cohorts(ctx.roster_of(entry))
            except ConfigError:  # a broken roster must not hide what is wrong with Moodle either
                cohorts[entry.id] = False
    except ConfigError:  # a broken programme must not hide what is wrong with Moodle
        programmes = []
    worst = EXIT_OK
    for programme in programmes or [None]:
        if len(programmes) > 1 and programme is not None:
            print(f"== programme {programme.id}")
        result = _check_one(settings, programme, cohorts=cohorts.get(programme.id, False) if programme else False)
        render_check(result, sys.stdout)
        worst = max(worst, result.exit_code)
        if result.unavailable or result.config_error:
            break  # the other programmes would only repeat it
    return worst


def _check_one(settings: Settings, programme: Programme | None, *, cohorts: bool = False) -> CheckResult:
    wanted = desired_state(programme, None, settings.push).course if programme else None
    course = CourseRef(wanted.idnumber, wanted.shortname) if wanted else None
    spec = programme.attendance if programme and programme.takes_attendance_in_moodle else None
    features = configured_features([programme] if programme else [], settings, cohorts=cohorts)
    attendance = AttendanceRef(programme.id, spec.activity, programme.attendance_name) if programme and spec else None
    return run_check(settings.moodle, course, features, attendance=attendance, role_id=settings.push.role_id)
