"""``lms-sync report completion``, ``report attestation``, ``report programmes`` and ``report runs``: DGIDT's reports."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from ..context import Context
from ..errors import EXIT_OK, ConfigError, StateError
from ..files import write_atomic, write_stdout
from ..reports import (
    ATTESTATION_VIEWS,
    FORMATS,
    VIEW_NAMES,
    CompletionReport,
    NoSnapshot,
    build_report,
    render,
    render_attestation,
)
from ..reports.attestation import attestation_rule, build_attestation
from ..reports.cumulative import build_cumulative
from ..reports.cumulative_views import CUMULATIVE_VIEWS
from ..reports.render_cumulative import render_cumulative
from ..snapshots import list_snapshots
from .base import SubParsers, add_command

ORDER = 60


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _run(text: str) -> int | str:
    if text == "latest":
        return text
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number; give N or 'latest'")
    return int(text)


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``report`` with its ``completion``, ``attestation`` and ``runs`` sub-commands."""
    report = add_command(
        sub, parent, "report",
        summary="completion reports from the pulled snapshots",
        description="Build DGIDT's completion reports from the snapshots `lms-sync pull` recorded.",
        examples="  lms-sync report completion --format xlsx --out var/reports/completion.xlsx\n"
        "  lms-sync report attestation --format html --out attestations.html\n"
        "  lms-sync report runs",
        handler=lambda ctx, args: 2,
    )
    inner = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    completion = add_command(
        inner, parent, "completion",
        summary="who attended and completed, per participant, institution, cohort and session",
        description="Write the completion report of a snapshot. Its views: participants (name, email, "
        "institution, department, cohort, each session attended or not, attendance rate, course completed "
        "and when), institutions and cohorts (enrolled, attended each session, completed, completion rate, "
        "totals; participants no longer enrolled are counted apart, not in the rate) and sessions (when, "
        "attended, attendance rate). Cohorts appear when some participant has one. French by default. "
        "CSV holds one view (--view, participants by default), UTF-8 with a BOM and ';' (what Excel "
        "expects in a French locale); XLSX has a sheet per view, set up to print (A4 landscape, one page "
        "wide, header repeated); JSON follows lms_sync/reports/completion-report.schema.json; HTML is one "
        "page with charts that also prints on A4. Files are written with mode 0600: they hold personal data. The report of an "
        "incomplete snapshot says so. The same snapshot always gives the same bytes. With several "
        "programmes, name the one to report with --program ID (a programme whose file was removed too).",
        examples="  lms-sync report completion --format csv\n"
        "  lms-sync --program dgidt-ia-2020 report completion --format xlsx\n"
        "  lms-sync report completion --format xlsx --out ~/dgidt/completion.xlsx\n"
        "  lms-sync report completion --format html --run 12 --lang en --out -\n"
        "  lms-sync report completion --format csv --view institutions --out -\n"
        "  lms-sync report completion --format csv --since 2021-01-01 --delimiter ,",
        handler=cmd_completion,
    )
    _output_options(completion, "completion", VIEW_NAMES)
    completion.add_argument("--run", type=_run, default="latest", metavar="N|latest",
                            help="snapshot to report (default: latest; see `lms-sync report runs`)")
    completion.add_argument("--since", type=_date, metavar="DATE",
                            help="list only participants who completed on or after DATE (YYYY-MM-DD)")
    attestation = add_command(
        inner, parent, "attestation",
        summary="who earns the attestation, for the certificate office",
        description="Write the attestation list of a snapshot under the programme's [attestation] rule "
        "(sessions_attended = N: at least N of the sessions held; course_completed = true: the Moodle course "
        "completed; both: both needed): who qualifies, who is one session short, who does not and what is "
        "missing, and the counts per institution and cohort. Attendance not taken yet counts as absent (the "
        "report says so). A programme without [attestation] is refused (exit 2) with the table to add: "
        "lms_sync does not guess the rule. French by default. CSV holds one view (--view participants, the "
        "list, by default; institutions; cohorts); XLSX a sheet per view, printable; JSON follows "
        "lms_sync/reports/attestation-report.schema.json; HTML is one printable page. Files are written "
        "with mode 0600.",
        examples="  lms-sync report attestation --format xlsx --out ~/dgidt/attestations.xlsx\n"
        "  lms-sync report attestation --format html --out attestations.html\n"
        "  lms-sync --program dgidt-ia-2020 report attestation --format csv --view institutions --out -",
        handler=cmd_attestation,
    )
    _output_options(attestation, "attestation", ATTESTATION_VIEWS)
    attestation.add_argument("--run", type=_run, default="latest", metavar="N|latest",
                             help="snapshot to report (default: latest)")
    programmes = add_command(
        inner, parent, "programmes",
        summary="who was trained in which programme, per person and per institution",
        description="Write the report across programmes, from the latest snapshot of every programme (those "
        "archived or whose file was removed too; --program ID keeps one). A person is recognised across "
        "programmes by their username or e-mail (an account recreated under a new username, or a new "
        "address, still counts once) and counts once per programme; participants no longer enrolled are "
        "left out. Its views: people (a column per programme: completed, not completed, or took part with "
        "completion unknown; blank when not in it; programmes taken and completed), institutions (distinct "
        "people trained, those who completed at least one programme, enrolled and completed per programme, "
        "totals) and programmes (the snapshot each comes from, enrolled, completed, rate). CSV holds one "
        "view (--view, people by default); XLSX a sheet per view, printable; JSON follows "
        "lms_sync/reports/programmes-report.schema.json; HTML is one printable page. Files are written "
        "with mode 0600. French by default.",
        examples="  lms-sync report programmes --format xlsx --out ~/dgidt/programmes.xlsx\n"
        "  lms-sync report programmes --format csv --view institutions --out -",
        handler=cmd_programmes,
    )
    _output_options(programmes, "programmes", CUMULATIVE_VIEWS)
    add_command(
        inner, parent, "runs",
        summary="list the completion snapshots",
        description="List the completion snapshots, newest first: run, time, path used, counts and whether "
        "every participant could be read.",
        examples="  lms-sync report runs",
        handler=cmd_runs,
    )


