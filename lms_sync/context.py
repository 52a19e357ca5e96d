"""What a command works with: settings, programme, roster and store, each built once on first use."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TextIO

from .errors import Problem
from .log import setup_logging
from .moodle.client import MoodleClient
from .program import Participant, Programme, load_programme, load_roster
from .files import refuse_inputs
from .redact import Redactor
from .settings import DEFAULT_SETTINGS_FILE, Settings, input_files, load_settings, secrets_of, unknown_variables
from .store import Store


class Context:
    """Lazily built resources for one command invocation."""

    # How the Moodle client waits between retries; tests replace it so they never really sleep.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, args: argparse.Namespace, err: TextIO | None = None) -> None:
        self.args = args
        self.err = err or sys.stderr
        self._store: Store | None = None

    @cached_property
    def settings(self) -> Settings:
        """Settings from file, environment and the global options."""
        args = self.args
        settings_file = getattr(args, "settings", None)
        settings = load_settings(
            Path(settings_file) if settings_file else None,
            program_file=getattr(args, "program", None),
            roster_file=getattr(args, "roster", None),
            state_path=getattr(args, "state", None),
        )
        level = "DEBUG" if getattr(args, "verbose", False) else settings.log.level
        setup_logging(level, getattr(args, "log_format", None) or settings.log.format, secrets_of(settings))
        # A misspelt variable would be silently ignored: the run would use a default the admin did not mean.
        self.report(unknown_variables(os.environ))
        return settings

    @property
    def settings_file(self) -> Path | None:
        """The settings file in use: the one given with --settings, else config/settings.toml if present."""
        given = getattr(self.args, "settings", None)
        if given:
            return Path(given)
        return DEFAULT_SETTINGS_FILE if DEFAULT_SETTINGS_FILE.is_file() else None

    def redact(self, text: str) -> str:
        """``text`` with every configured secret masked (unchanged before the settings are loaded)."""
        settings = self.__dict__.get("settings")
        return Redactor(secrets_of(settings))(text) if settings is not None else text

    def check_output(self, out: Path) -> None:
        """Refuse (OutputError, exit 2) an output path that is one of the inputs or the state store."""
        refuse_inputs(out, input_files(self.settings, self.settings_file))

    @cached_property
    def programme(self) -> Programme:
        """The validated programme; warnings are printed, errors raise ConfigError."""
        programme, warnings = load_programme(self.settings.program_file)
        self.report(warnings)
        return programme

    @cached_property
    def roster(self) -> list[Participant] | None:
        """The validated roster, or None when no roster file is configured."""
        if self.settings.roster_file is None:
            return None
        participants, warnings = load_roster(self.settings.roster_file)
        self.report(warnings)
        return participants

    @property
    def store(self) -> Store:
        """The state store, opened (and migrated) on first use."""
        if self._store is None:
            self._store = Store(self.settings.state_path)
        return self._store

    def moodle_client(self) -> MoodleClient:
        """A client for the configured Moodle site; the caller closes it (``with``)."""
        return MoodleClient(self.settings.moodle, sleep=type(self).sleep)

    def report(self, problems: list[Problem]) -> None:
        """Print warnings about the input files."""
        for problem in problems:
            print(problem, file=self.err)

    def close(self) -> None:
        """Release the store."""
        if self._store is not None:
            self._store.close()
            self._store = None
