"""`quanxue import-roster FILE` and `quanxue import-staff FILE`: exit 0 when every row imported, 1 when rows had
errors (nothing written unless skip_invalid), 2 when the file cannot be read."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.roster.importer import import_roster, import_staff
from bot.roster.reading import Table, UnreadableFile, read_table
from bot.roster.report import ImportReport, render_report, render_unreadable
from storage.db import create_engine, create_sessionmaker, upgrade

EXIT_OK, EXIT_ROW_ERRORS, EXIT_UNREADABLE = 0, 1, 2

Importer = Callable[..., Awaitable[ImportReport]]


async def run_import_roster(
    settings: Settings,
    clock: Clock,
    path: Path | str,
    *,
    county: str | None = None,
    skip_invalid: bool = False,
    out: TextIO | None = None,
) -> int:
    """Import a roster file; `county` (default: settings.county) is for rows without a 县 column."""
    extra = {"county": county or settings.county, "tz": settings.tz}
    return await _run(import_roster, extra, settings, clock, path, skip_invalid=skip_invalid, out=out or sys.stdout)


async def run_import_staff(
    settings: Settings,
    clock: Clock,
    path: Path | str,
    *,
    county: str | None = None,
    skip_invalid: bool = False,
    out: TextIO | None = None,
) -> int:
    """Import a staff file: 控辍专干, 校长 and 乡镇专干 with their school or township."""
    extra = {"county": county or settings.county}
    return await _run(import_staff, extra, settings, clock, path, skip_invalid=skip_invalid, out=out or sys.stdout)


async def _run(
    importer: Importer,
    extra: dict,
    settings: Settings,
    clock: Clock,
    path: Path | str,
    *,
    skip_invalid: bool,
    out: TextIO,
) -> int:
    try:
        table = read_table(path)
    except UnreadableFile as exc:
        print(render_unreadable(exc, str(path), settings.locale), file=out)
        return EXIT_UNREADABLE
    report = await _import(importer, table, extra, settings, clock, skip_invalid=skip_invalid)
    for line in render_report(report, settings.locale):
        print(line, file=out)
    return EXIT_OK if report.ok else EXIT_ROW_ERRORS


async def _import(
    importer: Importer, table: Table, extra: dict, settings: Settings, clock: Clock, *, skip_invalid: bool
) -> ImportReport:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            return await importer(session, table, now=clock.now(), skip_invalid=skip_invalid, **extra)
    finally:
        await engine.dispose()
