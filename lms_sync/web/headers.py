"""What every answer of ``lms-sync serve`` carries, and HTTP dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

Headers = list[tuple[str, str]]

SECURITY_HEADERS: Headers = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
# Non-HTML answers load nothing at all.
CSP_NONE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Report HTML is rendered elsewhere and may carry its own <style>; scripts stay forbidden.
CSP_REPORT_HTML = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def http_date(moment: datetime) -> str:
    """An IMF-fixdate such as ``Wed, 09 Dec 2020 08:00:00 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(text: str) -> datetime | None:
    """The moment an HTTP date names, or None when it is not a date."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def loggable(path: str) -> str:
    """A client-chosen path cut short, control characters dropped, so it cannot forge log lines."""
    return _CONTROL.sub("?", path[:200])
