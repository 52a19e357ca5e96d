"""Transport behaviour: retries only when safe, Retry-After, decoding edge cases, no token leaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from fixtures_moodle import BASE_URL, ENDPOINT, TOKEN, load_fixture, make_settings, replay

from lms_sync import errors
from lms_sync.moodle.transport import MoodleTransport, RequestNotSent, decode_response, error_from_body, flatten_params

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
def test_a_database_write_error_is_retried_for_a_read_not_resent_for_a_write(sleeps: list[float]) -> None:
    """dmlwriteexception (the real site, once among hundreds of parallel completion reads): a read asks again."""
    race = {"exception": "dml_write_exception", "errorcode": "dmlwriteexception",
            "message": "Error writing to database"}
    responses.add(responses.POST, ENDPOINT, json=race)
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    assert transport(sleeps).call("core_webservice_get_site_info") == SITE_INFO
    assert len(responses.calls) == 2 and len(sleeps) == 1
    responses.add(responses.POST, ENDPOINT, json=race)
    with pytest.raises(errors.TransientError, match="dmlwriteexception"):
        transport(sleeps).call("core_course_create_courses", {"courses": []}, write=True)
    assert len(responses.calls) == 3  # the write is not sent again: the next run looks it up first


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


# ------------------------------------------------------------------------- what each request carries


@responses.activate
@pytest.mark.parametrize(("overrides", "verify"), [({}, True), ({"verify_tls": False}, False)])
def test_tls_is_verified_unless_turned_off(sleeps: list[float], overrides: dict[str, object], verify: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The certificate is checked by default; ``verify_tls = false`` is the only way to skip it."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests would name its bundle instead of True
        monkeypatch.delenv(name, raising=False)
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps, **overrides).call("core_webservice_get_site_info")
    assert responses.calls[0].request.req_kwargs["verify"] is verify


@responses.activate
def test_a_ca_bundle_is_what_verifies_the_site(sleeps: list[float], tmp_path) -> None:  # noqa: ANN001
    """With ``moodle.ca_bundle`` the site's certificate is checked against that file."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text(_self_signed_pem(), encoding="ascii")
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps, ca_bundle=bundle).call("core_webservice_get_site_info")
    assert responses.calls[0].request.req_kwargs["verify"] == str(bundle)


@responses.activate
def test_each_request_is_bounded_in_time(sleeps: list[float]) -> None:
    """Connect and read timeouts as set, never above the call's deadline; the answer is streamed (size cap)."""
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps, connect_timeout=4.0, read_timeout=25.0).call("core_webservice_get_site_info")
    transport(sleeps, connect_timeout=4.0, read_timeout=25.0, deadline=3.0).call("core_webservice_get_site_info")
    first, second = (c.request.req_kwargs for c in responses.calls)
    assert first["timeout"] == (4.0, 25.0) and second["timeout"] == (3.0, 3.0)
    assert first["stream"] is True


@responses.activate
def test_the_token_goes_in_the_form_body_with_the_function_and_json(sleeps: list[float]) -> None:
    """POSTed to the site's REST endpoint: token, function and format first, then the flattened params."""
    responses.add(responses.POST, ENDPOINT, json=[])
    transport(sleeps, url=BASE_URL + "/").call("core_course_get_courses_by_field", {"field": "idnumber", "value": "c1"})
    (call,) = responses.calls
    assert call.request.url == ENDPOINT and TOKEN not in call.request.url
    assert parse_qsl(call.request.body) == [("wstoken", TOKEN), ("wsfunction", "core_course_get_courses_by_field"),
                                           ("moodlewsrestformat", "json"), ("field", "idnumber"), ("value", "c1")]
    assert call.request.headers["Accept"] == "application/json"
    assert call.request.headers["User-Agent"].startswith("lms_sync/")


def test_urllib3_never_resends_a_request_itself() -> None:
    """Only the transport decides what is retried (a resent write could be applied twice)."""
    session = requests.Session()
    MoodleTransport(make_settings(concurrency=6), session=session)
    for scheme in ("https://", "http://"):
        adapter = session.get_adapter(scheme + "moodle.example.test")
        assert adapter.max_retries.total == 0
        assert adapter._pool_maxsize == 6  # one connection per concurrent call


# ------------------------------------------------------------------------------ answers and errors


