"""``lms-sync sync``: the nightly run (push, pull, feed) in one command."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..context import Context
from ..daily import run_daily
from .base import SubParsers, add_command

ORDER = 35


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``sync``."""
    add_command(
        sub, parent, "sync",
        summary="the daily run: push, then pull, then write the feed",
        description="Push the programme into Moodle, pull participants and completion into a new "
        "snapshot, and write the calendar feed (feed.out_path), as one run recorded in the state "
        "store with each stage's outcome, timing and counts (see `lms-sync runs`). Progress, errors and a "
        "closing one-line summary go to the log on stderr, every line with the run id. A stage that "
        "fails does not stop the others: the feed is written even when Moodle is down. With several "
        "programmes (config/programs/), each live one gets its own push and pull stages, so one "
        "failing does not stop the others; --program ID runs one, and runs of different programmes "
        "can go side by side. Only one run at a time per programme: a second one exits at once "
        "with code 4. Meant for cron or "
        "a systemd timer (see deploy/ and the README). The exit code is the worst stage's (listed "
        "below); cron and the systemd unit treat 4 (the previous run still going) as no failure.",
        examples="  lms-sync sync\n  lms-sync sync --log-format json      # for a log collector\n"
        "  lms-sync --roster config/roster.csv sync",
        handler=cmd_sync,
    )


def cmd_sync(ctx: Context, args: argparse.Namespace) -> int:
    """Run the stages; everything is reported through the log, ending with the one-line summary."""
    settings = ctx.settings
    ctx.check_output(Path(settings.feed.out_path))
    # Bad input stops here, before anything is locked or written.
    work = [(e.programme, ctx.roster_of(e)) for e in ctx.selected]
    every = [e.programme for e in ctx.catalog]
    return run_daily(settings, work, every, lambda: ctx.store, ctx.moodle_client,
                     programme_id=ctx.program_id).exit_code
