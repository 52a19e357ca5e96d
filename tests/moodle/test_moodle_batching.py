"""``map_parallel``: when a batch of reads stops (site down, token refused, a bug) and when it records per item."""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from fixtures_moodle import ENDPOINT

from lms_sync import errors
from lms_sync.moodle.batching import MAX_CONSECUTIVE_TRANSIENT, map_parallel, stops_batch
from lms_sync.moodle.client import MoodleClient
from lms_sync.moodle.transport import RequestNotSent


class Calls:
    """A thread-safe counter of the items ``fn`` was called for."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self._lock = threading.Lock()

    def add(self, item: int) -> None:
        """Record one call."""
        with self._lock:
            self.items.append(item)


def _completion_ok(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    return 200, {}, json.dumps({"completionstatus": {"completed": False}, "warnings": []})


@responses.activate
def test_site_down_stops_the_batch_after_one_round(client: MoodleClient) -> None:
    """Connection refused for every call: raise RequestNotSent after the first items, not 500 x retries."""
    responses.add(responses.POST, ENDPOINT, body=requests.ConnectTimeout("down"))
    with pytest.raises(RequestNotSent):
        client.map_reads(lambda uid: client.get_course_completion_status(7, uid), list(range(500)))
    attempts, workers = client.settings.retry_attempts, client.settings.concurrency
    # Each running item finishes its own retries; at most one more item per worker slips past the stop.
    assert len(responses.calls) <= 2 * workers * attempts


@responses.activate
def test_every_call_failing_5xx_opens_the_breaker(client: MoodleClient) -> None:
    """HTTP 503 on every call (each already retried): stop after a few items in a row, raise TransientError."""
    responses.add(responses.POST, ENDPOINT, status=503, body="")
    with pytest.raises(errors.TransientError):
        client.map_reads(lambda uid: client.get_course_completion_status(7, uid), list(range(500)))
    attempts, workers = client.settings.retry_attempts, client.settings.concurrency
    assert len(responses.calls) <= (MAX_CONSECUTIVE_TRANSIENT + 2 * workers) * attempts


@responses.activate
def test_isolated_read_timeout_is_recorded_per_item(client: MoodleClient) -> None:
    """One user whose call always times out fails alone; the batch completes."""

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if dict(parse_qsl(str(request.body)))["userid"] == "3":
            raise requests.ReadTimeout("slow")
        return _completion_ok(request)

    responses.add_callback(responses.POST, ENDPOINT, callback=answer, content_type="application/json")
    results = client.map_reads(lambda uid: client.get_course_completion_status(7, uid), list(range(10)))
    assert [r.ok for r in results] == [uid != 3 for uid in range(10)]
    assert type(results[3].error) is errors.TransientError


def test_consecutive_count_resets_when_moodle_answers() -> None:
    """Two transient failures, an answer (even an error answer), two more: all recorded, nothing raised."""
    outcomes: dict[int, Exception | None] = {
        0: errors.TransientError("HTTP 502"),
        1: errors.TransientError("HTTP 502"),
        2: errors.NotFound("usernotenroled"),
        3: errors.TransientError("HTTP 502"),
        4: errors.TransientError("HTTP 502"),
        5: None,
    }

    def fn(item: int) -> int:
        error = outcomes[item]
        if error is not None:
            raise error
        return item

    results = map_parallel(fn, list(outcomes), concurrency=1)
    assert [r.ok for r in results] == [False, False, False, False, False, True]


def test_breaker_threshold_stops_and_cancels_the_rest() -> None:
    """Transient failures in a row up to the threshold raise the last one; queued items never run."""
    calls = Calls()

    def fn(item: int) -> int:
        calls.add(item)
        raise errors.TransientError(f"HTTP 503 for {item}")

    with pytest.raises(errors.TransientError):
        map_parallel(fn, list(range(100)), concurrency=1, max_consecutive_transient=3)
    assert len(calls.items) <= 4  # the three that opened it, at most one already dequeued


@pytest.mark.parametrize(
    "error",
    [
        RequestNotSent("cannot connect"),
        errors.InvalidToken("invalid token"),
        errors.TransientError("maintenance", errorcode="sitemaintenance"),
        errors.MoodleUnavailable("TLS error"),
    ],
    ids=["not-sent", "token", "maintenance", "tls"],
)
def test_site_wide_error_stops_at_first_occurrence(error: errors.MoodleError) -> None:
    """An error that every other item would hit too is raised at once."""
    calls = Calls()

    def fn(item: int) -> int:
        calls.add(item)
        raise error

    assert stops_batch(error)
    with pytest.raises(type(error)):
        map_parallel(fn, list(range(100)), concurrency=1)
    assert len(calls.items) <= 2


def test_bug_in_fn_cancels_the_queued_items() -> None:
    """A non-Moodle exception is raised without running every queued item first."""
    calls = Calls()

    def fn(item: int) -> int:
        calls.add(item)
        if item == 0:
            raise KeyError("bug")
        return item

    with pytest.raises(KeyError):
        map_parallel(fn, list(range(200)), concurrency=2)
    assert len(calls.items) < 20


def test_fatal_error_is_seen_without_waiting_for_earlier_items() -> None:
    """A refused token on item 5 stops the batch even while item 0 is still running."""
    release = threading.Event()
    calls = Calls()

    def fn(item: int) -> int:
        calls.add(item)
        if item == 0:
            release.wait(timeout=5)  # a slow first item must not delay the stop
        if item == 5:
            raise errors.InvalidToken("invalid token")
        return item

    def unblock_after_stop() -> None:
        # Lets item 0 end once the stop has been decided, so shutdown can join its thread.
        while len(calls.items) < 6:
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)
        release.set()

    helper = threading.Thread(target=unblock_after_stop)
    helper.start()
    with pytest.raises(errors.InvalidToken):
        map_parallel(fn, list(range(1000)), concurrency=2)
    helper.join()
    assert len(calls.items) < 50


def test_per_item_errors_and_order_kept() -> None:
    """Ordinary per-item errors are recorded; results keep input order."""

    def fn(item: int) -> int:
        if item % 3 == 0:
            raise errors.NotFound(f"no {item}")
        return item * 10

    results = map_parallel(fn, list(range(9)), concurrency=4)
    assert [r.item for r in results] == list(range(9))
    assert [r.value for r in results] == [None if i % 3 == 0 else i * 10 for i in range(9)]
    assert map_parallel(fn, [], concurrency=4) == []
