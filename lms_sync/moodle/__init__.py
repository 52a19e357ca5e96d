"""Moodle REST web services: transport (HTTP, errors, retries), typed client, batching, ``lms-sync check``."""

from .batching import ItemResult, RateLimiter, chunk_by_budget, map_parallel
from .client import MoodleClient
from .transport import MoodleTransport, flatten_params

__all__ = [
    "ItemResult",
    "MoodleClient",
    "MoodleTransport",
    "RateLimiter",
    "chunk_by_budget",
    "flatten_params",
    "map_parallel",
]
