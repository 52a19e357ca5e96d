"""The ``lms-sync`` command line: parses options, builds the context, turns errors into exit codes.

Commands live in ``lms_sync.commands``; each module there adds its sub-commands with ``register``.
This is the one place that prints errors, so every command fails the same way: a message naming
what is wrong, a hint saying what to do, and an exit code from ``lms_sync.errors``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .commands import command_modules
from .context import Context
from .errors import EXIT_CONFIG, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, LmsSyncError, exit_codes_help

log = logging.getLogger(__name__)

DESCRIPTION = """\
Keep a Moodle site, a participants' calendar feed and completion reports in step with a
training programme described in config/program.toml (and optionally config/roster.csv)."""

EPILOG = """\
examples:
  lms-sync validate                      check config/program.toml and the settings
  lms-sync feed --out public/sessions.ics
  lms-sync --program dgidt-ia-2021 push   one programme of config/programs/
  lms-sync --program other/program.toml feed

exit codes:
{exit_codes}

Settings come from config/settings.toml, .env and LMS_SYNC_* environment variables
(for example LMS_SYNC_MOODLE__URL, LMS_SYNC_MOODLE__TOKEN_FILE); see `lms-sync config`.""".format(
    exit_codes=exit_codes_help()
)


def global_options() -> argparse.ArgumentParser:
    """Options accepted before or after the sub-command name."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options")
    # SUPPRESS keeps a value given before the sub-command from being reset by the sub-parser's default.
    group.add_argument("--program", metavar="ID|PATH", default=argparse.SUPPRESS,
                       help="act on one programme: its id (one of config/programs/*.toml), or a programme "
                       "file (default: every programme in config/programs/, else config/program.toml)")
    group.add_argument("--roster", metavar="PATH", default=argparse.SUPPRESS,
                       help="participants CSV (default: none)")
    group.add_argument("--state", metavar="PATH", default=argparse.SUPPRESS,
                       help="state store (default: var/lms_sync.sqlite3)")
    group.add_argument("--settings", metavar="PATH", default=argparse.SUPPRESS,
                       help="settings TOML file (default: config/settings.toml if present)")
    group.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS,
                       help="log as readable text (default) or one JSON object per line")
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="log debug details")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show a traceback on internal errors")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every registered sub-command."""
    parent = global_options()
    parser = argparse.ArgumentParser(
        prog="lms-sync",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parent],
    )
    parser.add_argument("--version", action="version", version=f"lms-sync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        module.register(sub, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lms-sync`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    ctx = Context(args)
    try:
        return int(args.handler(ctx, args))
    except LmsSyncError as err:
        # The transport already masks what Moodle echoes; this is the last net before the terminal.
        print(ctx.redact(f"error: {err}"), file=sys.stderr)
        if err.hint:
            print(ctx.redact(f"hint: {err.hint}"), file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # output piped into `head` or similar: not an error
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so briefly; the traceback only on request
        if debug:
            raise
        print(ctx.redact(f"internal error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        print("hint: run again with --debug for the traceback, and report it", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        ctx.close()


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())


__all__ = ["EXIT_CONFIG", "build_parser", "main", "run"]
