"""``lms-sync push``: make Moodle match the programme (and roster), or show what that would do."""

from __future__ import annotations

import argparse
import sys

from ..context import Context
from ..errors import EXIT_OK, EXIT_PARTIAL, LmsSyncError
from ..lock import programme_scope, run_lock
from ..program import Participant
from ..program.catalog import CatalogEntry
from ..moodle.check import what_to_do
from ..sync import desired_state, push
from ..store import utcnow
from ..sync.render import render_action, render_plan
from ..sync.retire import plan_retirement, removed_programmes, retire
from .base import SubParsers, add_command
from .check import render_findings, render_todo

ORDER = 40


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``push``."""
    parser = add_command(
        sub, parent, "push",
        summary="create or update the Moodle course, its calendar events and participants",
        description="Make the Moodle site match the programme: the course category and course "
        "(idnumber = programme id), one course event per session, and with a roster the users and "
        "their manual enrolment. Only what differs is written; a second push right after changes "
        "nothing. Events edited or deleted by hand in Moodle are restored. A session removed from "
        "the programme has its event deleted; a participant removed from the roster has the "
        "enrolment suspended. With a cohort column in the roster (cohort, groupe, cohorte) each cohort "
        "is a course group (idnumber lms-sync-cohort:<key>) holding its participants; hand-made groups "
        "are never touched. A plan deleting every event, every participant, every participant's cohort or more than "
        "push.max_deletes objects is refused unless --force-delete is given. New accounts get no "
        "password from lms_sync (Moodle generates and mails one); existing passwords are never touched. "
        "Exit codes as listed below; with --dry-run: 0 when "
        "the plan may run, 1 when push would refuse it (so a script can check a plan first). Before its "
        "first write, push probes (without writing) that the sync account has each capability its plan "
        "needs, as `lms-sync check` does, and stops with what to add if one is missing (exit 1). "
        "With several programmes (config/programs/), each is pushed to its own course in turn (or the "
        "one --program names); an archived programme (status = \"archived\") is never touched.",
        examples="  lms-sync push --dry-run              show the plan, write nothing (exit 1: it would be refused)\n"
        "  lms-sync push\n"
        "  lms-sync --roster config/roster.csv push\n"
        "  lms-sync --program dgidt-ia-2021 push --dry-run\n"
        "  lms-sync push --force-delete         after removing sessions on purpose",
        handler=cmd_push,
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan and make no write call; exit 1 if push would refuse the plan")
    parser.add_argument("--force-delete", action="store_true",
                        help="allow a plan that deletes many objects or every session's event")
    parser.add_argument("--force-attendance", action="store_true",
                        help="allow moving, cancelling or removing Attendance sessions already taken: their "
                        "statuses (who was present) are deleted with them")


def cmd_push(ctx: Context, args: argparse.Namespace) -> int:
    """Push each selected live programme in turn; the exit code is the worst one's."""
    entries = list(ctx.selected)
    rosters = [ctx.roster_of(e) for e in entries]  # every file checked before anything is locked or written
    several = len(entries) > 1
    worst = EXIT_OK
    for entry, roster in zip(entries, rosters, strict=True):
        if several:
            print(f"== programme {entry.id}")
        if entry.programme.archived:
            print(f"{entry.id}: archived, left alone")
            continue
        worst = max(worst, _push_one(ctx, args, entry, roster))
    if ctx.program_id is None:
        worst = max(worst, _retire_removed(ctx, args))
    return worst


def _retire_removed(ctx: Context, args: argparse.Namespace) -> int:
    """Programmes whose file is gone: their sessions to come leave Moodle, with --force-delete only."""
    worst = EXIT_OK
    removed = removed_programmes(ctx.store, ctx.catalog.ids)
    for pid in removed:
        with run_lock(ctx.settings.state_path, programme_scope(pid)), ctx.moodle_client() as client:
            retirement = plan_retirement(client, ctx.store, pid, utcnow())
            if not retirement.actions:
                continue
            print(f"== programme {pid} (its file was removed)")
            print(render_plan(retirement.actions, dry_run=args.dry_run), end="")
            refusal = retirement.refusal
            if refusal is not None and not args.force_delete:
                verb = "would be refused" if args.dry_run else "refused"
                print(f"error: push {verb}: {refusal}", file=sys.stderr)
                print(f"hint: {refusal.hint}", file=sys.stderr)
                worst = EXIT_PARTIAL
                continue
            if not args.dry_run:
                run_id = ctx.store.start_run("push", programme_id=pid)
                try:
                    done = retire(client, ctx.store, retirement, run_id)
                except LmsSyncError as err:  # what was deleted is journaled; the next push goes on
                    ctx.store.finish_run(run_id, "failed", err.exit_code, {"error": type(err).__name__})
                    raise
                ctx.store.finish_run(run_id, "ok", EXIT_OK, {"retired": done})
                print(f"push: {done} done, 0 failed, 0 skipped")
    return worst


def _push_one(ctx: Context, args: argparse.Namespace, entry: CatalogEntry,
              roster: list[Participant] | None) -> int:
    """Plan, check the guard, apply (unless --dry-run) and print the plan and a summary, for one programme."""
    settings = ctx.settings
    desired = desired_state(entry.programme, roster, settings.push)
    with run_lock(settings.state_path, programme_scope(entry.id)), ctx.moodle_client() as client:
        outcome = push(
            client, ctx.store, desired,
            dry_run=args.dry_run, force_delete=args.force_delete, force_attendance=args.force_attendance,
            max_deletes=settings.push.max_deletes,
        )
    print(render_plan(outcome.actions, dry_run=args.dry_run), end="")
    if outcome.in_doubt and args.dry_run:
        # The plan above already reflects what Moodle holds; only a real push closes the journal rows.
        print(f"note: {outcome.in_doubt} write(s) interrupted in an earlier run were looked up in Moodle for "
              "this plan; they would be resolved by `lms-sync push`", file=sys.stderr)
    elif outcome.in_doubt:
        print(f"note: {outcome.in_doubt} write(s) interrupted in an earlier run were checked in Moodle and "
              "resolved", file=sys.stderr)
    if outcome.refusal:
        verb = "would be refused" if args.dry_run else "refused"
        print(f"error: push {verb}: {outcome.refusal}", file=sys.stderr)
        print(f"hint: {outcome.refusal.hint}", file=sys.stderr)
        return outcome.exit_code
    if outcome.missing:
        verb = "would stop" if args.dry_run else "stopped"
        print(f"error: push {verb} before writing anything: the sync account may not do all this plan needs",
              file=sys.stderr)
        render_findings(outcome.missing, sys.stderr)
        render_todo(what_to_do(outcome.missing), sys.stderr)
        print("hint: then run `lms-sync check`, and `lms-sync push` again", file=sys.stderr)
        return outcome.exit_code
    result = outcome.result
    if result is None:  # dry run
        return outcome.exit_code
    print(f"push: {len(result.done)} done, {len(result.failed)} failed, {len(result.skipped)} skipped")
    for action, why in result.failed:
        print("failed:" + render_action(action)[0][3:] + f" -- {why}", file=sys.stderr)
    for action, why in result.skipped:
        print("skipped:" + render_action(action)[0][3:] + f" -- {why}", file=sys.stderr)
    if result.fatal is not None:
        print(f"error: {result.fatal}", file=sys.stderr)
        if result.fatal.hint:
            print(f"hint: {result.fatal.hint}", file=sys.stderr)
    elif result.failed or result.skipped:
        print("hint: fix the causes above and run `lms-sync push` again; what was done is kept", file=sys.stderr)
    return outcome.exit_code
