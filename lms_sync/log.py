"""Logging set-up: readable text on stderr by default, one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        run_id = getattr(record, "run_id", None)
        run = f" run={run_id}" if run_id else ""
        text = f"{record.levelname.lower()}:{run} {record.getMessage()}"
        if record.exc_info and record.levelno <= logging.DEBUG:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "message": record.getMessage(),
        }
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send lms_sync's log records to stderr in the chosen format (idempotent)."""
    root = logging.getLogger("lms_sync")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    handler.addFilter(_RunIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = True  # harmless: the root logger has no handler outside tests
