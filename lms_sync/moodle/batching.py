"""Split list parameters under PHP's ``max_input_vars`` and run many independent reads in parallel.

PHP silently drops form fields past ``max_input_vars`` (the token included, so Moodle answers
"invalid token"): every batch must fit, with the fixed fields and the other parameters counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import InvalidParameter, InvalidToken, MoodleError, NotMoodleEndpoint, WebServicesDisabled
from .transport import field_count, flatten_params

T = TypeVar("T")
R = TypeVar("R")

# Errors that make every other call fail the same way: stop the whole batch instead of recording each.
FATAL_ERRORS: tuple[type[MoodleError], ...] = (InvalidToken, WebServicesDisabled, NotMoodleEndpoint)


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


def map_parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    concurrency: int,
    limiter: RateLimiter | None = None,
) -> list[ItemResult[T, R]]:
    """Run ``fn`` over ``items`` in a bounded pool; results keep input order and carry per-item errors.

    A fatal error (token refused, web services off, wrong URL) stops the batch and is raised, since
    every remaining item would fail the same way.
    """

    def one(item: T) -> ItemResult[T, R]:
        if limiter is not None:
            limiter.acquire()
        try:
            return ItemResult(item, value=fn(item))
        except FATAL_ERRORS:
            raise
        except MoodleError as exc:
            return ItemResult(item, error=exc)

    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items))), thread_name_prefix="moodle") as pool:
        futures = [pool.submit(one, item) for item in items]
        try:
            return [future.result() for future in futures]
        except FATAL_ERRORS:
            for future in futures:
                future.cancel()
            raise
