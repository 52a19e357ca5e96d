"""The Report builder path: a custom report on "Course participants" lists everyone in a few calls.

Its values are display text (HTML-escaped, positional, titles in the account's language), so the
titles are checked first, and the report's stored conditions must limit it to the programme's
course: a run refuses a report it would misread rather than guess.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from ..moodle.client import MoodleClient
from ..moodle.models import Course
from ..participant_fields import PROFILE_FIELDS
from .calls import Calls
from .plan import Listed


@dataclass(frozen=True)
class ReportColumn:
    """A column lms_sync reads from the custom report, with the titles Moodle gives it."""

    key: str
    titles: tuple[str, ...]
    required: bool = True


# Titles as Moodle 5.1 shows them to an English-speaking account (fixture
# core_reportbuilder_retrieve_report.page0_perpage2.ok.json). Columns are matched by title, never by
# position, since editing the report in the UI moves them.
REPORT_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("userlink", ("Full name with link",)),
    # The profile fields (participant_fields.py); the idnumber is optional in the report.
    *(ReportColumn(f.key, (f.report_title,), required=f.key != "idnumber") for f in PROFILE_FIELDS if f.report_title),
    ReportColumn("completed", ("Completed",)),
    ReportColumn("timecompleted", ("Time completed",), required=False),
    # Optional: its text changes when the participant opens the course, so it tells whom to read again.
    ReportColumn("lastaccess", ("Last access to course",), required=False),
    # Optional: "0.0%" says no activity of the course is complete, so no session's activity is.
    ReportColumn("progress", ("Student progress",), required=False),
)
_PERCENT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*%$")
_COMPLETED_VALUES = {"Yes": True, "No": False, "": False}  # "": no course_completions row yet (fact 12)
_PROFILE_ID = re.compile(r"""href=["'][^"']*/user/profile\.php\?id=(\d+)""")
_REPORT_HINT = (
    "edit the custom report so it has the columns {cols} with their default titles, seen by the sync "
    "account in English (its preferred language), or unset moodle.completion_report_id to read "
    "participants one by one"
)


def report_layout(headers: Sequence[str], report_id: int) -> dict[str, int]:
    """Map column keys to positions from the report's titles; refuse a report lms_sync would misread."""
    positions: dict[str, int] = {}
    problems: list[str] = []
    for column in REPORT_COLUMNS:
        at = [i for i, h in enumerate(headers) if h.strip() in column.titles]
        if len(at) > 1:
            problems.append(f"column {column.titles[0]!r} appears {len(at)} times")
        elif at:
            positions[column.key] = at[0]
        elif column.required:
            problems.append(f"column {column.titles[0]!r} is missing")
    if problems:
        wanted = ", ".join(repr(c.titles[0]) for c in REPORT_COLUMNS if c.required)
        raise ConfigError(
            f"Report builder report {report_id} does not have the layout lms_sync reads: "
            + "; ".join(problems)
            + f". Its columns are: {', '.join(repr(h) for h in headers) or 'none'}",
            hint=_REPORT_HINT.format(cols=wanted),
        )
    return positions


def parse_report_row(columns: Sequence[str | None], layout: Mapping[str, int], report_id: int) -> Listed:
    """Turn one positional row of display strings into a participant; refuse values of the wrong kind."""

    def text(key: str, *, escaped: bool = True) -> str:
        if key not in layout:
            return ""
        value = columns[layout[key]] if layout[key] < len(columns) else None
        value = value or ""
        # User text fields come HTML-escaped ("l&#039;Industrie"); "Full name" does not (fact 12).
        return html.unescape(value).strip() if escaped else value.strip()

    link = columns[layout["userlink"]] or "" if layout["userlink"] < len(columns) else ""
    found = _PROFILE_ID.search(link)
    completed_text = text("completed")
    progress_text = text("progress")
    progress = _PERCENT.match(progress_text)
    if found is None or completed_text not in _COMPLETED_VALUES or ("progress" in layout and progress is None):
        what = ("a user profile link" if found is None else "Yes/No" if completed_text not in _COMPLETED_VALUES
                else "a percentage")
        raise ConfigError(
            f"Report builder report {report_id}: a row does not hold {what} where its title says so",
            hint=_REPORT_HINT.format(cols="'Full name with link', 'Completed'" + (", 'Student progress'"
                                                                                  if what == "a percentage" else "")),
        )
    return Listed(
        user_id=int(found.group(1)),
        **{f.key: text(f.key, escaped=f.escaped) for f in PROFILE_FIELDS},
        completed=_COMPLETED_VALUES[completed_text],
        lastaccess=text("lastaccess"),
        progress=float(progress.group(1).replace(",", ".")) if progress else None,
    )


# Moodle's text filter operator "Is equal to" (core_reportbuilder\local\filters\text::IS_EQUAL_TO), as
# stored in the report's conditiondata (fixture core_reportbuilder_retrieve_report.page0_perpage2.ok.json).
_IS_EQUAL_TO = 3
def check_report_course(conditiondata: str | None, course: Course, report_id: int) -> None:
    """Refuse a report whose stored conditions do not limit it to ``course`` (by its ID number)."""
    # The rows carry no course, so the report's own conditions are the only free evidence of what
    # it lists: a report id pointing at another course's report would otherwise give a "complete"
    # snapshot of the wrong people.
    fix = (
        f"edit report {report_id}'s conditions to: Course ID number is equal to {course.idnumber!r} (plus active "
        "enrolment and role student), or set moodle.completion_report_id to the report built for this course, "
        "or unset it to read participants one by one"
    )
    try:
        conditions = json.loads(conditiondata) if conditiondata else None
    except ValueError:
        conditions = None
    if not isinstance(conditions, dict):
        raise ConfigError(
            f"Report builder report {report_id}: Moodle did not give its conditions, so lms_sync cannot check that "
            f"it lists the participants of course {course.id} (ID number {course.idnumber!r})",
            hint=fix,
        )
    operator = conditions.get("course:idnumber_operator")
    value = conditions.get("course:idnumber_value")
    if str(operator) != str(_IS_EQUAL_TO) or not isinstance(value, str):
        raise ConfigError(
            f"Report builder report {report_id} is not limited to one course: it has no condition "
            f"\"Course ID number is equal to\" (course {course.id} has ID number {course.idnumber!r})",
            hint=fix,
        )
    # Moodle compares text conditions without regard to case.
    if not course.idnumber or value.strip().casefold() != course.idnumber.strip().casefold():
        raise ConfigError(
            f"Report builder report {report_id} is about another course: its condition is course ID number "
            f"{value!r}, but the programme's course is {course.id} with ID number {course.idnumber!r}",
            hint=fix,
        )


def read_report(
    client: MoodleClient, report_id: int, page_size: int, calls: Calls, course: Course
) -> list[Listed]:
    """Every row of the custom report, in ceil(total / page_size) calls, once checked to be about ``course``."""
    calls.add()
    first = client.retrieve_report(report_id, page=0, perpage=page_size)
    layout = report_layout(first.data.headers, report_id)
    check_report_course(first.details.conditiondata, course, report_id)
    pages = [first]
    # totalrowcount comes from the first page: a page past the end answers 0 (fact 12), so it is
    # never asked for.
    for page in range(1, math.ceil(first.data.totalrowcount / page_size)):
        calls.add()
        result = client.retrieve_report(report_id, page=page, perpage=page_size)
        if result.data.headers != first.data.headers:
            report_layout(result.data.headers, report_id)  # raises if now unreadable
            raise ConfigError(
                f"Report builder report {report_id} changed while it was being read",
                hint="run the pull again",
            )
        if not result.data.rows:
            break  # rows removed while reading
        pages.append(result)
    seen: dict[int, Listed] = {}
    for result in pages:
        for row in result.data.rows:
            p = parse_report_row(row.columns, layout, report_id)
            seen.setdefault(p.user_id, p)  # a row shifting across pages while reading is kept once
    return list(seen.values())
