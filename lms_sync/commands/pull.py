"""``lms-sync pull``: read participants and completion from Moodle into a new snapshot."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..context import Context
from ..errors import EXIT_OK
from ..lock import programme_scope, run_lock
from ..program import has_cohorts
from ..program.catalog import CatalogEntry
from ..log import set_run_id
from ..pull import pull_completion
from .base import SubParsers, add_command

ORDER = 50


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``pull``."""
    parser = add_command(
        sub, parent, "pull",
        summary="pull participants and completion from Moodle into a snapshot",
        description="Read the programme's Moodle course: its participants (name, email, institution, "
        "department, cohort when the roster has a cohort column), course completion and, for sessions naming an activity in the programme "
        "(activity = course-module id or idnumber), attendance through activity completion. Each run "
        "records one snapshot in the state store; `lms-sync report completion` turns it into reports. "
        "With moodle.completion_report_id set, a Report builder custom report lists everyone in a "
        "few calls (it must be limited to the course's ID number, or it is refused) and per-participant "
        "calls are made only for what the last snapshot lacks. A "
        "participant whose calls fail is recorded as failed and the run exits 1. With several "
        "programmes, each live one is pulled in turn (an archived one only when --program names it).",
        examples="  lms-sync pull\n"
        "  LMS_SYNC_MOODLE__COMPLETION_REPORT_ID=1 lms-sync pull\n"
        "  lms-sync pull --per-participant      # ignore the Report builder report this time",
        handler=cmd_pull,
    )
    parser.add_argument("--per-participant", action="store_true",
                        help="read every participant one by one even when a Report builder report is configured")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        """Redraw when the shown percentage changes."""
        percent = 100 if total == 0 else done * 100 // total
        if percent == self.shown and done != total:
            return
        self.shown = percent
        filled = self.width * percent // 100
        self.stream.write(f"\rpull [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def cmd_pull(ctx: Context, args: argparse.Namespace) -> int:
    """Pull each selected programme in turn (archived ones only when named); the exit code is the worst one's."""
    entries = [e for e in ctx.selected if ctx.program_id or not e.programme.archived]
    worst = EXIT_OK
    for entry in entries:
        worst = max(worst, _pull_one(ctx, args, entry))
    return worst


def _pull_one(ctx: Context, args: argparse.Namespace, entry: CatalogEntry) -> int:
    """Run one pull and print its one-line summary."""
    settings = ctx.settings
    if args.per_participant:
        settings = settings.model_copy(
            update={"moodle": settings.moodle.model_copy(update={"completion_report_id": None})}
        )
    programme = entry.programme
    store = ctx.store
    progress = None if args.no_progress or not sys.stderr.isatty() else ProgressBar(sys.stderr)
    cohorts = has_cohorts(ctx.roster_of(entry))  # the roster's cohort column: read the course groups too
    with run_lock(settings.state_path, programme_scope(entry.id)), ctx.moodle_client() as client:
        result = pull_completion(client, store, programme, settings, progress=progress, cohorts=cohorts)
    set_run_id(result.run_id)
    print(result.summary())
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for hint in result.hints:
        print(f"hint: {hint}", file=sys.stderr)
    if not result.complete:
        print(
            "hint: failed participants are marked in the snapshot and its reports; run `lms-sync pull` again "
            "once Moodle answers (see `lms-sync -v pull` for each error)",
            file=sys.stderr,
        )
    return result.exit_code
