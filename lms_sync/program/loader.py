"""Load ``program.toml`` and report every problem at once, each with its file, key path and fix."""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Problem
from ..files import read_toml
from .models import (
    AttestationRule,
    AttendanceSource,
    AttendanceSpec,
    CourseSpec,
    Programme,
    ProgrammeHeader,
    Session,
)

TOP_LEVEL_KEYS = ("program", "course", "attendance", "attestation", "sessions")
DATETIME_HINT = "write a local date-time like 2020-12-09T09:00:00 (no quotes, no offset)"
# A training session outside these years is a typo; beyond 9999 dates cannot even be written.
FIRST_YEAR, LAST_YEAR = 2000, 2099


def load_programme(path: Path) -> tuple[Programme, list[Problem]]:
    """Read and validate a programme file; return it with its warnings, or raise ConfigError."""
    file = str(path)
    data = read_toml(path, missing_hint="create it (see config/program.toml in the repository) or pass --program PATH")
    problems: list[Problem] = []

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(Problem(file, key, _unknown_key_message(key, TOP_LEVEL_KEYS)))

    header = data.get("program")
    header_ok = None
    if isinstance(header, dict):
        header_ok = _validate(ProgrammeHeader, header, file, "program", problems)
    else:
        problems.append(Problem(
            file, "program", "the [program] table is missing; add it with id, title, timezone, url, organizer"
        ))
        header = {}
    tz = _zone(header.get("timezone"))

    course = _validate(CourseSpec, data.get("course", {}), file, "course", problems)
    attendance = _validate(AttendanceSpec, data["attendance"], file, "attendance", problems) if "attendance" in data else None
    attestation = (_validate(AttestationRule, data["attestation"], file, "attestation", problems)
                   if "attestation" in data else None)

    raw_sessions = data.get("sessions", [])
    if not isinstance(raw_sessions, list):
        problems.append(Problem(file, "sessions", "must be an array of tables: write each session as [[sessions]]"))
        raw_sessions = []
    sessions: list[tuple[int, Session]] = []
    for index, raw in enumerate(raw_sessions):
        where = f"sessions[{index}]"
        if isinstance(raw, dict):
            raw = {k: _no_offset(v, file, f"{where}.{k}", header.get("timezone"), problems)
                   if k in ("start", "end") else v for k, v in raw.items()}
        session = _validate(Session, raw, file, where, problems)
        if session is not None:
            sessions.append((index, session))

    _check_session_ids(file, raw_sessions, problems)
    _check_times(file, sessions, problems)
    if tz is not None:
        _check_local_times(file, sessions, tz, problems)
    if attendance is not None and attendance.source is AttendanceSource.MOD_ATTENDANCE:
        for index, session in sessions:
            if session.activity is not None:
                problems.append(Problem(file, f"sessions[{index}].activity",
                                        "with [attendance] source = \"mod_attendance\" attendance is taken in the "
                                        "Attendance activity: remove this session's activity"))

    if attestation is not None and attestation.sessions_attended is not None:
        held = sum(1 for _, s in sessions if not s.cancelled)
        if attestation.sessions_attended > held:
            problems.append(Problem(file, "attestation.sessions_attended",
                                    f"asks for {attestation.sessions_attended} sessions attended, but only {held} "
                                    "session(s) of the programme take place (cancelled ones do not count): "
                                    f"write a number from 1 to {held}" if held else
                                    "asks for sessions attended, but no session of the programme takes place"))

    programme = None
    if not any(p.severity == "error" for p in problems) and header_ok is not None:
        programme = Programme(
            **dict(header_ok),
            course=course or CourseSpec(),
            sessions=tuple(s for _, s in sessions),
            attendance=attendance,
            attestation=attestation,
        )
    if programme is None:
        raise ConfigError(problems, hint=f"fix {file} and run `lms-sync validate` again")
    if not programme.sessions:
        problems.append(Problem(file, "sessions", "the programme has no [[sessions]]", "warning"))
    return programme, problems


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str):
        return None  # the header validation reports a missing or mistyped timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # the header validation reports it


def _no_offset(value: object, file: str, where: str, zone: object, problems: list[Problem]) -> object:
    """Session times are local wall-clock times: one written with an offset is refused, not converted."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value  # the model reports it with the expected format
    if isinstance(parsed, datetime) and parsed.tzinfo is not None:
        local = parsed.replace(tzinfo=None)
        offset = parsed.strftime("%z")
        offset = "Z" if offset in ("+0000", "") and str(parsed.tzinfo) == "UTC" else f"{offset[:3]}:{offset[3:]}"
        problems.append(Problem(
            file, where,
            f"{parsed.isoformat() if isinstance(value, datetime) else value} has an offset ({offset}); session times are local times in the programme's timezone "
            f"({zone if isinstance(zone, str) else '[program] timezone'}): write {local:%Y-%m-%dT%H:%M:%S} without "
            "it, after checking it is the local time meant",
        ))
        return local  # so the rest of the session is still checked
    return value


def _transition(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local times where the clocks jump around ``moment``: (from, to), found to the minute."""
    before, after = moment.replace(tzinfo=tz, fold=0).utcoffset(), moment.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None and after is not None
    gap = abs(after - before)
    # The jump happens on a whole quarter hour in every zone in use; step back to the first odd minute.
    start = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    while _odd(start - timedelta(minutes=15), tz):
        start -= timedelta(minutes=15)
    return start, start + gap