def _output_options(parser: argparse.ArgumentParser, kind: str, views: tuple[str, ...]) -> None:
    """--format, --view, --out, --lang and --delimiter, the same for every report (its first view the default)."""
    default = views[0]
    parser.add_argument("--format", choices=FORMATS, default="csv", help="output format (default: csv)")
    parser.add_argument("--view", choices=views, metavar="|".join(views),
                        help=f"the one table a CSV holds (default: {default}; the other formats hold every view)")
    parser.add_argument("--out", metavar="PATH",
                        help=f"file to write, - for standard output (default: report.out_dir/{kind}.FORMAT, "
                        f"{kind}-VIEW.csv for another view than {default})")
    parser.add_argument("--lang", choices=("fr", "en"), help="language (default: report.lang, fr)")
    parser.add_argument("--delimiter", choices=(";", ","), help="CSV delimiter (default: report.csv_delimiter, ;)")


def _output(ctx: Context, args: argparse.Namespace, kind: str, default_view: str = "participants") -> tuple[Path | None, str]:
    """Where the report goes (None: standard output), checked, and the view a CSV holds."""
    view = args.view or default_view
    if args.view and args.format != "csv":
        raise ConfigError(f"--view applies to CSV only: {args.format.upper()} holds every view",
                          hint="leave --view out, or use --format csv")
    name = kind if view == default_view else f"{kind}-{view}"
    out = None if args.out == "-" else Path(args.out) if args.out else ctx.settings.report.out_dir / f"{name}.{args.format}"
    if out is not None:
        ctx.check_output(out)
    return out, view


def _snapshot_report(ctx: Context, args: argparse.Namespace, since: date | None) -> CompletionReport:
    programme_id = report_programme(ctx) if args.run == "latest" else ctx.program_id
    try:
        return build_report(ctx.store, run=args.run, since=since, programme_id=programme_id)
    except NoSnapshot as exc:
        raise StateError(str(exc), hint="run `lms-sync pull` first; `lms-sync report runs` lists the snapshots") from None


def _write(out: Path | None, data: bytes, summary: str) -> int:
    if out is None:
        write_stdout(data)
        return EXIT_OK
    written = write_atomic(out, data, mode=0o600)  # personal data: owner only
    print(f"{out}: {'written' if written else 'unchanged'} ({summary})")
    return EXIT_OK


