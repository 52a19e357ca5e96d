"""Every exception lms_sync raises on purpose, and the exit code each one maps to.

    LmsSyncError                      base; ``exit_code`` and ``hint`` (what the user should do)
    ├── ConfigError                   exit 2: bad programme, roster or settings; holds every Problem
    ├── StateError                    exit 2: state store unusable (newer schema, corrupt file)
    ├── OutputError                   exit 2: an output file (feed, report) cannot be written
    ├── LockHeld                      exit 4: another run holds the lock
    └── MoodleError                   exit 1 unless a subclass says otherwise; wsfunction, errorcode
        ├── MoodleUnavailable         exit 3: the site cannot be used at all
        │   ├── TransientError            connection error, timeout, 5xx, 429, maintenance mode
        │   ├── InvalidToken              token unknown, expired or dropped (max_input_vars)
        │   ├── WebServicesDisabled       empty HTTP 403: web services or REST protocol off
        │   └── NotMoodleEndpoint         HTML/XML/other body: wrong URL
        ├── AccessDenied              function not in the service, or missing capability
        ├── InvalidParameter          Moodle rejected a parameter (the reason is only in debuginfo)
        ├── NotFound                  record does not exist
        ├── AlreadyExists             shortnametaken, courseidnumbertaken, categoryidnumbertaken...
        └── MoodleRemoteError         any other Moodle exception

Messages never contain the Moodle token nor Moodle's ``debuginfo`` (it can hold SQL and paths).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
EXIT_LOCKED = 4
EXIT_INTERNAL = 70  # a bug: sysexits' EX_SOFTWARE
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it

# What each exit code means and what to do; --help, the README and the cron/systemd files say the same.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_PARTIAL: "partly done: some actions or participants failed, a plan was refused, or something "
                  "Moodle-side is missing; the output names each, fix and run again (what was done is kept)",
    EXIT_CONFIG: "bad configuration or input: programme, roster, settings, an output path, the state "
                 "store or its disk; the message names the file or key and what to do",
    EXIT_UNAVAILABLE: "Moodle cannot be used: unreachable, too slow (moodle.deadline), not Moodle, web "
                      "services off, token refused, TLS refused; run `lms-sync check`",
    EXIT_LOCKED: "another run holds the lock on this state store; a scheduled run can simply be skipped",
    EXIT_INTERNAL: "a bug in lms_sync: run the command again with --debug for the traceback and report it, "
                   "with the output of `lms-sync -v COMMAND`; your data is safe (writes are transactions)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGINT); the next run resumes",
}


def exit_codes_help(indent: str = "  ", width: int = 96) -> str:
    """The exit codes as help text, wrapped under their number."""
    lead = f"{indent}{'':<4}"
    return "\n".join(
        textwrap.fill(meaning, width, initial_indent=f"{indent}{code:<4}", subsequent_indent=lead,
                      break_on_hyphens=False)
        for code, meaning in EXIT_CODES.items()
    )


class LmsSyncError(Exception):
    """Base of all expected errors; the CLI prints ``str(err)`` and ``hint`` and exits with ``exit_code``."""

    exit_code: int = EXIT_PARTIAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file: where it is and what to do about it."""

    file: str
    location: str  # key path like ``sessions[2].end``, or ``line 7``
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.location) if part)
        return f"{where}: {self.severity}: {self.message}" if where else f"{self.severity}: {self.message}"


class ConfigError(LmsSyncError):
    """The programme, roster or settings are invalid; ``problems`` lists every one found."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="", location="", message=problems)]
        self.problems = problems
        if len(problems) == 1 and not problems[0].file and not problems[0].location:
            super().__init__(problems[0].message, hint=hint)
            return
        errors = sum(1 for p in problems if p.severity == "error")
        warnings = len(problems) - errors
        # The count matches the lines below it: errors and warnings are counted apart.
        head = f"{errors} problem{'s' if errors != 1 else ''}"
        if warnings:
            head += f" and {warnings} warning{'s' if warnings != 1 else ''}"
        head += " found"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in problems), hint=hint)


class StateError(LmsSyncError):
    """The state store cannot be opened or migrated."""

    exit_code = EXIT_CONFIG


class OutputError(LmsSyncError):
    """An output file cannot be written where the user asked."""

    exit_code = EXIT_CONFIG


class LockHeld(LmsSyncError):
    """Another lms_sync run holds the lock on this state store."""

    exit_code = EXIT_LOCKED


class MoodleError(LmsSyncError):
    """An error reported by (or on the way to) Moodle, typed where it entered."""

    def __init__(
        self,
        message: str,
        *,
        wsfunction: str | None = None,
        errorcode: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.wsfunction = wsfunction
        self.errorcode = errorcode
        prefix = f"{wsfunction}: " if wsfunction else ""
        suffix = f" [{errorcode}]" if errorcode else ""
        super().__init__(f"{prefix}{message}{suffix}", hint=hint)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class MoodleUnavailable(MoodleError):
    """Moodle cannot be used at all for this run: unreachable, token refused, service off, wrong URL."""

    exit_code = EXIT_UNAVAILABLE


class TransientError(MoodleUnavailable):
    """A fault that may pass: connection error, timeout, HTTP 5xx or 429, maintenance mode."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InvalidToken(MoodleUnavailable):
    """Moodle refused the token."""


class WebServicesDisabled(MoodleUnavailable):
    """Moodle answered an empty HTTP 403: web services or the REST protocol are disabled."""


class NotMoodleEndpoint(MoodleUnavailable):
    """The URL answered something that is not Moodle's JSON web-service API."""


class AccessDenied(MoodleError):
    """The function is not in the token's service, or the account lacks a capability."""

    def __init__(self, message: str, *, capability: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.capability = capability


class InvalidParameter(MoodleError):
    """Moodle rejected a parameter."""


class NotFound(MoodleError):
    """The record does not exist in Moodle."""


class AlreadyExists(MoodleError):
    """A unique key (shortname, idnumber, username, email) is already taken in Moodle."""


class MoodleRemoteError(MoodleError):
    """Any other exception Moodle reported."""