def _odd(moment: datetime, tz: ZoneInfo) -> bool:
    return moment.replace(tzinfo=tz, fold=0).utcoffset() != moment.replace(tzinfo=tz, fold=1).utcoffset()


def _check_local_times(file: str, sessions: list[tuple[int, Session]], tz: ZoneInfo, problems: list[Problem]) -> None:
    """Each start and end must name one instant: not a time the clocks skip, nor one they pass twice."""
    for index, session in sessions:
        for key in ("start", "end"):
            moment: datetime = getattr(session, key)
            where = f"sessions[{index}].{key}"
            if not FIRST_YEAR <= moment.year <= LAST_YEAR:
                problems.append(Problem(file, where, f"{moment:%Y-%m-%dT%H:%M} is outside the years lms_sync accepts "
                                        f"({FIRST_YEAR} to {LAST_YEAR}); check the year"))
                continue
            if not _odd(moment, tz):
                continue
            first, last = _transition(moment, tz)
            # PEP 495: fold=0 reads a skipped or repeated time with the offset in force before the change,
            # fold=1 with the one after; when the later offset is smaller, the clocks went back.
            repeated = moment.replace(tzinfo=tz, fold=1).utcoffset() < moment.replace(tzinfo=tz, fold=0).utcoffset()  # type: ignore[operator]
            day = f"{moment:%Y-%m-%d}"
            if not repeated:
                problems.append(Problem(
                    file, where,
                    f"session {session.id!r}: {moment:%Y-%m-%dT%H:%M} does not exist in {tz.key}: on {day} the clocks "
                    f"go forward from {first:%H:%M} to {last:%H:%M}; choose a time outside that hour",
                ))
            else:
                problems.append(Problem(
                    file, where,
                    f"session {session.id!r}: {moment:%Y-%m-%dT%H:%M} happens twice in {tz.key}: on {day} the clocks "
                    f"go back from {last:%H:%M} to {first:%H:%M}; choose a time outside that hour",
                ))


def _validate(model: type[BaseModel], raw: object, file: str, where: str, problems: list[Problem]) -> Any:
    if not isinstance(raw, dict):
        problems.append(Problem(file, where, "must be a table of key = value pairs"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            problems.append(Problem(file, loc, _friendly(err, model)))
        return None


def _friendly(err: Any, model: type[BaseModel]) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return _unknown_key_message(str(err["loc"][-1]), tuple(_model_at(model, err["loc"][:-1]).model_fields))
    if kind == "missing":
        return "required key is missing"
    if kind.startswith(("datetime_", "date_")):
        return f"{value!r} is not a date-time; {DATETIME_HINT}"
    if kind == "string_pattern_mismatch":
        if err["loc"][-1] == "email":
            return f"{value!r} is not an email address"
        return f"{value!r}: use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
    if kind == "enum":
        return f"{value!r} is not allowed; use one of: {err['ctx']['expected']}"
    return str(err["msg"]).removeprefix("Value error, ")


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The nested model a key path points into, so unknown keys are compared with the right table."""
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return model


def _unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {guess}allowed keys: {', '.join(allowed)}"


def _check_session_ids(file: str, raw_sessions: list[Any], problems: list[Problem]) -> None:
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_sessions):
        session_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(session_id, str):
            continue
        if session_id in first_seen:
            problems.append(
                Problem(
                    file,
                    f"sessions[{index}].id",
                    f"duplicate session id {session_id!r} (also sessions[{first_seen[session_id]}]); "
                    "each session needs its own id, and an id must never be reused for another session",
                )
            )
        else:
            first_seen[session_id] = index


def _check_times(file: str, sessions: list[tuple[int, Session]], problems: list[Problem]) -> None:
    for index, session in sessions:
        if session.end <= session.start:
            problems.append(
                Problem(
                    file,
                    f"sessions[{index}].end",
                    f"ends at {session.end:%Y-%m-%dT%H:%M}, not after its start {session.start:%Y-%m-%dT%H:%M}; "
                    "fix end (or start)",
                )
            )
    active = sorted(
        ((i, s) for i, s in sessions if not s.cancelled and s.end > s.start), key=lambda pair: pair[1].start
    )
    latest: tuple[int, Session] | None = None  # the session ending last so far catches nested overlaps
    for j, later in active:
        if latest is not None and later.start < latest[1].end:
            i, earlier = latest
            problems.append(
                Problem(
                    file,
                    f"sessions[{j}].start",
                    f"session {later.id!r} overlaps session {earlier.id!r} (sessions[{i}])",
                    "warning",
                )
            )
        if latest is None or later.end > latest[1].end:
            latest = (j, later)