def cmd_completion(ctx: Context, args: argparse.Namespace) -> int:
    """Render one snapshot and write it."""
    settings = ctx.settings.report
    out, view = _output(ctx, args, "completion")
    report = _snapshot_report(ctx, args, args.since)
    data = render(report, args.format, lang=args.lang or settings.lang,
                  delimiter=args.delimiter or settings.csv_delimiter, view=view)
    flag = "" if report.complete else f"; INCOMPLETE snapshot ({report.totals.failed} participant(s) not read)"
    gone = f", {report.totals.no_access} no longer enrolled" if report.totals.no_access else ""
    return _write(out, data, f"run {report.snapshot.run_id}, {report.totals.enrolled} enrolled, "
                  f"{report.totals.completed} completed{gone}{flag}")


def cmd_attestation(ctx: Context, args: argparse.Namespace) -> int:
    """Judge one snapshot under the programme's rule and write the list."""
    settings = ctx.settings.report
    out, view = _output(ctx, args, "attestation")
    if args.run == "latest":
        # Both a rule and a pull are needed: name the missing rule first, before any pull is asked for.
        known = ctx.catalog.get(report_programme(ctx))
        if known is not None:
            attestation_rule(known.programme, known.file)
    report = _snapshot_report(ctx, args, None)
    entry = ctx.catalog.get(report.snapshot.programme_id)
    if entry is None:
        raise ConfigError(f"programme {report.snapshot.programme_id} has no file any more: its [attestation] "
                          "rule cannot be read", hint="put its file back (status = \"archived\" keeps it untouched)")
    att = build_attestation(report, attestation_rule(entry.programme, entry.file))
    data = render_attestation(att, args.format, lang=args.lang or settings.lang,
                              delimiter=args.delimiter or settings.csv_delimiter, view=view)
    flag = "" if report.complete else f"; INCOMPLETE snapshot ({report.totals.failed} participant(s) not read)"
    return _write(out, data, f"run {report.snapshot.run_id}, {att.totals.qualifies} qualify, "
                  f"{att.totals.one_session_short} one session short, {att.totals.not_qualified} do not{flag}")


def cmd_programmes(ctx: Context, args: argparse.Namespace) -> int:
    """Gather every programme's latest snapshot and write the report across them."""
    settings = ctx.settings.report
    out, view = _output(ctx, args, "programmes", default_view="people")
    try:
        report = build_cumulative(ctx.store, [ctx.program_id] if ctx.program_id else None)
    except NoSnapshot as exc:
        raise StateError(str(exc), hint="run `lms-sync pull` first; `lms-sync report runs` lists the snapshots") from None
    data = render_cumulative(report, args.format, lang=args.lang or settings.lang,
                             delimiter=args.delimiter or settings.csv_delimiter, view=view)
    partial = [p.id for p in report.programmes if not p.complete]
    flag = f"; INCOMPLETE snapshot of {', '.join(partial)}" if partial else ""
    return _write(out, data, f"{len(report.programmes)} programme(s), {report.totals.people} people trained, "
                  f"{report.totals.completed_any} completed at least one{flag}")


def report_programme(ctx: Context) -> str:
    """The programme a report is about: the one --program names (a removed one too), else the only one there is."""
    if ctx.program_id:
        return ctx.program_id
    try:
        ids = ctx.catalog.ids
    except ConfigError:  # a broken programme file must not hide the reports already pulled
        ids = sorted({r.snapshot.programme_id for r in list_snapshots(ctx.store)})
    if len(ids) == 1:
        return ids[0]
    raise ConfigError(f"{len(ids)} programmes ({', '.join(ids)}): which one's report?",
                      hint="name it with --program ID")


def cmd_runs(ctx: Context, args: argparse.Namespace) -> int:
    """Print the snapshots as a table."""
    rows = [r for r in list_snapshots(ctx.store) if ctx.program_id in (None, r.snapshot.programme_id)]
    if not rows:
        print("no completion snapshot yet: run `lms-sync pull`")
        return EXIT_OK
    width = max(9, *(len(r.snapshot.programme_id) for r in rows))
    print(f"{'run':>5}  {'programme':<{width}}  {'taken at (local)':16}  {'source':13}  {'partic.':>7}  {'compl.':>6}  "
          f"{'failed':>6}  {'no acc.':>7}  state")
    for r in rows:
        s = r.snapshot
        local = s.taken_at.astimezone(ZoneInfo(s.timezone)).strftime("%Y-%m-%d %H:%M")
        state = "complete" if s.complete else "INCOMPLETE"
        print(f"{s.run_id:>5}  {s.programme_id:<{width}}  {local:16}  {s.source:13}  {r.participants:>7}  {r.completed:>6}  {r.failed:>6}  "
              f"{r.no_access:>7}  {state}")
    return EXIT_OK
