"""Logging set-up: readable text on stderr by default, one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from .redact import Redactor

# One process runs one command, so a process-wide value (unlike a ContextVar) also reaches the
# worker threads of the Moodle client's pool.
_run_id: int | None = None


def set_run_id(run_id: int | None) -> None:
    """Stamp every following log record with this run id."""
    global _run_id
    _run_id = run_id


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id  # an extra field, as logging allows
        return True


class _RedactingFormatter(logging.Formatter):
    # A second net behind the transport's redaction: no configured secret is ever written to the log.
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact


class _TextFormatter(_RedactingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        run_id = getattr(record, "run_id", None)
        run = f" run={run_id}" if run_id else ""
        text = f"{record.levelname.lower()}:{run} {record.getMessage()}"
        if record.exc_info and record.levelno <= logging.DEBUG:
            text += "\n" + self.formatException(record.exc_info)
        return self.redact(text)


class _JsonFormatter(_RedactingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "message": self.redact(record.getMessage()),
        }
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Send lms_sync's log records to stderr in the chosen format, ``secrets`` masked (idempotent)."""
    root = logging.getLogger("lms_sync")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    redact = Redactor(secrets)
    handler.setFormatter(_JsonFormatter(redact) if fmt == "json" else _TextFormatter(redact))
    handler.addFilter(_RunIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = True  # harmless: the root logger has no handler outside tests
