"""``lms-sync validate`` and ``lms-sync config``: check and show what lms_sync will work with."""

from __future__ import annotations

import argparse
import json
import sys

from ..context import Context
from ..errors import EXIT_OK, ConfigError, Problem
from ..moodle.functions import Feature, capabilities_for, functions_for
from ..program import has_cohorts
from ..settings import masked_settings
from .base import SubParsers, add_command
from .check import configured_features

ORDER = 10
_ALWAYS = {Feature.SITE, Feature.PUSH, Feature.PULL, Feature.ROSTER}


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``validate`` and ``config``."""
    add_command(
        sub, parent, "validate",
        summary="check the programme, roster and settings",
        description="Load the programme, the roster (when configured) and the settings, and list every "
        "problem found, each with its file, key path or line, and what to do. Writes nothing.",
        examples="  lms-sync validate\n  lms-sync --roster config/roster.csv validate",
        handler=cmd_validate,
    )
    config = add_command(
        sub, parent, "config",
        summary="print the effective settings, secrets masked",
        description="Print the settings lms_sync would use, after the settings file, .env and LMS_SYNC_* "
        "environment variables are applied. Tokens are shown as **********.",
        examples="  lms-sync config\n  LMS_SYNC_MOODLE__URL=https://formation.ena.tn lms-sync config --json",
        handler=cmd_config,
    )
    config.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")


def cmd_validate(ctx: Context, args: argparse.Namespace) -> int:
    """Check every input, collecting the problems of all files before failing."""
    try:
        settings = ctx.settings
    except ConfigError as err:
        # A problem with no file (the current folder, say) keeps its own hint: it says what to do.
        hint = err.hint if err.hint and not any(p.file for p in err.problems) else None
        raise ConfigError(err.problems, hint=hint or "fix the settings named above and run `lms-sync validate` "
                          "again") from None
    problems: list[Problem] = []
    checked: list[str] = []
    entries = []
    try:
        entries = list(ctx.selected)
    except ConfigError as err:
        problems.extend(err.problems)
    for entry in entries:
        archived = " (archived)" if entry.programme.archived else ""
        checked.append(f"programme {entry.file}: {len(entry.programme.sessions)} session(s){archived}")
        try:
            roster = ctx.roster_of(entry)
            if roster is not None:
                checked.append(f"roster {entry.roster_file}: {len(roster)} participant(s)")
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        raise ConfigError(problems, hint="fix the files named above and run `lms-sync validate` again")
    for line in checked:
        print(f"ok: {line}")
    features = configured_features([e.programme for e in entries], settings,
                                   cohorts=any(has_cohorts(ctx.roster_of(e)) for e in entries))
    extra = [f.value for f in Feature if f in features and f not in _ALWAYS]
    needs = f" (with {', '.join(extra)})" if extra else ""
    print(f"note: Moodle needs {len(functions_for(features))} web service functions and "
          f"{len(capabilities_for(features))} capabilities for this configuration{needs}; "
          "`lms-sync check` verifies them on the site")
    if settings.moodle.url is None or settings.moodle.token is None:
        print("note: no Moodle URL or token configured; push and pull need LMS_SYNC_MOODLE__URL and a token")
    return EXIT_OK


def cmd_config(ctx: Context, args: argparse.Namespace) -> int:
    """Print the effective settings with secrets masked."""
    data = masked_settings(ctx.settings)
    if args.json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"\n[{key}]")
            for sub_key, sub_value in value.items():
                print(f"{sub_key} = {json.dumps(sub_value, ensure_ascii=False)}")
        else:
            print(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return EXIT_OK

