"""The `quanxue` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.clock import Clock, FileClock, SystemClock, parse_instant
from bot.settings import Settings

log = logging.getLogger("quanxue")


def build_clock(settings: Settings) -> Clock:
    if settings.clock_file is None:
        return SystemClock()
    log.warning("QUANXUE_CLOCK_FILE is set: the time is read from %s, not from the system clock", settings.clock_file)
    return FileClock(settings.clock_file)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quanxue", description="劝学 Quanxue: keep every child in school.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the bot (long polling) with its scheduler and sender")
    for name, what in (("import-roster", "students, guardians and class teachers"),
                       ("import-staff", "school officers, principals and township officers")):
        cmd = sub.add_parser(name, help=f"import {what} from CSV or XLSX")
        cmd.add_argument("file", type=Path)
        cmd.add_argument("--skip-invalid", action="store_true", help="write the good rows even if some are bad")
        if name == "import-roster":
            cmd.add_argument("--county", help="county of every row without a 县/county column")
    inv = sub.add_parser("invites", help="list invite codes and links for everyone not yet linked")
    inv.add_argument("--format", choices=("table", "csv"), default="table")
    inv.add_argument("--output", type=Path, help="write to this file instead of the screen")
    tick = sub.add_parser("tick", help="run the scheduled work due now (or at --now) once, then exit")
    tick.add_argument("--now", type=parse_instant, help="ISO 8601 instant with offset, e.g. 2026-09-07T10:00+08:00")
    sub.add_parser("demo", help="play a scripted conversation offline and print the transcript")
    return p


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo":
        from bot.demo import run_demo

        return await run_demo()
    clock = build_clock(settings)
    if args.command == "run":
        from bot.runner import serve

        return await serve(settings, clock)
    if args.command == "import-roster":
        from bot.roster.cli import run_import_roster

        return await run_import_roster(settings, clock, args.file, county=args.county, skip_invalid=args.skip_invalid)
    if args.command == "import-staff":
        from bot.roster.cli import run_import_staff

        return await run_import_staff(settings, clock, args.file, skip_invalid=args.skip_invalid)
    if args.command == "invites":
        from bot.invites_cli import run_invites

        return await run_invites(settings, clock, fmt=args.format, output=args.output)
    from bot.tick import run_tick_cli

    return await run_tick_cli(settings, args.now or clock.now())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
