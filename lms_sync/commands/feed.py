"""``lms-sync feed``: write the participants' iCalendar feed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..context import Context
from ..errors import EXIT_INTERNAL, EXIT_OK, LmsSyncError
from ..files import write_atomic, write_stdout
from ..lock import run_lock
from ..publish import ALL, FeedResult, publish_feed, write_feed_files
from .base import SubParsers, add_command

ORDER = 20


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``feed``."""
    parser = add_command(
        sub, parent, "feed",
        summary="write the sessions' iCalendar feed",
        description="Write the sessions as an iCalendar feed (RFC 5545/7986) that Google Calendar, "
        "Outlook, Apple Calendar and Thunderbird can subscribe to: the feed of every programme to "
        "feed.out_path and, when there are several, each programme's own feed beside it "
        "(programs/<id>/sessions.ics, the paths `lms-sync serve` answers). With --out, one feed: "
        "every programme's, or the one --program names. Files are replaced atomically, and left "
        "untouched when nothing changed. A moved or cancelled session gets a higher SEQUENCE; a "
        "session removed from a live programme stays in the feed as cancelled. A programme archived "
        "(status = \"archived\") or whose file was removed keeps its held sessions exactly as they "
        "were; only its sessions still to come are cancelled.",
        examples="  lms-sync feed\n  lms-sync feed --out public/sessions.ics\n"
        "  lms-sync --program dgidt-ia-2021 feed --out - --lang en",
        handler=cmd_feed,
    )
    parser.add_argument("--out", metavar="PATH", help="write one feed there, - for standard output "
                        "(default: feed.out_path, var/sessions.ics, and each programme's beside it)")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of fixed words (default: fr)")


def cmd_feed(ctx: Context, args: argparse.Namespace) -> int:
    """Reconcile every programme's feed entries, write the feed file(s), and record the run."""
    out = args.out
    if out is not None and out != "-":
        ctx.check_output(Path(out))
    elif out is None:
        ctx.check_output(Path(ctx.settings.feed.out_path))
    programmes = [e.programme for e in ctx.catalog]  # all of them: one left out would look removed
    scope = ctx.selected.entries[0].id if ctx.program_id else ALL
    with run_lock(ctx.settings.state_path):
        store = ctx.store
        run_id = store.start_run("feed", programme_id=ctx.program_id)
        try:
            if out is None:
                files = write_feed_files(programmes, store, ctx.settings.feed, lang=args.lang)
                lines = [(str(f.path), "written" if f.written else "unchanged", f.result) for f in files]
            else:
                result = publish_feed(programmes, store, ctx.settings.feed, scope=scope, lang=args.lang)
                if out == "-":
                    write_stdout(result.data)
                    lines = [("-", "stdout", result)]
                else:
                    lines = [(out, "written" if write_atomic(Path(out), result.data) else "unchanged", result)]
        except LmsSyncError as err:
            store.finish_run(run_id, "failed", err.exit_code, {"error": type(err).__name__})
            raise
        except BaseException:
            store.finish_run(run_id, "failed", EXIT_INTERNAL, {"error": "internal"})
            raise
        first = lines[0][2]
        store.finish_run(run_id, "ok", EXIT_OK, {"events": first.events, "changed": len(first.changed),
                                                 "file": lines[0][1], "files": len(lines), "lang": args.lang})
    for path, state, result in lines:
        if path != "-":
            print(f"{path}: {state} ({result.events} event(s), {len(result.changed)} changed since last publication)")
    _say_gone(ctx, first)
    return EXIT_OK


def _say_gone(ctx: Context, result: FeedResult) -> None:
    """A programme whose file disappeared is noticed: if that was a mistake, restoring the file undoes it."""
    for pid in result.gone:
        ctx.report_line(f"note: programme {pid!r} has no file any more: its held sessions stay in the feed as they "
                        "were, those to come are cancelled (restore its file to undo, or archive it with "
                        "status = \"archived\")")
