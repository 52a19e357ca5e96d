"""Split list parameters under PHP's ``max_input_vars`` and run many independent reads in parallel.

PHP silently drops form fields past ``max_input_vars`` (the token included, so Moodle answers
"invalid token"): every batch must fit, with the fixed fields and the other parameters counted.
A parallel batch stops early when the site as a whole is failing (see ``map_parallel``), instead of
letting every item go through its own retries; a chunked write that fails part-way reports what it
did as a ``PartialBatch``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import (
    InvalidParameter,
    InvalidToken,
    MoodleError,
    MoodleUnavailable,
    NotMoodleEndpoint,
    TransientError,
    WebServicesDisabled,
)
from .transport import RequestNotSent, field_count, flatten_params

log = logging.getLogger("lms_sync.moodle")

T = TypeVar("T")
R = TypeVar("R")

# Errors that make every other call fail the same way: stop the whole batch instead of recording each.
# RequestNotSent reaches map_parallel only after the transport's own retries: the site is unreachable.
FATAL_ERRORS: tuple[type[MoodleError], ...] = (InvalidToken, WebServicesDisabled, NotMoodleEndpoint, RequestNotSent)
# Transient failures in a row (no answer from Moodle in between) after which the site counts as down.
MAX_CONSECUTIVE_TRANSIENT = 3


def chunk_by_budget(
    key: str,
    items: Sequence[Any],
    max_input_vars: int,
    other_params: Mapping[str, Any] | None = None,
    *,
    wsfunction: str | None = None,
) -> Iterator[list[Any]]:
    """Yield consecutive chunks of ``items`` so that ``{**other_params, key: chunk}`` fits ``max_input_vars``."""
    base = field_count(other_params)
    chunk: list[Any] = []
    used = base
    for index, item in enumerate(items):
        cost = len(flatten_params({key: [item]}))
        if base + cost > max_input_vars:
            raise InvalidParameter(
                f"{key}[{index}] alone needs {base + cost} form fields, over max_input_vars={max_input_vars}",
                wsfunction=wsfunction,
                hint="raise moodle.max_input_vars if the site's PHP allows more, or send fewer fields per item",
            )
        if chunk and used + cost > max_input_vars:
            yield chunk
            chunk, used = [], base
        chunk.append(item)
        used += cost
    if chunk:
        yield chunk


class RateLimiter:
    """Spaces calls at least ``1 / per_second`` apart across threads; clock and sleep are injectable."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Build a limiter allowing ``per_second`` calls per second."""
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def acquire(self) -> None:
        """Block until the caller may make its call."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self._sleep(start - now)


@dataclass(frozen=True)
class ItemResult(Generic[T, R]):
    """The outcome of one item of a parallel batch: ``value`` on success, else ``error``."""

    item: T
    value: R | None = None
    error: MoodleError | None = None

    @property
    def ok(self) -> bool:
        """True when the call for this item succeeded."""
        return self.error is None


@dataclass(frozen=True)
class PartialBatch(Generic[R]):
    """What a chunked write achieved before one chunk failed; set as ``.partial`` on the raised MoodleError."""

    wsfunction: str
    done: R  # the method's usual return value, built from the chunks Moodle accepted
    applied: list[Any] = field(default_factory=list)  # the input items of those chunks (a prefix of the input)
    failed: list[Any] = field(default_factory=list)  # the chunk that raised: not applied, or in doubt (timeout)
    unsent: list[Any] = field(default_factory=list)  # the items after it, never sent


def partial_of(exc: BaseException) -> PartialBatch[Any] | None:
    """The ``PartialBatch`` a chunked client write attached to ``exc``, or None."""
    partial = getattr(exc, "partial", None)
    return partial if isinstance(partial, PartialBatch) else None


def stops_batch(exc: MoodleError) -> bool:
    """True when ``exc`` means every other call would fail too (site unreachable, token refused, wrong URL...)."""
    if isinstance(exc, FATAL_ERRORS):
        return True
    if isinstance(exc, TransientError):
        # Maintenance mode is site-wide; any other transient fault may be this item's alone.
        return exc.errorcode == "sitemaintenance"
    # Other MoodleUnavailable (a TLS failure) hits every call the same way.
    return isinstance(exc, MoodleUnavailable)


class _Breaker:
    """Counts transient failures in a row across threads; any answer from Moodle resets the count."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold
        self._count = 0
        self._lock = threading.Lock()

    def answered(self) -> None:
        """Moodle answered (success or a per-item error): the site is up."""
        with self._lock:
            self._count = 0

    def transient(self) -> bool:
        """Record one transient failure; True when the breaker opens."""
        with self._lock:
            self._count += 1
            return self._count >= self._threshold


class _Stopped(Exception):
    """An item that was dequeued after the batch had already been stopped."""


def map_parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    concurrency: int,
    limiter: RateLimiter | None = None,
    max_consecutive_transient: int = MAX_CONSECUTIVE_TRANSIENT,
) -> list[ItemResult[T, R]]:
    """Run ``fn`` over ``items`` in a bounded pool; results keep input order and carry per-item errors.

    Rule for stopping the batch (the error is raised, queued items never run, running ones finish):

    * a fatal error (``stops_batch``: token refused, web services off, wrong URL, TLS failure,
      maintenance mode, or a connection that could not be made even after the transport's retries),
      on its first occurrence, since every remaining item would fail the same way;
    * ``max_consecutive_transient`` transient failures in a row (5xx, 429, read timeouts, each already
      retried by the transport) with no answer from Moodle in between: the site is down or drowning;
    * any exception that is not a MoodleError (a bug): it is raised as is.

    Any other MoodleError, and an isolated transient failure, is recorded in that item's ``error``.
    """
    if not items:
        return []
    breaker = _Breaker(max(1, max_consecutive_transient))
    stop = threading.Event()

    def one(item: T) -> ItemResult[T, R]:
        if stop.is_set():
            raise _Stopped
        if limiter is not None:
            limiter.acquire()
        if stop.is_set():  # the limiter may have held this item while the batch was stopped
            raise _Stopped
        try:
            value = fn(item)
        except MoodleError as exc:
            if stops_batch(exc):
                stop.set()
                raise
            if isinstance(exc, TransientError):
                if breaker.transient():
                    stop.set()
                    log.warning("%d calls in a row failed without an answer from Moodle; stopping the batch",
                                max(1, max_consecutive_transient))
                    raise
            else:
                breaker.answered()
            return ItemResult(item, error=exc)
        except BaseException:
            stop.set()
            raise
        breaker.answered()
        return ItemResult(item, value=value)

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items))), thread_name_prefix="moodle")
    futures: list[Future[ItemResult[T, R]]] = []
    try:
        futures = [pool.submit(one, item) for item in items]
        # Wake on the first raising item rather than after every earlier item, so a stop is quick.
        wait(futures, return_when=FIRST_EXCEPTION)
    finally:
        # After a stop (or Ctrl-C), queued items are cancelled instead of run; running ones finish.
        pool.shutdown(wait=True, cancel_futures=True)
    error = _first_error(futures)
    if error is not None:
        raise error
    return [future.result() for future in futures]


def _first_error(futures: Sequence[Future[Any]]) -> BaseException | None:
    """The error that stopped the batch, if any; items that only saw the stop flag tell nothing."""
    errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
    real = [e for e in errors if not isinstance(e, _Stopped)]
    return real[0] if real else (errors[0] if errors else None)