@responses.activate
def test_an_answer_echoing_the_token_is_redacted(sleeps: list[float]) -> None:
    """A proxy or plugin echoing the request: the message keeps its words, the token becomes [redacted]."""
    responses.add(responses.POST, ENDPOINT, json={"exception": "moodle_exception", "errorcode": "invalidparameter",
                                                  "message": f"Invalid parameter wstoken={TOKEN} in request"})
    with pytest.raises(errors.InvalidParameter) as caught:
        transport(sleeps).call("core_course_get_courses_by_field", {"field": "id", "value": 2})
    assert str(caught.value) == ("core_course_get_courses_by_field: Invalid parameter wstoken=[redacted] in request "
                                 "[invalidparameter]")
    assert transport(sleeps).redact(f"x {TOKEN} y") == "x [redacted] y"


@responses.activate
def test_a_successful_answer_echoing_the_token_is_redacted(sleeps: list[float]) -> None:
    responses.add(responses.POST, ENDPOINT, json={"sitename": f"site {TOKEN}", "username": "u", "userid": 3})
    assert transport(sleeps).call("core_webservice_get_site_info")["sitename"] == "site [redacted]"


@responses.activate
def test_retry_after_as_an_http_date_is_waited_for(sleeps: list[float]) -> None:
    """RFC 9110 allows an HTTP date in Retry-After: wait until then (never more than a minute)."""
    import email.utils
    import time

    responses.add(responses.POST, ENDPOINT, status=503, body="",
                  headers={"Retry-After": email.utils.formatdate(time.time() + 40, usegmt=True)})
    responses.add(responses.POST, ENDPOINT, status=503, body="", headers={"Retry-After": "Fri, 31 Dec 1999 23:59:59 GMT"})
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps, retry_attempts=3).call("core_webservice_get_site_info")
    assert 37.0 <= sleeps[0] <= 41.0  # the date has whole seconds
    assert 0 < sleeps[1] <= 30  # a date in the past: the ordinary backoff


@pytest.mark.parametrize(("value", "seconds"), [("120", 60.0), (" 5 ", 5.0), ("soon", None), ("", None)])
def test_retry_after_values(value: str, seconds: float | None) -> None:
    """Seconds are honoured up to a minute; words that are neither seconds nor a date are ignored."""
    with pytest.raises(errors.TransientError) as caught:
        decode_response("f", 429, "text/plain", "", {"Retry-After": value})
    assert caught.value.retry_after == (None if seconds is None else float(value))
    assert str(caught.value) == "f: HTTP 429 from Moodle"
    if seconds == 60.0:
        sleeps: list[float] = []
        with responses.RequestsMock() as rsps:
            rsps.add(responses.POST, ENDPOINT, status=429, body="", headers={"Retry-After": value})
            rsps.add(responses.POST, ENDPOINT, json=SITE_INFO)
            transport(sleeps).call("core_webservice_get_site_info")
        assert sleeps == [60.0]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_is_reported_with_the_final_address_to_use(status: int) -> None:
    with pytest.raises(errors.NotMoodleEndpoint) as caught:
        decode_response("core_webservice_get_site_info", status, "text/html", "<html>moved</html>")
    assert str(caught.value) == (f"core_webservice_get_site_info: the URL answered HTTP {status} redirect, not "
                                 "Moodle's JSON web-service API")
    assert caught.value.hint.endswith("(use the final address, https:// included)")


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/xml", "<?xml version='1.0'?><RESPONSE/>"),
    ("text/plain", "  <?XML version='1.0'?><RESPONSE/>"),
    ("text/xml; charset=utf-8", "<RESPONSE/>"),
])
def test_an_xml_answer_says_the_json_format_was_dropped(content_type: str, body: str) -> None:
    with pytest.raises(errors.NotMoodleEndpoint) as caught:
        decode_response("f", 200, content_type, body)
    assert "answered an XML answer" in str(caught.value)
    assert caught.value.hint.startswith("something between lms_sync and Moodle dropped moodlewsrestformat=json")


