"""Transport behaviour: retries only when safe, Retry-After, decoding edge cases, no token leaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from fixtures_moodle import BASE_URL, ENDPOINT, TOKEN, load_fixture, make_settings, replay

from lms_sync import errors
from lms_sync.moodle.transport import MoodleTransport, RequestNotSent, decode_response, flatten_params

SITE_INFO = {"sitename": "S", "username": "u", "userid": 3, "functions": []}


def transport(sleeps: list[float], **overrides: object) -> MoodleTransport:
    """A transport on the fake site recording its waits in ``sleeps``."""
    return MoodleTransport(make_settings(**overrides), sleep=sleeps.append)


def test_flatten_php_style() -> None:
    """Nested dicts and lists become bracketed keys; bools 1/0; None dropped; datetimes Unix seconds."""
    when = datetime(2020, 12, 9, 8, 0, tzinfo=UTC)
    params = {"events": [{"name": "S1", "visible": True, "repeats": None, "timestart": when}], "flag": False}
    assert flatten_params(params) == [
        ("events[0][name]", "S1"),
        ("events[0][visible]", "1"),
        ("events[0][timestart]", "1607500800"),
        ("flag", "0"),
    ]


def test_flatten_refuses_naive_datetime() -> None:
    """A naive datetime has no instant: refuse it rather than guess the zone."""
    with pytest.raises(ValueError, match="naive"):
        flatten_params({"t": datetime(2020, 1, 1)})


@responses.activate
def test_500_500_200_makes_three_calls_and_succeeds(sleeps: list[float]) -> None:
    """Transient 5xx on a read is retried with backoff until it succeeds."""
    responses.add(responses.POST, ENDPOINT, status=500, body="oops")
    responses.add(responses.POST, ENDPOINT, status=502, body="")
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    assert transport(sleeps).call("core_webservice_get_site_info") == SITE_INFO
    assert len(responses.calls) == 3
    assert len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)


@responses.activate
def test_retries_stop_after_attempts(sleeps: list[float]) -> None:
    """A fault that does not pass ends as TransientError after ``retry_attempts`` calls."""
    responses.add(responses.POST, ENDPOINT, status=503, body="")
    with pytest.raises(errors.TransientError):
        transport(sleeps, retry_attempts=4).call("core_webservice_get_site_info")
    assert len(responses.calls) == 4


@responses.activate
def test_invalid_token_makes_one_call(sleeps: list[float]) -> None:
    """A refused token is not transient: one call, InvalidToken, no wait."""
    replay(responses.mock, load_fixture("error.invalid_token.json"))
    with pytest.raises(errors.InvalidToken) as caught:
        transport(sleeps).call("core_webservice_get_site_info")
    assert len(responses.calls) == 1 and sleeps == []
    assert caught.value.exit_code == errors.EXIT_UNAVAILABLE and caught.value.hint


@responses.activate
def test_read_timeout_on_unsafe_write_makes_one_call(sleeps: list[float]) -> None:
    """A write may have been applied before the timeout: not retried unless marked safe."""
    responses.add(responses.POST, ENDPOINT, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(errors.TransientError) as caught:
        transport(sleeps).call("core_course_create_courses", {"courses": [{"shortname": "x"}]}, write=True)
    assert len(responses.calls) == 1 and sleeps == []
    assert not isinstance(caught.value, RequestNotSent)


@responses.activate
def test_read_timeout_on_safe_write_is_retried(sleeps: list[float]) -> None:
    """A write the caller marked safe (looked up first) is retried like a read."""
    responses.add(responses.POST, ENDPOINT, body=requests.ReadTimeout("read timed out"))
    responses.add(responses.POST, ENDPOINT, json={"warnings": []})
    result = transport(sleeps).call("core_course_update_courses", {"courses": [{"id": 2}]}, write=True, retry_safe=True)
    assert result == {"warnings": []} and len(responses.calls) == 2


@responses.activate
def test_connection_refused_on_write_is_retried(sleeps: list[float]) -> None:
    """A request that never left (connection refused) is safe to resend, even for a write."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused")))  # type: ignore[arg-type]
    responses.add(responses.POST, ENDPOINT, body=refused)
    responses.add(responses.POST, ENDPOINT, body="null", content_type="application/json")
    assert transport(sleeps).call("enrol_manual_enrol_users", {"enrolments": []}, write=True) is None
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_is_honoured(sleeps: list[float]) -> None:
    """429 with Retry-After waits at least what the server asked."""
    responses.add(responses.POST, ENDPOINT, status=429, headers={"Retry-After": "17"}, body="")
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps).call("core_webservice_get_site_info")
    assert sleeps == [17.0]


