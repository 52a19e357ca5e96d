"""Every programme lms_sync runs: ``config/programs/*.toml`` (one file each), or the one ``config/program.toml``.

Each programme is its own Moodle course and its own sessions; they share the state store, the feed
and the reports. All files are checked at once and every problem is reported with its file, so one
broken programme is found together with the others' problems (and ids that clash across files).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, Problem
from ..settings import Settings
from .loader import load_programme
from .models import Programme


@dataclass(frozen=True)
class CatalogEntry:
    """One programme and where it came from."""

    programme: Programme
    file: Path
    roster_file: Path | None  # its participants CSV, if it has one

    @property
    def id(self) -> str:
        """The programme id."""
        return self.programme.id


@dataclass(frozen=True)
class Catalog:
    """The programmes, in file-name order; ``folder`` is None for the single-file layout."""

    entries: tuple[CatalogEntry, ...]
    folder: Path | None = None

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> list[str]:
        """The programme ids."""
        return [e.id for e in self.entries]

    @property
    def files(self) -> list[Path]:
        """Every file the programmes are read from (programmes and rosters)."""
        return [f for e in self.entries for f in (e.file, e.roster_file) if f is not None]

    def get(self, programme_id: str) -> CatalogEntry | None:
        """The programme with this id, if any."""
        return next((e for e in self.entries if e.id == programme_id), None)

    def only(self, programme_id: str | None) -> Catalog:
        """The catalog narrowed to one programme (``--program ID``); the whole catalog for None."""
        if programme_id is None:
            return self
        entry = self.get(programme_id)
        if entry is None:
            known = ", ".join(self.ids) or "none"
            raise ConfigError(f"no programme with id {programme_id!r} (programmes: {known})",
                              hint="give one of these ids with --program, or a programme file's path")
        return Catalog((entry,), self.folder)

    def with_roster(self, roster: Path) -> Catalog:
        """The one programme with this roster instead of its own (``--roster``, ``roster_file``)."""
        if len(self.entries) != 1:
            raise ConfigError(
                f"one roster ({roster}) for {len(self.entries)} programmes",
                hint="name each programme's roster in its file ([program] roster = \"...\", relative to it), "
                "or narrow to one programme with --program ID",
            )
        (entry,) = self.entries
        return Catalog((CatalogEntry(entry.programme, entry.file, roster),), self.folder)


def programme_files(folder: Path) -> list[Path]:
    """The programme files of a folder, by name (hidden files and editor backups left out)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith((".", "#")) and p.is_file())


def load_catalog(files: Sequence[Path], *, folder: Path | None = None) -> tuple[Catalog, list[Problem]]:
    """Load and check every programme file; return them with their warnings, or raise ConfigError with all problems."""
    problems: list[Problem] = []
    entries: list[CatalogEntry] = []
    hints: list[str] = []
    for path in files:
        try:
            programme, warnings = load_programme(path)
        except ConfigError as err:
            problems.extend(err.problems)
            hints += [err.hint] if err.hint else []
            continue
        problems.extend(warnings)
        roster = Path(path.parent, programme.roster) if programme.roster else None
        entries.append(CatalogEntry(programme, path, roster))
    _check_unique(entries, problems)
    if any(p.severity == "error" for p in problems):
        where = f"the files in {folder}" if folder is not None else "the programme file"
        # A single programme keeps the loader's own hint: it says how to get a missing file.
        hint = hints[0] if len(files) == 1 and hints else f"fix {where} and run `lms-sync validate` again"
        raise ConfigError(problems, hint=hint)
    return Catalog(tuple(entries), folder), problems


def _check_unique(entries: list[CatalogEntry], problems: list[Problem]) -> None:
    """Ids, course short names and event UIDs must not clash across programmes (Moodle and calendars key on them)."""
    seen_ids: dict[str, Path] = {}
    seen_shortnames: dict[str, Path] = {}
    seen_uids: dict[str, Path] = {}
    for entry in entries:
        file = str(entry.file)
        programme = entry.programme
        if programme.id in seen_ids:
            problems.append(Problem(file, "program.id", (
                f"programme id {programme.id!r} is also the id in {seen_ids[programme.id]}; each programme needs "
                "its own id (it is its Moodle course's ID number and the start of its calendar UIDs)")))
            continue
        seen_ids[programme.id] = entry.file
        shortname = programme.course.shortname
        if shortname is not None:
            if shortname in seen_shortnames:
                problems.append(Problem(file, "course.shortname", (
                    f"course short name {shortname!r} is also used in {seen_shortnames[shortname]}; Moodle needs "
                    "a short name per course: give this programme's course its own")))
            seen_shortnames[shortname] = entry.file
        for session in programme.sessions:
            # "<programme>-<session>": "a-b" + "c" and "a" + "b-c" would make the same calendar event.
            uid = f"{programme.id}-{session.id}"
            if uid in seen_uids and seen_uids[uid] != entry.file:
                problems.append(Problem(file, "sessions", (
                    f"session {session.id!r} would have the calendar UID of a session in {seen_uids[uid]} "
                    f"({uid}@...); rename the session id")))
            seen_uids[uid] = entry.file


def configured_files(settings: Settings, *, single_file: bool = False) -> tuple[list[Path], Path | None]:
    """The programme files the settings point at, and their folder (None: the single-file layout).

    The folder of programmes (``programs_dir``) is used when it holds any, unless one file was named
    on the command line (``--program PATH``: ``single_file``); else ``program_file``.
    """
    if not single_file:
        files = programme_files(settings.programs_dir)
        if files:
            return files, settings.programs_dir
    return [settings.program_file], None


def catalog_for(settings: Settings, *, single_file: bool = False) -> tuple[Catalog, list[Problem]]:
    """Every programme of this configuration, with the warnings of their files; ConfigError lists every problem."""
    files, folder = configured_files(settings, single_file=single_file)
    catalog, warnings = load_catalog(files, folder=folder)
    if folder is not None and settings.program_file.is_file():
        warnings.append(Problem(str(settings.program_file), "", (
            f"ignored: the programmes are the files in {folder}; move this one there (as <id>.toml) or "
            "remove it"), "warning"))
    return catalog, warnings


def files_stamp(settings: Settings) -> tuple[tuple[str, int, int, int], ...]:
    """What changes when a programme file is edited, added or removed (for servers that reload them)."""
    files, _ = configured_files(settings)
    stamps = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        stamps.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)