@pytest.mark.parametrize(("status", "content_type", "body", "what"), [
    (200, "", "<!DOCTYPE html><p>Log in</p>", "an HTML page (HTTP 200)"),
    (404, "text/plain", "<HTML>Not found</HTML>", "an HTML page (HTTP 404)"),
    (404, "", "<!-- proxy --><html><body>Not here</body></html>", "an HTML page (HTTP 404)"),
    (200, "text/html", "Bienvenue", "an HTML page (HTTP 200)"),
    (404, "text/plain", "Not found", "a non-JSON answer (HTTP 404, text/plain)"),
    (404, "", "", "a non-JSON answer (HTTP 404, no content type)"),
    (404, "application/json", '{"data": 1}', "a non-JSON answer (HTTP 404, application/json)"),
])
def test_what_answered_instead_of_moodle_is_named(status: int, content_type: str, body: str, what: str) -> None:
    with pytest.raises(errors.NotMoodleEndpoint) as caught:
        decode_response("f", status, content_type, body)
    assert str(caught.value) == f"f: the URL answered {what}, not Moodle's JSON web-service API"
    url_hint = "check LMS_SYNC_MOODLE__URL: it must be the Moodle site root (the address of its front page)"
    debug = "; if the page is Moodle's own, turn off debug display (it breaks JSON answers)"
    assert caught.value.hint == url_hint + (debug if status == 200 and "HTML" in what else "")


@responses.activate
def test_an_answer_that_is_not_utf8_is_read_not_a_crash(sleeps: list[float]) -> None:
    """A Latin-1 login page or a stray byte in JSON: a clear error, or the value with a replacement mark."""
    responses.add(responses.POST, ENDPOINT, body="<html>Accès refusé</html>".encode("latin-1"), content_type="text/html")
    with pytest.raises(errors.NotMoodleEndpoint, match="an HTML page"):
        transport(sleeps).call("core_webservice_get_site_info")
    responses.add(responses.POST, ENDPOINT, body=b'{"sitename": "ENA \xe9cole", "userid": 3}', content_type="application/json")
    assert transport(sleeps).call("core_webservice_get_site_info")["sitename"] == "ENA \ufffdcole"


@responses.activate
def test_errors_name_the_function_called(sleeps: list[float]) -> None:
    responses.add(responses.POST, ENDPOINT, status=403, body="")
    with pytest.raises(errors.WebServicesDisabled) as caught:
        transport(sleeps).call("core_course_get_categories")
    assert caught.value.wsfunction == "core_course_get_categories"
    assert str(caught.value).startswith("core_course_get_categories: HTTP 403 with an empty body")
    assert "Site administration > Server > Web services > Overview" in caught.value.hint


def test_a_403_with_a_body_is_read_as_an_answer() -> None:
    body = '{"exception": "webservice_access_exception", "errorcode": "accessexception", "message": "Access denied"}'
    with pytest.raises(errors.AccessDenied) as caught:
        decode_response("core_user_create_users", 403, "application/json", body)
    assert "add function core_user_create_users to the token's external service" in caught.value.hint


@pytest.mark.parametrize(("errorcode", "cls"), [
    ("usernameexists", errors.AlreadyExists), ("invalidrecord", errors.NotFound),
    ("errorcoursecontextnotvalid", errors.NotFound), ("wsusercannotassign", errors.AccessDenied),
    ("somethingnew", errors.MoodleRemoteError), ("", errors.MoodleRemoteError),
])
def test_error_codes_become_typed_errors(errorcode: str, cls: type[errors.MoodleError]) -> None:
    error = error_from_body("f", {"exception": "moodle_exception", "errorcode": errorcode, "message": "<b>No</b> way",
                                  "debuginfo": "SELECT secret"})
    assert type(error) is cls
    assert str(error) == ("f: No way" + (f" [{errorcode}]" if errorcode else ""))
    assert "SELECT" not in repr(error)


def test_a_missing_capability_is_named_in_the_hint() -> None:
    error = error_from_body("core_course_create_courses", {
        "exception": "required_capability_exception", "errorcode": "nopermissions",
        "message": "Sorry, but you do not currently have permissions to do that (Create courses)."})
    assert isinstance(error, errors.AccessDenied) and error.capability == "Create courses"
    assert error.hint == "give the sync account's role the capability \u201cCreate courses\u201d at system level"
    plain = error_from_body("f", {"exception": "x", "errorcode": "nopermissions", "message": "no permission"})
    assert plain.hint == "give the sync account's role the capability named in the message, at system level"


