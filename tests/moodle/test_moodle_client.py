"""Client methods: the right request for each wsfunction, models back, batches under max_input_vars."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from fixtures_moodle import ENDPOINT, load_fixture, replay
from tests.conftest import example_counts

from lms_sync import errors
from lms_sync.moodle.batching import RateLimiter, chunk_by_budget, partial_of
from lms_sync.moodle.client import MoodleClient
from lms_sync.moodle.models import CalendarEvent, SiteInfo
from lms_sync.moodle.transport import field_count


def sent_fields(call_index: int = 0) -> list[tuple[str, str]]:
    """The form fields of one recorded request."""
    body = responses.calls[call_index].request.body
    text = body if isinstance(body, str) else body.decode()
    return parse_qsl(text, keep_blank_values=True)


def params_of(call_index: int = 0) -> dict[str, str]:
    """The form fields of one request, without the fixed ones."""
    return {k: v for k, v in sent_fields(call_index) if k not in ("wstoken", "wsfunction", "moodlewsrestformat")}


@responses.activate
def test_get_site_info(client: MoodleClient) -> None:
    """Site info becomes a model listing the service's functions."""
    replay(responses.mock, load_fixture("core_webservice_get_site_info.ok.json"))
    info = client.get_site_info()
    assert isinstance(info, SiteInfo)
    assert info.sitename == "DGIDT Lab Moodle" and info.userid == 3
    assert "core_course_create_courses" in info.function_names
    assert "core_user_delete_users" not in info.function_names
    assert info.feature("enablecompletion") == 1


@responses.activate
def test_get_courses_by_field_reads_completion_flag(client: MoodleClient) -> None:
    """The course model carries ``enablecompletion`` as a bool."""
    replay(responses.mock, load_fixture("core_course_get_courses_by_field.idnumber.ok.json"))
    result = client.get_courses_by_field("idnumber", "dgidt-ia-2020")
    assert params_of() == {"field": "idnumber", "value": "dgidt-ia-2020"}
    assert [c.idnumber for c in result.courses] == ["dgidt-ia-2020"]
    assert result.courses[0].enablecompletion is True


@responses.activate
def test_update_courses_returns_warnings(client: MoodleClient) -> None:
    """Per-item warnings come back to the caller."""
    replay(responses.mock, load_fixture("core_course_update_courses.duplicate_shortname.warning.json"))
    result = client.update_courses([{"id": 4, "shortname": "DGIDT-IA-2020"}], retry_safe=True)
    assert [(w.itemid, w.warningcode) for w in result.warnings] == [(4, "shortnametaken")]


@responses.activate
def test_create_events_no_permission_warning_is_returned(client: MoodleClient) -> None:
    """``create_calendar_events`` with no permission returns warnings, not an empty success."""
    fixture = load_fixture("core_calendar_create_calendar_events.no_permission_limited_user.warning.json")
    replay(responses.mock, fixture)
    result = client.create_calendar_events(fixture["request_params_structured"]["events"])
    assert result.events == [] and [w.warningcode for w in result.warnings] == ["nopermissions"]


@responses.activate
def test_get_calendar_events_course_events_only(client: MoodleClient) -> None:
    """The range query excludes user and site events, as recorded."""
    fixture = load_fixture("core_calendar_get_calendar_events.range.ok.json")
    replay(responses.mock, fixture)
    result = client.get_calendar_events(course_ids=[2], time_start=1606777200, time_end=1612134000)
    expected = {k: str(v) for k, v in fixture["request_params"].items() if k not in ("wstoken", "wsfunction", "moodlewsrestformat")}
    assert params_of() == expected
    assert [e.id for e in result.events] == [e["id"] for e in fixture["response"]["events"]]
    assert all(e.location is None and e.courseid == 2 for e in result.events)


@responses.activate
def test_get_event_by_id_has_location_and_course(client: MoodleClient) -> None:
    """The detailed event gives location, and the course id from its embedded course."""
    replay(responses.mock, load_fixture("core_calendar_get_calendar_event_by_id.after_update.ok.json"))
    event = client.get_calendar_event_by_id(4)
    assert (event.location, event.courseid, event.format) == ("Salle Averroès", 2, 1)


@responses.activate
def test_update_calendar_event_builds_recorded_form(client: MoodleClient) -> None:
    """The moodleform data matches the recording: local day/month/year/hour/minute and minutes."""
    fixture = load_fixture("core_calendar_submit_create_update_form.update.ok.json")
    replay(responses.mock, fixture)
    event = client.update_calendar_event(
        4,
        course_id=2,
        name="Séance 2 — Intelligence artificielle (salle modifiée)",
        timestart=1608712200,
        duration=150 * 60,
        tz="Africa/Tunis",
        description="<p>Salle « Averroès »</p>",
        location="Salle Averroès",
        user_id=3,
    )
    assert isinstance(event, CalendarEvent) and event.location == "Salle Averroès"
    assert parse_qsl(params_of()["formdata"]) == parse_qsl(fixture["request_params"]["formdata"])


