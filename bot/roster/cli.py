"""`quanxue import-roster FILE` and `quanxue import-staff FILE`: exit 0 when every row imported, 1 when rows had
errors or the import waits for `--yes` (nothing written unless skip_invalid), 2 when the file cannot be read."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.core.clock import Clock
from bot.core.settings import Settings
from bot.roster.importer import import_roster, import_staff
from bot.roster.progress import Progress
from bot.roster.reading import Table, UnreadableFile, read_table
from bot.roster.report import ImportReport, render_report, render_unreadable
from storage.db import create_engine, create_sessionmaker, upgrade

EXIT_OK, EXIT_ROW_ERRORS, EXIT_UNREADABLE = 0, 1, 2

Importer = Callable[..., Awaitable[ImportReport]]


@dataclass(frozen=True)
class ImportOptions:
    county: str | None = None  # for rows without a 县 column (default: settings.county)
    sheet: str | None = None  # the workbook's sheet to read (default: the one whose header matches best)
    skip_invalid: bool = False  # import the good rows when some are bad
    dry_run: bool = False  # check and plan everything, write nothing
    confirm: bool = False  # --yes: let more than a few students change class


async def run_import_roster(
    settings: Settings,
    clock: Clock,
    path: Path | str,
    *,
    options: ImportOptions | None = None,
    out: TextIO | None = None,
    **flags: Any,
) -> int:
    """Import a roster file. `flags` are ImportOptions' fields, for callers that give them one by one."""
    options = options or ImportOptions(**flags)
    extra = {
        "county": options.county or settings.county, "tz": settings.tz, "confirm": options.confirm,
        "progress": Progress("导入" if settings.locale.startswith("zh") else "import"),
    }  # fmt: skip
    return await _run(import_roster, extra, settings, clock, path, options, out or sys.stdout)


async def run_import_staff(
    settings: Settings,
    clock: Clock,
    path: Path | str,
    *,
    options: ImportOptions | None = None,
    out: TextIO | None = None,
    **flags: Any,
) -> int:
    """Import a staff file: 控辍专干, 校长 and 乡镇专干 with their school or township."""
    options = options or ImportOptions(**flags)
    extra = {"county": options.county or settings.county}
    return await _run(import_staff, extra, settings, clock, path, options, out or sys.stdout)


async def _run(
    importer: Importer,
    extra: dict,
    settings: Settings,
    clock: Clock,
    path: Path | str,
    options: ImportOptions,
    out: TextIO,
) -> int:
    try:
        table = read_table(path, sheet=options.sheet)
    except UnreadableFile as exc:
        print(render_unreadable(exc, str(path), settings.locale), file=out)
        return EXIT_UNREADABLE
    extra |= {"skip_invalid": options.skip_invalid, "dry_run": options.dry_run}
    report = await _import(importer, table, extra, settings, clock)
    for line in render_report(report, settings.locale):
        print(line, file=out)
    return EXIT_OK if report.ok else EXIT_ROW_ERRORS


async def _import(importer: Importer, table: Table, extra: dict, settings: Settings, clock: Clock) -> ImportReport:
    """One transaction: committed when the import wrote, rolled back after a dry run or a refusal."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            report = await importer(session, table, now=clock.now(), **extra)
            await (session.commit() if report.written else session.rollback())
            return report
    finally:
        await engine.dispose()