def test_an_error_without_message_still_says_moodle_refused() -> None:
    error = error_from_body("f", {"exception": "x", "errorcode": "invalidparameter"})
    assert str(error) == "f: Moodle reported an error [invalidparameter]"
    assert error.hint == "Moodle gives the reason only with developer debugging on; check types and unknown keys"


def _self_signed_pem() -> str:
    """Any PEM certificate: requests checks the bundle only when it connects, which responses never does."""
    return "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


# ------------------------------------------------------------------- faults on the way, as the user reads them

TLS_CASES = [
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
     "the site's certificate has expired", "renew the certificate on the Moodle server"),
    ("Hostname mismatch, certificate is not valid for 'moodle.example.test'",
     "the site's certificate is for another host name", "use the host name the certificate names in LMS_SYNC_MOODLE__URL"),
    ("hostname 'moodle.example.test' doesn't match 'other.tn'",
     "the site's certificate is for another host name", "use the host name the certificate names in LMS_SYNC_MOODLE__URL"),
    ("certificate verify failed: self-signed certificate", "the site's certificate is not signed by a trusted authority",
     "set moodle.ca_bundle to your CA's certificate file (PEM), or verify_tls = false for a lab only"),
    ("certificate verify failed: unable to get local issuer certificate",
     "the site's certificate is not signed by a trusted authority", "set moodle.ca_bundle to your CA's certificate file (PEM), or verify_tls = false for a lab only"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "the site's certificate is not signed by a trusted "
     "authority", "set moodle.ca_bundle to your CA's certificate file (PEM), or verify_tls = false for a lab only"),
    ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "the site did not answer TLS (is it http:// only, or the wrong "
     "port?)", "check LMS_SYNC_MOODLE__URL: https:// for a TLS site, and the right port"),
    ("ssl3 wrong version number", "the site did not answer TLS", "check LMS_SYNC_MOODLE__URL: https:// for a TLS site, and the right port"),
    ("[SSL: WRONG_VERSION_NUMBER] (_ssl.c:1000)", "the site did not answer TLS", "check LMS_SYNC_MOODLE__URL: https:// for a TLS site, and the right port"),
    ("[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure", "the TLS handshake failed",
     "set moodle.ca_bundle to your CA's certificate file (PEM), or verify_tls = false for a lab only"),
]


@responses.activate
@pytest.mark.parametrize(("text", "reason", "hint"), TLS_CASES)
def test_a_tls_failure_says_what_is_wrong_and_what_to_do(sleeps: list[float], text: str, reason: str, hint: str) -> None:
    responses.add(responses.POST, ENDPOINT, body=requests.exceptions.SSLError(text))
    with pytest.raises(errors.MoodleUnavailable) as caught:
        transport(sleeps).call("core_webservice_get_site_info")
    assert str(caught.value).startswith(f"core_webservice_get_site_info: TLS error talking to {BASE_URL}: {reason}")
    assert caught.value.hint == hint
    assert len(responses.calls) == 1 and not isinstance(caught.value, errors.TransientError)


