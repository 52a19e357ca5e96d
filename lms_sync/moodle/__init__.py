"""Moodle REST web services: transport (HTTP, errors, retries), typed client, batching, ``lms-sync check``."""

from .batching import ItemResult, PartialBatch, RateLimiter, chunk_by_budget, map_parallel, partial_of
from .client import MoodleClient
from .transport import MoodleTransport, flatten_params

__all__ = [
    "ItemResult",
    "MoodleClient",
    "MoodleTransport",
    "PartialBatch",
    "RateLimiter",
    "chunk_by_budget",
    "flatten_params",
    "map_parallel",
    "partial_of",
]
