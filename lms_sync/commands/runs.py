"""``lms-sync runs``: the recent runs recorded in the state store and how they ended."""

from __future__ import annotations

import argparse
import json

from ..context import Context
from ..errors import EXIT_OK
from ..store import Run, to_text
from .base import SubParsers, add_command

ORDER = 75


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``runs``."""
    parser = add_command(
        sub, parent, "runs",
        summary="list recent runs and their outcome",
        description="List the most recent runs (sync, push, pull, feed) recorded in the state store: "
        "the programme they were about ('*': every programme), when they started, how long they took, "
        "how they ended, and their counts. --program ID lists only that programme's runs.",
        examples="  lms-sync runs\n  lms-sync runs --limit 5 --kind sync\n  lms-sync runs --json\n"
        "  lms-sync --program dgidt-ia-2021 runs",
        handler=cmd_runs,
    )
    parser.add_argument("--limit", type=int, default=20, help="how many runs (default: 20)")
    parser.add_argument("--kind", help="only runs of this kind (sync, push, pull, feed)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def cmd_runs(ctx: Context, args: argparse.Namespace) -> int:
    """Print the recent runs, newest first."""
    runs = ctx.store.runs(limit=args.limit, kind=args.kind, programme_id=ctx.program_id)
    if args.json:
        print(json.dumps([run_as_dict(r) for r in runs], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not runs:
        print("no run recorded yet")
        return EXIT_OK
    width = max([9, *(len(r.programme_id or "") for r in runs)])
    print(f"{'id':>5}  {'kind':<6}  {'programme':<{width}}  {'started (UTC)':<20}  {'took':>7}  {'status':<8}  "
          f"{'exit':>4}  summary")
    for run in runs:
        took = f"{(run.finished_at - run.started_at).total_seconds():.0f}s" if run.finished_at else "-"
        exit_code = "" if run.exit_code is None else str(run.exit_code)
        print(f"{run.id:>5}  {run.kind:<6}  {run.programme_id or '*':<{width}}  {to_text(run.started_at):<20}  "
              f"{took:>7}  {run.status:<8}  {exit_code:>4}  {summary_line(run.summary)}")
    return EXIT_OK


def run_as_dict(run: Run) -> dict[str, object]:
    """A run as JSON-ready data."""
    return {
        "id": run.id,
        "kind": run.kind,
        "programme_id": run.programme_id,
        "started_at": to_text(run.started_at),
        "finished_at": to_text(run.finished_at) if run.finished_at else None,
        "status": run.status,
        "exit_code": run.exit_code,
        "summary": run.summary,
    }


def summary_line(summary: dict[str, object]) -> str:
    """A run's summary in one line: its counts, and each stage's outcome for a sync."""
    stages = summary.get("stages")
    if isinstance(stages, dict):
        return ", ".join(f"{name} {stage.get('status', '?')}" for name, stage in stages.items()
                         if isinstance(stage, dict))
    return ", ".join(f"{key} {value}" for key, value in summary.items() if isinstance(value, int | float | str))