CONNECTION_HINTS = {
    "cut the connection": "the site, a proxy or a firewall cut the connection; run again, and check the path if it "
                          "persists",
    "dropped the connection mid-answer": "the site or a proxy dropped the connection mid-answer; a write may have been "
                                         "applied, and the next run looks it up before retrying",
    "the request may have been applied": "the request may have been applied; the next run looks the object up before "
                                         "retrying",
    "check LMS_SYNC_MOODLE__URL, DNS and the network path to the site":
        "check LMS_SYNC_MOODLE__URL, DNS and the network path to the site",
    "check LMS_SYNC_MOODLE__URL and the network path to the site": "check LMS_SYNC_MOODLE__URL and the network path to "
                                                                   "the site",
}
CONNECTION_CASES = [
    (requests.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"),
     f"the connection to {BASE_URL} was closed or reset before the answer came (ConnectionError)", "cut the connection"),
    (requests.ConnectionError("Connection reset by peer"),
     f"the connection to {BASE_URL} was closed or reset before the answer came (ConnectionError)", "cut the connection"),
    (requests.ConnectionError(), f"connection to {BASE_URL} failed (ConnectionError)",
     "check LMS_SYNC_MOODLE__URL and the network path to the site"),
    (requests.ConnectionError("Remote end closed connection without response"),
     f"the connection to {BASE_URL} was closed or reset before the answer came (ConnectionError)", "cut the connection"),
    (requests.ConnectionError("('Connection aborted.', BrokenPipeError())"),
     f"the connection to {BASE_URL} was closed or reset before the answer came (ConnectionError)", "cut the connection"),
    (requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
     f"the answer from {BASE_URL} was cut short (ChunkedEncodingError)", "dropped the connection mid-answer"),
    (requests.exceptions.ContentDecodingError("bad gzip"),
     f"the answer from {BASE_URL} was cut short (ContentDecodingError)", "dropped the connection mid-answer"),
    (requests.ReadTimeout("read timed out"), f"no answer from {BASE_URL} within 60 s (ReadTimeout)",
     "the request may have been applied"),
    (requests.ConnectTimeout("connect timed out"), f"cannot connect to {BASE_URL} (ConnectTimeout)",
     "check LMS_SYNC_MOODLE__URL, DNS and the network path to the site"),
    (requests.ConnectionError("Max retries exceeded: proxy says no"), f"connection to {BASE_URL} failed (ConnectionError)",
     "check LMS_SYNC_MOODLE__URL and the network path to the site"),
]


@responses.activate
@pytest.mark.parametrize(("exc", "message", "hint"), CONNECTION_CASES)
def test_a_connection_fault_is_named_with_what_to_do(sleeps: list[float], exc: Exception, message: str, hint: str) -> None:
    for _ in range(3):
        responses.add(responses.POST, ENDPOINT, body=exc)
    with pytest.raises(errors.TransientError) as caught:
        transport(sleeps).call("core_webservice_get_site_info")
    assert str(caught.value) == f"core_webservice_get_site_info: {message}"
    assert caught.value.hint == CONNECTION_HINTS[hint]
    assert len(responses.calls) == 3  # a read: retried up to retry_attempts


@responses.activate
def test_a_write_is_not_resent_after_a_503_but_is_during_maintenance(sleeps: list[float]) -> None:
    responses.add(responses.POST, ENDPOINT, status=503, body="")
    with pytest.raises(errors.TransientError):
        transport(sleeps).call("core_course_create_courses", {"courses": []}, write=True)
    assert len(responses.calls) == 1
    responses.add(responses.POST, ENDPOINT, json={"exception": "moodle_exception", "errorcode": "sitemaintenance",
                                                  "message": "Site is undergoing maintenance"})
    responses.add(responses.POST, ENDPOINT, json=[{"id": 7, "shortname": "x"}])
    assert transport(sleeps).call("core_course_create_courses", {"courses": []}, write=True) == [{"id": 7, "shortname": "x"}]


@responses.activate
def test_an_answer_over_the_size_cap_is_refused_and_not_retried(sleeps: list[float]) -> None:
    responses.add(responses.POST, ENDPOINT, body=b"[" + b"1," * 600_000 + b"1]", content_type="application/json")
    with pytest.raises(errors.TransientError) as caught:
        transport(sleeps, max_response_mb=1).call("core_webservice_get_site_info")
    assert str(caught.value) == f"core_webservice_get_site_info: the answer from {BASE_URL} is larger than 1 MB"
    assert caught.value.hint == ("something between lms_sync and Moodle sends an endless answer; if the site really "
                                 "answers this much, lower pull.report_page_size or raise moodle.max_response_mb")
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_calls_that_share_a_deadline_stop_when_it_has_passed(sleeps: list[float]) -> None:
    t = MoodleTransport(make_settings(deadline=30), sleep=sleeps.append, total_seconds=0)
    with pytest.raises(errors.TransientError) as caught:
        t.call("core_webservice_get_site_info")
    assert str(caught.value) == (f"core_webservice_get_site_info: no time left: the calls to {BASE_URL} took longer "
                                 "than 30 s in all")
    assert len(responses.calls) == 0