@responses.activate
def test_update_calendar_event_wrong_timezone_fails_loudly(client: MoodleClient) -> None:
    """Moodle saved another instant than the one sent (it read the form in another zone): say so."""
    replay(responses.mock, load_fixture("core_calendar_submit_create_update_form.update.ok.json"))
    with pytest.raises(errors.MoodleRemoteError, match="timezone"):
        client.update_calendar_event(
            4, course_id=2, name="x", timestart=1608712200 + 3600, duration=9000, tz="Africa/Tunis"
        )


@responses.activate
def test_update_calendar_event_validation_error(client: MoodleClient) -> None:
    """The form's bare validation error is an InvalidParameter."""
    replay(responses.mock, load_fixture("core_calendar_submit_create_update_form.validation_error.json"))
    with pytest.raises(errors.InvalidParameter):
        client.update_calendar_event(4, course_id=2, name="", timestart=1608712200, duration=9000, tz="Africa/Tunis")


@responses.activate
def test_enrolled_users_options_match_recording(client: MoodleClient) -> None:
    """Options are sent in the shape Moodle expects (name/value pairs)."""
    fixture = load_fixture("core_enrol_get_enrolled_users.limit_institution.ok.json")
    replay(responses.mock, fixture)
    users = client.get_enrolled_users(
        2,
        userfields=["id", "username", "idnumber", "fullname", "firstname", "lastname", "email", "institution", "department"],
        sort_by="id",
        limit_from=3,
        limit_number=3,
    )
    expected = {k: str(v) for k, v in fixture["request_params"].items() if k not in ("wstoken", "wsfunction", "moodlewsrestformat")}
    assert params_of() == expected
    assert users[0].institution == "Ministère de l'Éducation"


@responses.activate
def test_completion_and_report_models(client: MoodleClient) -> None:
    """Completion and report answers become models."""
    replay(responses.mock, load_fixture("core_completion_get_course_completion_status.after_self.ok.json"))
    replay(responses.mock, load_fixture("core_completion_get_activities_completion_status.after.ok.json"))
    replay(responses.mock, load_fixture("core_reportbuilder_retrieve_report.past_last_page.ok.json"))
    assert client.get_course_completion_status(2, 5).completionstatus.completed is True
    assert client.get_activities_completion_status(2, 5).statuses[0].state == 1
    report = client.retrieve_report(1, page=1000, perpage=2)
    assert report.data.rows == [] and report.data.totalrowcount == 0


# ------------------------------------------------------------------------------------------- batching


def _users(n: int) -> list[dict[str, str]]:
    return [{"username": f"u{i}", "firstname": "F", "lastname": "L", "email": f"u{i}@x.invalid"} for i in range(n)]


@responses.activate
def test_create_users_split_under_budget(client_factory: Callable[..., MoodleClient]) -> None:
    """Every request stays within max_input_vars, and every user is sent once, in order."""
    budget = 30
    client = client_factory(max_input_vars=budget)
    created: list[dict[str, object]] = []

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        names = [v for k, v in parse_qsl(request.body) if k.endswith("[username]")]  # type: ignore[attr-defined]
        rows = [{"id": 100 + len(created) + i, "username": n} for i, n in enumerate(names)]
        created.extend(rows)
        return 200, {}, json.dumps(rows)

    responses.add_callback(responses.POST, ENDPOINT, callback=answer, content_type="application/json")
    result = client.create_users(_users(20))
    counts = [len(sent_fields(i)) for i in range(len(responses.calls))]
    assert counts == [27, 27, 27, 11]  # 3 fixed + up to 6 users x 4 fields, never over 30
    assert [u.username for u in result] == [f"u{i}" for i in range(20)]


@responses.activate
def test_get_users_by_field_split_under_budget(client_factory: Callable[..., MoodleClient]) -> None:
    """Look-ups of many values are split too, with ``field`` counted in each request."""
    client = client_factory(max_input_vars=20)
    responses.add(responses.POST, ENDPOINT, json=[])
    client.get_users_by_field("username", [f"u{i}" for i in range(50)])
    counts = [len(sent_fields(i)) for i in range(len(responses.calls))]
    assert counts == [20, 20, 20, 6]  # 4 fixed (field included) + 16 values, then the last 2


