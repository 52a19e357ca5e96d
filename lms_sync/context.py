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

from .errors import ConfigError, Problem
from .files import refuse_inputs
from .lock import lock_path, programme_scope
from .log import setup_logging
from .moodle.client import MoodleClient
from .program import Participant, Programme, load_roster
from .program.catalog import Catalog, CatalogEntry, catalog_for, configured_files
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
            program_file=self._program_path,
            roster_file=getattr(args, "roster", None),
            state_path=getattr(args, "state", None),
        )
        level = "DEBUG" if getattr(args, "verbose", False) else settings.log.level
        setup_logging(level, getattr(args, "log_format", None) or settings.log.format, secrets_of(settings))
        # A misspelt variable would be silently ignored: the run would use a default the admin did not mean.
        self.report(unknown_variables(os.environ))
        return settings

    @property
    def _program_path(self) -> str | None:
        """``--program`` when it names a file (``--program other/program.toml``)."""
        value = getattr(self.args, "program", None)
        return value if value is not None and _looks_like_a_path(value) else None

    @property
    def program_id(self) -> str | None:
        """``--program`` when it names a programme by id (``--program dgidt-ia-2021``)."""
        value = getattr(self.args, "program", None)
        return value if value is not None and not _looks_like_a_path(value) else None

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
        files = input_files(self.settings, self.settings_file)
        files.update({f"programme folder file {p.name}": p for p in self._folder_files()})
        state = Path(self.settings.state_path)
        scopes = ["feed", "sync", *(programme_scope(pid) for pid in self._known_ids())]
        files.update({f"run lock ({scope})": lock_path(state, scope) for scope in scopes})
        refuse_inputs(out, files)

    def _folder_files(self) -> list[Path]:
        files, folder = configured_files(self.settings, single_file=self._program_path is not None)
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder is not None else []

    def _known_ids(self) -> list[str]:
        try:
            return self.catalog.ids
        except ConfigError:
            return []

    @cached_property
    def catalog(self) -> Catalog:
        """Every programme, validated together; warnings are printed, errors raise ConfigError."""
        catalog, warnings = catalog_for(self.settings, single_file=self._program_path is not None)
        self.report(warnings)
        return catalog

    @cached_property
    def selected(self) -> Catalog:
        """The programmes this command acts on: all, or the one ``--program ID`` names (with ``--roster``'s roster)."""
        catalog = self.catalog.only(self.program_id)
        if self.settings.roster_file is not None:
            catalog = catalog.with_roster(Path(self.settings.roster_file))
        return catalog

    @property
    def entry(self) -> CatalogEntry:
        """The one programme a single-programme command acts on."""
        if len(self.selected) != 1:
            raise ConfigError(
                f"{len(self.selected)} programmes ({', '.join(self.selected.ids)}): this command acts on one",
                hint="name it with --program ID",
            )
        return self.selected.entries[0]

    @property
    def programme(self) -> Programme:
        """The one programme (see ``entry``)."""
        return self.entry.programme

    @property
    def roster(self) -> list[Participant] | None:
        """The one programme's roster (see ``entry``), or None when it has none."""
        return self.roster_of(self.entry)

    def roster_of(self, entry: CatalogEntry) -> list[Participant] | None:
        """A programme's validated roster (warnings printed once), or None when it has none."""
        if entry.roster_file is None:
            return None
        cache = self.__dict__.setdefault("_rosters", {})
        if entry.roster_file not in cache:
            participants, warnings = load_roster(entry.roster_file)
            self.report(warnings)
            cache[entry.roster_file] = participants
        return cache[entry.roster_file]  # type: ignore[no-any-return]

    @property
    def store(self) -> Store:
        """The state store, opened (and migrated) on first use."""
        if self._store is None:
            self._store = Store(self.settings.state_path)
        return self._store

    def moodle_client(self) -> MoodleClient:
        """A client for the configured Moodle site; the caller closes it (``with``)."""
        return MoodleClient(self.settings.moodle, sleep=type(self).sleep)

    def report_line(self, text: str) -> None:
        """Print a note for the admin on the error stream."""
        print(text, file=self.err)

    def report(self, problems: list[Problem]) -> None:
        """Print warnings about the input files."""
        for problem in problems:
            print(problem, file=self.err)

    def close(self) -> None:
        """Release the store."""
        if self._store is not None:
            self._store.close()
            self._store = None


def _looks_like_a_path(value: str) -> bool:
    """Programme ids are slugs: a value with a slash, a .toml suffix or naming a file is a path."""
    return "/" in value or value.endswith(".toml") or Path(value).is_file()
