"""``lms-sync feed``: write the participants' iCalendar feed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..context import Context
from ..errors import EXIT_INTERNAL, EXIT_OK, LmsSyncError
from ..files import write_atomic, write_stdout
from ..lock import run_lock
from ..publish import publish_feed
from .base import SubParsers, add_command

ORDER = 20


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``feed``."""
    parser = add_command(
        sub, parent, "feed",
        summary="write the sessions' iCalendar feed",
        description="Write the programme's sessions as an iCalendar feed (RFC 5545/7986) that Google "
        "Calendar, Outlook, Apple Calendar and Thunderbird can subscribe to. The file is replaced "
        "atomically, and left untouched when nothing changed. A moved or cancelled session gets a "
        "higher SEQUENCE; a session removed from the programme stays in the feed as cancelled.",
        examples="  lms-sync feed --out public/sessions.ics\n  lms-sync feed --out - --lang en",
        handler=cmd_feed,
    )
    parser.add_argument("--out", metavar="PATH", help="where to write, - for standard output "
                        "(default: feed.out_path, var/sessions.ics)")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of fixed words (default: fr)")


def cmd_feed(ctx: Context, args: argparse.Namespace) -> int:
    """Reconcile the feed entries with the programme, write the calendar, and record the run."""
    out = args.out or str(ctx.settings.feed.out_path)
    if out != "-":
        ctx.check_output(Path(out))
    programme = ctx.programme  # validated before anything is locked or written
    with run_lock(ctx.settings.state_path):
        store = ctx.store
        run_id = store.start_run("feed")
        try:
            result = publish_feed(programme, store, ctx.settings.feed, lang=args.lang)
            if out == "-":
                write_stdout(result.data)
                state = "stdout"
            else:
                state = "written" if write_atomic(Path(out), result.data) else "unchanged"
        except LmsSyncError as err:
            store.finish_run(run_id, "failed", err.exit_code, {"error": type(err).__name__})
            raise
        except BaseException:
            store.finish_run(run_id, "failed", EXIT_INTERNAL, {"error": "internal"})
            raise
        store.finish_run(run_id, "ok", EXIT_OK, {"events": result.events, "changed": len(result.changed),
                                                 "file": state, "lang": args.lang})
    if out != "-":
        print(f"{out}: {state} ({result.events} event(s), {len(result.changed)} changed since last publication)")
    return EXIT_OK