@responses.activate
def test_maintenance_mode_is_transient(sleeps: list[float]) -> None:
    """``sitemaintenance`` is retried: the site will be back."""
    responses.add(
        responses.POST, ENDPOINT, json={"exception": "moodle_exception", "errorcode": "sitemaintenance", "message": "m"}
    )
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    assert transport(sleeps).call("core_webservice_get_site_info") == SITE_INFO


@responses.activate
def test_json_null_is_success(sleeps: list[float]) -> None:
    """Moodle answers ``null`` for calls without a return value."""
    replay(responses.mock, load_fixture("enrol_manual_enrol_users.ok.json"))
    assert transport(sleeps).call("enrol_manual_enrol_users", {"enrolments": []}, write=True) is None


@responses.activate
def test_redirect_is_not_followed(sleeps: list[float]) -> None:
    """A redirect would turn the POST into a GET without the token: report the URL instead."""
    responses.add(responses.POST, ENDPOINT, status=301, headers={"Location": "https://elsewhere/"}, body="")
    with pytest.raises(errors.NotMoodleEndpoint, match="redirect"):
        transport(sleeps).call("core_webservice_get_site_info")


def test_decode_weak_password_html_errorcode() -> None:
    """The password policy's HTML in ``errorcode`` becomes a readable InvalidParameter."""
    body = load_fixture("core_user_create_users.weak_password.error.json")["response"]
    exc = pytest.raises(errors.InvalidParameter, decode_response, "core_user_create_users", 200, "application/json", _json(body))
    assert "<div>" not in str(exc.value) and "at least 8 characters" in str(exc.value)


def test_decode_non_json_success_status() -> None:
    """HTML with HTTP 200 (for example a login page) is not Moodle's API."""
    with pytest.raises(errors.NotMoodleEndpoint):
        decode_response("f", 200, "text/html", "<html><body>Log in</body></html>")


def test_settings_without_url_or_token_are_config_errors() -> None:
    """A missing URL or token is a configuration problem naming the variable."""
    with pytest.raises(errors.ConfigError, match="URL"):
        MoodleTransport(make_settings(url=None))
    with pytest.raises(errors.ConfigError, match="token"):
        MoodleTransport(make_settings(token=None))


def test_verify_tls_off_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Turning TLS verification off is explicit and warned about."""
    with caplog.at_level(logging.WARNING, logger="lms_sync.moodle"):
        MoodleTransport(make_settings(verify_tls=False))
    assert any("TLS certificate verification is OFF" in r.getMessage() for r in caplog.records)


@responses.activate
def test_over_budget_request_is_refused_before_sending(sleeps: list[float]) -> None:
    """A request PHP would truncate is never sent."""
    with pytest.raises(errors.InvalidParameter, match="max_input_vars"):
        transport(sleeps, max_input_vars=20).call("core_user_get_users_by_field", {"values": list(range(30))})
    assert len(responses.calls) == 0


# --------------------------------------------------------------------------------------- token leaks

LEAK_CASES = [
    "error.invalid_token.json",
    "error.debug.invalid_token.json",
    "error.debug.duplicate_email.json",
    "error.debug.nonexistent_course_event.json",
    "error.debug.unknown_field.json",
    "error.wrong_url.prefixed_path.json",
    "error.webservices_disabled.json",
    "error.missing_capability.enrol.json",
    "core_user_create_users.weak_password.error.json",
]


@pytest.mark.parametrize("name", LEAK_CASES)
def test_token_and_debuginfo_never_leak(name: str, caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    """No log record (DEBUG included), exception text, repr or cause chain holds the token or debuginfo."""
    fixture = load_fixture(name)
    secrets = [TOKEN]
    if isinstance(fixture["response"], dict) and fixture["response"].get("debuginfo"):
        secrets.append(fixture["response"]["debuginfo"])
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, ENDPOINT, status=503, body=f"down {TOKEN}")
        replay(rsps, fixture)
        t = transport(sleeps)
        with pytest.raises(errors.MoodleError) as caught:
            t.call(fixture["wsfunction"] or "core_webservice_get_site_info", fixture.get("request_params_structured"))
    texts = [r.getMessage() for r in caplog.records] + [repr(t), repr(t.settings)]
    exc: BaseException | None = caught.value
    while exc is not None:
        texts += [str(exc), repr(exc), str(getattr(exc, "hint", ""))]
        exc = exc.__cause__ or exc.__context__
    for secret in secrets:
        assert not [text for text in texts if secret in text]


@responses.activate
def test_retry_warning_names_attempt_without_token(caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    """Each retry is one WARNING with the attempt count."""
    responses.add(responses.POST, ENDPOINT, body=requests.ConnectionError(f"boom {BASE_URL}?wstoken={TOKEN}"))
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    with caplog.at_level(logging.DEBUG):
        transport(sleeps).call("core_webservice_get_site_info")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "attempt 1 of 3" in warnings[0]
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def _json(value: object) -> str:
    import json

    return json.dumps(value)
