"""Every recorded Moodle exchange replayed through the transport parses into its model or its typed error."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin
from urllib.parse import parse_qsl

import pytest
import responses
from fixtures_moodle import TOKEN, load_fixture, make_settings, replay

from lms_sync import errors
from lms_sync.moodle.functions import FUNCTIONS, RESPONSE_TYPES, parse_response
from lms_sync.moodle.models import EventFormResult
from lms_sync.moodle.transport import FIXED_FIELDS, MoodleTransport, flatten_params

# Files that hold no single web-service exchange, and why.
NOT_AN_EXCHANGE = {
    "core_calendar_create_calendar_events.description_markers.ok.json": "a table of description cases, no HTTP answer",
    "moodle-calendar-export.meta.json": "headers of the iCal export (.ics), not a web-service answer",
}

# The exact error class each error recording must raise.
EXPECTED_ERRORS: dict[str, type[errors.MoodleError]] = {
    "core_calendar_create_calendar_events.nonexistent_course.error.json": errors.NotFound,
    "core_calendar_create_calendar_events.timestart_as_date_string.error.json": errors.InvalidParameter,
    "core_calendar_create_calendar_events.unknown_field_idnumber.error.json": errors.InvalidParameter,
    "core_calendar_delete_calendar_events.limited_user.error.json": errors.AccessDenied,
    "core_calendar_delete_calendar_events.nonexistent.error.json": errors.NotFound,
    "core_calendar_get_action_events_by_course.wsuser_not_enrolled.error.json": errors.MoodleRemoteError,
    "core_calendar_get_calendar_event_by_id.nonexistent.error.json": errors.AccessDenied,
    "core_completion_get_course_completion_status.completion_disabled.error.json": errors.AccessDenied,
    "core_completion_get_course_completion_status.not_enrolled.error.json": errors.NotFound,
    "core_completion_mark_course_self_completed.completion_disabled.error.json": errors.MoodleRemoteError,
    "core_completion_mark_course_self_completed.repeat.error.json": errors.MoodleRemoteError,
    "core_completion_mark_course_self_completed.wsuser.error.json": errors.MoodleRemoteError,
    "core_completion_update_activity_completion_status_manually.automatic_cm.error.json": errors.MoodleRemoteError,
    "core_course_create_categories.duplicate_idnumber.error.json": errors.AlreadyExists,
    "core_course_create_courses.batch_partial_failure.error.json": errors.AlreadyExists,
    "core_course_create_courses.duplicate_idnumber.error.json": errors.AlreadyExists,
    "core_course_create_courses.duplicate_shortname.error.json": errors.AlreadyExists,
    "core_course_create_courses.invalid_lang_empty.error.json": errors.InvalidParameter,
    "core_course_create_courses.nonexistent_category.error.json": errors.NotFound,
    "core_course_get_contents.nonexistent_course.error.json": errors.NotFound,
    "core_course_get_contents.wrong_type.error.json": errors.InvalidParameter,
    "core_course_get_courses_by_field.invalid_field.error.json": errors.InvalidParameter,
    "core_reportbuilder_retrieve_report.nonexistent.error.json": errors.NotFound,
    "core_reportbuilder_retrieve_report.not_in_audience.error.json": errors.AccessDenied,
    "core_reportbuilder_retrieve_report.student_not_in_audience.error.json": errors.AccessDenied,
    "core_user_create_users.accented_username.error.json": errors.InvalidParameter,
    "core_user_create_users.duplicate_email.error.json": errors.InvalidParameter,
    "core_user_create_users.duplicate_username.error.json": errors.InvalidParameter,
    "core_user_create_users.invalid_email_nonascii.error.json": errors.InvalidParameter,
    "core_user_create_users.uppercase_username.error.json": errors.InvalidParameter,
    "core_user_create_users.weak_password.error.json": errors.InvalidParameter,
    "enrol_manual_enrol_users.nonexistent_course.error.json": errors.InvalidParameter,
    "enrol_manual_enrol_users.nonexistent_user.error.json": errors.NotFound,
    "enrol_manual_enrol_users.role_not_assignable.error.json": errors.AccessDenied,
    "error.debug.accented_username.json": errors.InvalidParameter,
    "error.debug.duplicate_email.json": errors.InvalidParameter,
    "error.debug.duplicate_username.json": errors.InvalidParameter,
    "error.debug.enrol_nonexistent_course.json": errors.InvalidParameter,
    "error.debug.invalid_token.json": errors.InvalidToken,
    "error.debug.nonexistent_course_event.json": errors.NotFound,
    "error.debug.unknown_field.json": errors.InvalidParameter,
    "error.debug.wrong_type.json": errors.InvalidParameter,
    "error.function_does_not_exist.json": errors.NotFound,
    "error.function_not_in_service.json": errors.AccessDenied,
    "error.invalid_parameter.missing_required.json": errors.InvalidParameter,
    "error.invalid_parameter.timestart_float.json": errors.InvalidParameter,
    "error.invalid_parameter.wrong_type.json": errors.InvalidParameter,
    "error.invalid_token.json": errors.InvalidToken,
    "error.missing_capability.create_course.json": errors.AccessDenied,
    "error.missing_capability.create_users.json": errors.AccessDenied,
    "error.missing_capability.enrol.json": errors.AccessDenied,
    "error.missing_capability.get_course_completion_status.json": errors.AccessDenied,
    "error.missing_token.json": errors.InvalidToken,
    "error.missing_wsfunction.json": errors.InvalidParameter,
    "error.rest_protocol_disabled.json": errors.WebServicesDisabled,
    "error.unknown_format_yaml.json": errors.NotMoodleEndpoint,
    "error.webservices_disabled.json": errors.WebServicesDisabled,
    "error.wrong_url.no_webservice_prefix.json": errors.NotMoodleEndpoint,
    "error.wrong_url.nonexistent_script.json": errors.NotMoodleEndpoint,
    "error.wrong_url.prefixed_path.json": errors.NotMoodleEndpoint,
    "error.xml_format.invalid_token.json": errors.NotMoodleEndpoint,
    "error.xml_format_default.json": errors.NotMoodleEndpoint,
    # Recorded as .ok, but the lab's BigBlueButton server was down: Moodle answered an exception.
    "mod_bigbluebuttonbn_can_join.student.ok.json": errors.MoodleRemoteError,
    "mod_bigbluebuttonbn_get_join_url.student.error.json": errors.MoodleRemoteError,
    "mod_bigbluebuttonbn_meeting_info.student.error.json": errors.MoodleRemoteError,
    "moodle-calendar-export.bad_token.json": errors.NotMoodleEndpoint,
    "webservice_disabled.error.json": errors.WebServicesDisabled,
    "webservice_disabled_get.error.json": errors.WebServicesDisabled,
}

# Functions recorded while studying Moodle that lms_sync does not call, so has no model for: their
# ``.ok`` answers must come through the transport unchanged. Anything else needs a RESPONSE_TYPES model.
UNMODELLED_FUNCTIONS: dict[str, str] = {
    "core_calendar_get_action_events_by_course": "action events (due dates), not the sessions",
    "core_calendar_get_calendar_export_token": "token for Moodle's own iCal export",
    "core_completion_override_activity_completion_status": "teacher override; lms_sync only reads completion",
    "core_course_get_courses": "superseded by core_course_get_courses_by_field",
    "core_course_get_updates_since": "change polling; pull reads a full snapshot",
    "core_reportbuilder_reports_get": "report definition; retrieve_report is what pull uses",
    "core_user_get_users": "superseded by core_user_get_users_by_field",
    "gradereport_user_get_grade_items": "grades are out of scope",
    "mod_bigbluebuttonbn_can_join": "participant-side virtual classroom",
    "mod_bigbluebuttonbn_get_bigbluebuttonbns_by_courses": "virtual classroom settings",
    "core_cohort_get_cohorts": "site cohorts; the programme's audiences are course groups (cohort issue)",
    "core_course_delete_modules": "removes activities; lms_sync never deletes one (attendance issue)",
    "mod_attendance_get_courses_with_today_sessions": "teacher-side list; not needed by a sync",
    "mod_attendance_get_session": "one session; pull reads every session at once (get_sessions)",
    "mod_attendance_remove_attendance": "leaves an orphan course module; never called (see the recordings' README)",
    "mod_attendance_update_user_status": "teachers take attendance; lms_sync only reads it",
}

# Recorded as .ok (HTTP 200, no exception) though the answer is a per-item warning, and why.
WARNINGS_IN_OK = {
    "core_course_update_courses.change_summary_no_capability.ok.json": "no changesummary: a warning, nothing changed",
}

EXPECTED_CAPABILITY = {
    "error.missing_capability.create_course.json": "Create courses",
    "error.missing_capability.create_users.json": "Create users",
    "error.missing_capability.enrol.json": "Enrol users",
}


def _expects_error(name: str) -> bool:
    if name in EXPECTED_ERRORS:
        return True
    return name.endswith(".error.json") or (name.startswith("error.") and ".ok." not in name)


def _call(fixture: dict[str, Any]) -> Any:
    wsfunction = fixture.get("wsfunction") or "core_webservice_get_site_info"
    params = fixture.get("request_params_structured") or {}
    with MoodleTransport(make_settings(), sleep=lambda _s: None) as transport:
        data = transport.call(wsfunction, params)
    return parse_response(wsfunction, data) if wsfunction in RESPONSE_TYPES else data


@responses.activate
def test_fixture_replays_into_model_or_typed_error(fixture_file: Path) -> None:
    """Each recording gives the right model (``.ok``), warnings (``.warning``) or typed error (``.error``)."""
    name = fixture_file.name
    if name in NOT_AN_EXCHANGE:
        pytest.skip(NOT_AN_EXCHANGE[name])
    fixture = load_fixture(fixture_file)
    replay(responses.mock, fixture)
    if _expects_error(name):
        with pytest.raises(errors.MoodleError) as caught:
            _call(fixture)
        exc = caught.value
        if name in EXPECTED_ERRORS:
            assert type(exc) is EXPECTED_ERRORS[name], f"{name}: {type(exc).__name__}: {exc}"
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        body = fixture.get("response")
        if isinstance(body, dict) and "debuginfo" in body:
            assert body["debuginfo"] not in str(exc) and body["debuginfo"] not in repr(exc)
        if name in EXPECTED_CAPABILITY:
            assert isinstance(exc, errors.AccessDenied) and exc.capability == EXPECTED_CAPABILITY[name]
        if isinstance(body, dict) and "errorcode" in body and "<" not in body["errorcode"]:
            assert exc.errorcode == body["errorcode"]
        return
    result = _call(fixture)
    wsfunction = fixture["wsfunction"]
    raw = fixture.get("response")
    if wsfunction in UNMODELLED_FUNCTIONS:
        assert result == raw, f"{name}: the transport changed the recorded answer"
        return
    assert wsfunction in RESPONSE_TYPES, (
        f"{name}: {wsfunction} has no model: add one to RESPONSE_TYPES, or list it in UNMODELLED_FUNCTIONS with why"
    )
    _assert_parsed(name, result, RESPONSE_TYPES[wsfunction], raw)
    warnings = getattr(result, "warnings", None)
    if name.endswith(".warning.json") or name in WARNINGS_IN_OK:
        assert warnings, f"{name}: the warnings were lost"
    elif warnings is not None:
        assert warnings == []


def _assert_parsed(name: str, result: Any, expected: Any, raw: Any) -> None:
    """The parsed answer has the registered type, and no list in the recording lost entries on the way."""
    if expected is None:
        assert result is None, f"{name}: expected null"
        return
    if get_origin(expected) is list:
        (item_type,) = get_args(expected)
        assert isinstance(result, list) and isinstance(raw, list), name
        assert len(result) == len(raw) and all(isinstance(row, item_type) for row in result), name
        return
    assert isinstance(result, expected), f"{name}: {type(result).__name__}, not {expected.__name__}"
    if isinstance(raw, dict):
        for key, value in raw.items():
            parsed = getattr(result, key, None)
            if isinstance(value, list) and isinstance(parsed, list):
                assert len(parsed) == len(value), f"{name}: {key} has {len(parsed)} entries, recorded {len(value)}"


def test_fixture_expectation_table_names_existing_files() -> None:
    """A renamed fixture must not silently fall back to the generic expectation."""
    from fixtures_moodle import fixture_files

    files = fixture_files()
    assert len(files) > 200, "the recordings are part of the repository: tests/recordings"
    present = {f.name for f in files}
    assert set(EXPECTED_ERRORS) - present == set()
    assert set(NOT_AN_EXCHANGE) - present == set()
    recorded = {load_fixture(f).get("wsfunction") for f in files if f.name not in NOT_AN_EXCHANGE}
    assert set(UNMODELLED_FUNCTIONS) - recorded == set()


def test_functions_lms_sync_calls_all_have_models() -> None:
    """A function lms_sync needs can never be waved through as unmodelled."""
    needed = {f.name for f in FUNCTIONS}
    assert needed <= set(RESPONSE_TYPES)
    assert not needed & set(UNMODELLED_FUNCTIONS)
    assert not set(RESPONSE_TYPES) & set(UNMODELLED_FUNCTIONS)


def test_flattening_matches_recorded_request(fixture_file: Path) -> None:
    """``flatten_params(request_params_structured)`` equals the recorded form fields, in order."""
    fixture = load_fixture(fixture_file)
    if "request_params_structured" not in fixture:
        pytest.skip("no structured request recorded")
    recorded = [(k, str(v)) for k, v in fixture["request_params"].items() if k not in FIXED_FIELDS]
    assert flatten_params(fixture["request_params_structured"]) == recorded


@responses.activate
def test_request_on_the_wire_matches_recording() -> None:
    """The POST body is the recorded form (the token in it, never in the URL) with the right headers."""
    fixture = load_fixture("core_calendar_create_calendar_events.ok.json")
    replay(responses.mock, fixture)
    with MoodleTransport(make_settings()) as transport:
        transport.call(fixture["wsfunction"], fixture["request_params_structured"], write=True)
    sent = responses.calls[0].request
    assert TOKEN not in sent.url
    fields = parse_qsl(sent.body if isinstance(sent.body, str) else sent.body.decode(), keep_blank_values=True)
    expected = {k: str(v) for k, v in fixture["request_params"].items()}
    expected["wstoken"] = TOKEN
    assert dict(fields) == expected
    assert sent.headers["User-Agent"].startswith("lms_sync/")
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_validation_error_fixture_parses_as_form_failure() -> None:
    """The form's bare ``validationerror`` answer is kept as such for the client to raise on."""
    fixture = load_fixture("core_calendar_submit_create_update_form.validation_error.json")
    result = parse_response(fixture["wsfunction"], fixture["response"])
    assert result == EventFormResult(validationerror=True)