@responses.activate
def test_each_retry_is_logged_with_its_wait(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    responses.add(responses.POST, ENDPOINT, status=503, body="", headers={"Retry-After": "7"})
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    with caplog.at_level(logging.WARNING, logger="lms_sync.moodle"):
        transport(sleeps, retry_attempts=4).call("core_webservice_get_site_info")
    assert [r.getMessage() for r in caplog.records] == [
        "core_webservice_get_site_info: HTTP 503 from Moodle (attempt 1 of 4); retrying in 7.0 s"]


@responses.activate
def test_backoff_waits_grow_but_never_pass_the_retry_budget(sleeps: list[float]) -> None:
    for _ in range(5):
        responses.add(responses.POST, ENDPOINT, status=502, body="")
    with pytest.raises(errors.TransientError):
        transport(sleeps, retry_attempts=5, retry_max_seconds=3.0).call("core_webservice_get_site_info")
    assert len(sleeps) >= 1 and all(0 < s <= 3.0 for s in sleeps)


@pytest.mark.parametrize(("url", "warned"), [
    ("http://localhost", False), ("http://127.0.0.1:8080", False), ("http://[::1]", False),
    ("http://moodle.localhost", False), ("http://10.0.0.5", True), ("http://moodle.example.tn", True),
    ("https://moodle.example.tn", False)])
def test_http_is_warned_about_unless_on_this_machine(caplog: pytest.LogCaptureFixture, url: str, warned: bool) -> None:
    with caplog.at_level(logging.WARNING, logger="lms_sync.moodle"):
        MoodleTransport(make_settings(url=url))
    clear = [r.getMessage() for r in caplog.records if "travels in clear" in r.getMessage()]
    assert bool(clear) is warned
    if warned:
        host = url.removeprefix("http://")
        assert clear == [f"moodle.url is http:// ({host}): the token travels in clear over the network; use https://"]


def test_a_transport_shows_its_endpoint_never_its_token() -> None:
    t = MoodleTransport(make_settings())
    assert repr(t) == f"MoodleTransport(url='{ENDPOINT}')"


def test_values_are_sent_the_way_php_reads_them() -> None:
    import enum
    from datetime import date

    class Colour(enum.Enum):
        RED = "red"

    assert flatten_params({"a": {"b": [True, Colour.RED, 3]}}, prefix="x") == [
        ("x[a][b][0]", "1"), ("x[a][b][1]", "red"), ("x[a][b][2]", "3")]
    assert flatten_params(None) == [] and flatten_params({}) == []
    with pytest.raises(ValueError, match="a date has no instant"):
        flatten_params({"d": date(2020, 12, 9)})


def test_the_field_count_includes_the_three_fixed_fields() -> None:
    from lms_sync.moodle.transport import field_count

    assert field_count(None) == 3 and field_count({"users": [{"id": 1, "email": None}, {"id": 2}]}) == 5


@pytest.mark.parametrize(("errorcode", "cls", "hint"), [
    ("invalidtoken", errors.InvalidToken, "check LMS_SYNC_MOODLE__TOKEN (Site administration > Server > Web services"),
    ("wsusercannotassign", errors.AccessDenied, "allow the sync account's role to assign that role"),
    ("cannotviewreport", errors.AccessDenied, "enable completion on the course and grant the sync account "
                                              "report/completion:view"),
    ("errorreportview", errors.AccessDenied, "add the sync account to the report's audience in Report builder"),
    ("criteriaerror", errors.AccessDenied, "give the sync account's role moodle/category:manage"),
    ("sitemaintenance", errors.TransientError, "the site is in maintenance mode; run again when it is back"),
    ("dmlwriteexception", errors.TransientError, "Moodle's database refused a write (usually two requests at once)"),
    ("shortnametaken", errors.AlreadyExists, None),
])
def test_each_known_error_code_says_what_to_do(errorcode: str, cls: type[errors.MoodleError], hint: str | None) -> None:
    error = error_from_body("core_course_create_courses", {"exception": "x", "errorcode": errorcode, "message": "m"})
    assert type(error) is cls and error.errorcode == errorcode
    assert (error.hint is None) if hint is None else error.hint.startswith(hint)


@responses.activate
def test_retry_after_never_makes_one_wait_past_the_retry_budget(sleeps: list[float]) -> None:
    responses.add(responses.POST, ENDPOINT, status=429, body="", headers={"Retry-After": "10"})
    responses.add(responses.POST, ENDPOINT, json=SITE_INFO)
    transport(sleeps, retry_max_seconds=3.0).call("core_webservice_get_site_info")
    assert sleeps == [3.0]