@responses.activate
def test_single_item_over_budget_is_refused(client_factory: Callable[..., MoodleClient]) -> None:
    """One item that cannot fit is a clear error, and nothing is sent."""
    client = client_factory(max_input_vars=20)
    with pytest.raises(errors.InvalidParameter, match=r"users\[0\] alone"):
        client.create_users([{f"field{i}": "x" for i in range(30)}])
    assert len(responses.calls) == 0


def test_chunk_by_budget_counts_other_params() -> None:
    """The fixed fields and the other params are part of the budget."""
    chunks = list(chunk_by_budget("values", list(range(10)), 8, {"field": "id"}))
    assert chunks == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# ------------------------------------------------------------------------------------------- parallel


@responses.activate
def test_map_reads_keeps_order_and_per_item_errors(client: MoodleClient) -> None:
    """A failed item is recorded with its error; the others succeed."""

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        fields = dict(parse_qsl(request.body))  # type: ignore[attr-defined]
        if fields["userid"] == "2":
            return 200, {}, json.dumps({"exception": "x", "errorcode": "usernotenroled", "message": "not enrolled"})
        return 200, {}, json.dumps({"completionstatus": {"completed": fields["userid"] == "3"}, "warnings": []})

    responses.add_callback(responses.POST, ENDPOINT, callback=answer, content_type="application/json")
    results = client.map_reads(lambda uid: client.get_course_completion_status(7, uid), [1, 2, 3])
    assert [r.item for r in results] == [1, 2, 3]
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, errors.NotFound)
    assert results[2].value is not None and results[2].value.completionstatus.completed is True


@responses.activate
def test_map_reads_stops_on_refused_token(client: MoodleClient) -> None:
    """A refused token fails every item the same way: raise instead of recording each."""
    responses.add(responses.POST, ENDPOINT, json={"exception": "x", "errorcode": "invalidtoken", "message": "bad"})
    with pytest.raises(errors.InvalidToken):
        client.map_reads(lambda uid: client.get_course_completion_status(7, uid), [1, 2, 3])


def test_rate_limiter_spaces_calls() -> None:
    """With a frozen clock, the n-th call waits n / rate seconds."""
    waits: list[float] = []
    limiter = RateLimiter(2.0, clock=lambda: 100.0, sleep=waits.append)
    for _ in range(4):
        limiter.acquire()
    assert waits == [0.5, 1.0, 1.5]


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(deadline=None, **example_counts(max_examples=150))
@given(items=st.lists(_values, max_size=25), budget=st.integers(min_value=20, max_value=60))
def test_chunks_never_exceed_budget_and_keep_every_item(items: list[object], budget: int) -> None:
    """Property: each chunk's real field count fits the budget, and the chunks concatenate to the input."""
    other = {"field": "username"}
    try:
        chunks = list(chunk_by_budget("values", items, budget, other))
    except errors.InvalidParameter:
        assert any(field_count({**other, "values": [item]}) > budget for item in items)
        return
    assert [item for chunk in chunks for item in chunk] == items
    assert all(field_count({**other, "values": chunk}) <= budget for chunk in chunks)


# ------------------------------------------------------------------------------------ chunked writes

# method -> (wsfunction, list key in the request, the answer Moodle gives for one chunk of items)
_WRITE_ANSWERS: dict[str, tuple[str, str, Callable[[list[dict[str, str]]], object]]] = {
    "create_categories": (
        "core_course_create_categories", "categories",
        lambda rows: [{"id": 10 + i, "name": r["name"]} for i, r in enumerate(rows)],
    ),
    "create_courses": (
        "core_course_create_courses", "courses",
        lambda rows: [{"id": 20 + i, "shortname": r["name"]} for i, r in enumerate(rows)],
    ),
    "update_courses": ("core_course_update_courses", "courses", lambda rows: {"warnings": []}),
    "create_calendar_events": (
        "core_calendar_create_calendar_events", "events",
        lambda rows: {
            "events": [{"id": 30 + i, "name": r["name"], "timestart": 0} for i, r in enumerate(rows)],
            "warnings": [],
        },
    ),
    "create_users": (
        "core_user_create_users", "users",
        lambda rows: [{"id": 40 + i, "username": r["name"]} for i, r in enumerate(rows)],
    ),
    "update_users": ("core_user_update_users", "users", lambda rows: {"warnings": []}),
    "enrol_users": ("enrol_manual_enrol_users", "enrolments", lambda rows: None),
}


