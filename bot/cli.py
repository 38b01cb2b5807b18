"""The `quanxue` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.core.clock import Clock, FileClock, SystemClock, parse_instant
from bot.core.settings import Settings
from bot.onboarding.invites import ROLE_CHOICES, InviteSelection
from bot.roster.cli import ImportOptions, run_import_roster, run_import_staff

# Each other command's module is imported in its branch of `_dispatch`: the bot (aiogram), the scheduler, the
# report's matplotlib and the documents' fpdf cost seconds and tens of MiB that the roster import does not need.

log = logging.getLogger("quanxue")


def build_clock(settings: Settings) -> Clock:
    if settings.clock_file is None:
        return SystemClock()
    log.warning("QUANXUE_CLOCK_FILE is set: the time is read from %s, not from the system clock", settings.clock_file)
    return FileClock(settings.clock_file)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quanxue", description="劝学 Quanxue: keep every child in school.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the bot (long polling) with its scheduler and notice sender")
    roster = sub.add_parser("import-roster", help="import students, guardians and class teachers (xlsx, xls, ods, CSV)")
    roster.add_argument("--yes", action="store_true", help="allow more than a few students to change class")
    staff = sub.add_parser("import-staff", help="import school officers, principals and township officers")
    for cmd in (roster, staff):
        cmd.add_argument("file", type=Path)
        cmd.add_argument("--county", help="county of the rows without a 县/county column")
        cmd.add_argument("--sheet", help="the sheet to read (default: the one whose header matches best)")
        cmd.add_argument("--skip-invalid", action="store_true", help="write the good rows even if some are bad")
        cmd.add_argument("--dry-run", action="store_true", help="check the file and print the plan; write nothing")
    calendar = sub.add_parser("import-calendar", help="import terms, holidays and closures (TOML)")
    calendar.add_argument("file", type=Path)
    invites = sub.add_parser("invites", help="issue invite codes and links for people not linked and without a code")
    invites.add_argument("--format", choices=("table", "csv", "pdf"), default="table",
                         help="pdf: invite slips to cut out, grouped by class (needs --output)")
    invites.add_argument("--output", type=Path, help="write to this file instead of the screen")
    invites.add_argument("--school", help="only people of this school (staff, guardians of its students)")
    invites.add_argument("--class", dest="class_name", help="only this class's teacher and guardians")
    invites.add_argument("--role", choices=ROLE_CHOICES, help="only people with this role")
    invites.add_argument("--person", help="only the person with this name or phone number")
    invites.add_argument("--reissue", action="store_true",
                         help="replace valid codes too (lost slips): the old codes stop working")
    case_file = sub.add_parser("case-file", help="write one case's file (history, notices, documents) as a PDF")
    case_file.add_argument("case", help="the case's id or number, e.g. 42 or 2026-00042")
    case_file.add_argument("--output", type=Path, required=True, help="the PDF to write")
    tick = sub.add_parser("tick", help="run the scheduled work due now (or at --now) once, then exit")
    tick.add_argument("--now", type=parse_instant, help="ISO 8601 instant with offset, e.g. 2026-09-07T10:00+08:00")
    report = sub.add_parser("report", help="write a month's report (ledgers as XLSX, chart as PNG) for a scope")
    report.add_argument("--scope", required=True, help="school:NAME, township:NAME or county")
    report.add_argument("--month", required=True, help="the month, e.g. 2026-11")
    report.add_argument("--output", required=True, type=Path, help="the spreadsheet to write (the chart goes "
                        "next to it as .png)")
    report.add_argument("--locale", choices=("zh_Hans", "zh_Hant", "en"), help="language of the headers")
    sub.add_parser("demo", help="play a scripted conversation offline and print the transcript")
    return p


def _import_options(args: argparse.Namespace, confirm: bool) -> ImportOptions:
    return ImportOptions(args.county, args.sheet, args.skip_invalid, args.dry_run, confirm)


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from bot.demo import run_demo

        return await run_demo()
    settings = Settings()
    clock = build_clock(settings)
    match args.command:
        case "run":
            from bot.runner import serve

            return await serve(settings, clock)
        case "import-roster":
            return await run_import_roster(settings, clock, args.file, options=_import_options(args, args.yes))
        case "import-staff":
            return await run_import_staff(settings, clock, args.file, options=_import_options(args, False))
        case "import-calendar":
            from bot.calendar.file import run_import_calendar

            return await run_import_calendar(settings, clock, args.file)
        case "case-file":
            from bot.documents.cli import run_case_file

            return await run_case_file(settings, clock, args.case, args.output)
        case "invites":
            from bot.onboarding.invites_cli import run_invites

            selection = InviteSelection(args.school, args.class_name, args.role, args.person)
            return await run_invites(settings, clock, fmt=args.format, output=args.output, selection=selection,
                                     reissue=args.reissue)
        case "report":
            from bot.records.cli import run_report

            return await run_report(settings, clock, args.scope, args.month, args.output, locale=args.locale)
        case _:
            from bot.tick import run_tick_cli

            return await run_tick_cli(settings, args.now or clock.now())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    quiet = args.command == "demo"  # the transcript is the output; warnings and errors still show
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_dispatch(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
