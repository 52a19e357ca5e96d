"""``lms-sync check``: is the Moodle site ready for lms_sync?"""

from __future__ import annotations

import argparse
import sys

from ..context import Context
from ..moodle.check import CHECK_HELP, run_check
from .base import SubParsers, add_command

ORDER = 30


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``check``."""
    add_command(
        sub, parent, "check",
        summary="check that Moodle is reachable and the token can do what lms_sync needs",
        description="Check the Moodle site: reachability, token, site name and release, the web-service "
        "functions lms_sync needs, and whether the programme's course exists with completion enabled. "
        "Prints a table and what to do for each missing piece. Makes no change.\n\n" + CHECK_HELP,
        examples="  lms-sync check\n  lms-sync --settings /etc/lms-sync/settings.toml check",
        handler=cmd_check,
    )


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    """Run the checks for the programme's course."""
    settings = ctx.settings
    try:
        course_idnumber: str | None = ctx.programme.id
    except Exception:  # a broken programme must not hide what is wrong with Moodle
        course_idnumber = None
    return run_check(settings, sys.stdout, course_idnumber)