def _rows_of(request: object, key: str) -> list[dict[str, str]]:
    """The list items of one request, rebuilt from its form fields."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in parse_qsl(request.body):  # type: ignore[attr-defined]
        if name.startswith(key + "["):
            index, field = name[len(key) + 1 :].rstrip("]").split("][")
            rows.setdefault(int(index), {})[field] = value
    return [rows[i] for i in sorted(rows)]


@pytest.mark.parametrize("method", list(_WRITE_ANSWERS))
@responses.activate
def test_failed_chunk_keeps_results_of_earlier_chunks(method: str, client_factory: Callable[..., MoodleClient]) -> None:
    """Chunk 2 of 3 fails: the error keeps its type and carries what chunk 1 did and what was not done."""
    wsfunction, key, ok = _WRITE_ANSWERS[method]
    client = client_factory(max_input_vars=20)  # 3 fixed fields + two 8-field items per chunk
    items = [{"name": f"n{i}", **{f"f{j}": "x" for j in range(7)}} for i in range(6)]

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        if len(responses.calls) == 1:  # this request is already counted: the second chunk fails
            return 503, {}, ""
        return 200, {}, json.dumps(ok(_rows_of(request, key)))

    responses.add_callback(responses.POST, ENDPOINT, callback=answer, content_type="application/json")
    with pytest.raises(errors.TransientError) as caught:
        getattr(client, method)(items)
    assert len(responses.calls) == 2  # a write not marked safe is not retried, and chunk 3 is not sent
    partial = partial_of(caught.value)
    assert partial is not None and partial.wsfunction == wsfunction
    assert (partial.applied, partial.failed, partial.unsent) == (items[:2], items[2:4], items[4:])
    if method == "create_calendar_events":
        assert [e.id for e in partial.done.events] == [30, 31]
    elif method.startswith("create_"):
        assert [row.id for row in partial.done] == [row["id"] for row in ok(items[:2])]  # type: ignore[attr-defined]
    elif method.startswith("update_"):
        assert partial.done.warnings == []
    else:
        assert partial.done is None


@responses.activate
def test_delete_events_partial_lists_event_ids(client_factory: Callable[..., MoodleClient]) -> None:
    """A failed delete chunk says which event ids are gone, which failed and which were not sent."""
    client = client_factory(max_input_vars=20)  # 3 fixed fields + eight events (eventid, repeat) per chunk
    responses.add(responses.POST, ENDPOINT, body="null", content_type="application/json")
    responses.add(responses.POST, ENDPOINT, json={"exception": "x", "errorcode": "invalidrecord", "message": "gone"})
    ids = list(range(100, 120))
    with pytest.raises(errors.NotFound) as caught:
        client.delete_calendar_events(ids)
    partial = partial_of(caught.value)
    assert partial is not None and (partial.applied, partial.failed, partial.unsent) == (ids[:8], ids[8:16], ids[16:])
    assert len(responses.calls) == 2


@responses.activate
def test_oversized_item_fails_before_any_write(client_factory: Callable[..., MoodleClient]) -> None:
    """Every chunk is checked against the budget first: nothing is half-sent because of a late big item."""
    client = client_factory(max_input_vars=20)
    with pytest.raises(errors.InvalidParameter):
        client.create_courses([{"shortname": "a"}, {f"f{i}": "x" for i in range(30)}])
    assert len(responses.calls) == 0


# ----------------------------------------------------------------------------------- calendar reads


@responses.activate
def test_get_calendar_events_course_filter_sent_once(client_factory: Callable[..., MoodleClient]) -> None:
    """Ids split over several calls with a course filter: the course's events come back once, no duplicates."""
    client = client_factory(max_input_vars=20)  # 3 fixed + 3 options + 1 courseid + 13 eventids per call
    course_events = [{"id": 100 + i, "name": f"c{i}", "courseid": 2, "timestart": 0} for i in range(3)]

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        # Moodle's answer is the union: every event of the given courses, plus the given ids.
        fields = parse_qsl(request.body)  # type: ignore[attr-defined]
        courses = {v for k, v in fields if k.startswith("events[courseids]")}
        ids = [int(v) for k, v in fields if k.startswith("events[eventids]")]
        events = course_events if "2" in courses else []
        known = {e["id"] for e in events}
        events = events + [{"id": i, "name": f"e{i}", "courseid": 2, "timestart": 0} for i in ids if i not in known]
        return 200, {}, json.dumps({"events": events, "warnings": []})

    responses.add_callback(responses.POST, ENDPOINT, callback=answer, content_type="application/json")
    wanted = [*range(1, 30), 101]
    result = client.get_calendar_events(event_ids=wanted, course_ids=[2])
    assert len(responses.calls) == 3
    ids = [e.id for e in result.events]
    assert len(ids) == len(set(ids)) and set(ids) == {*wanted, 100, 102}
    with_course = [i for i in range(3) if any(k.startswith("events[courseids]") for k, _ in sent_fields(i))]
    assert with_course == [0]
