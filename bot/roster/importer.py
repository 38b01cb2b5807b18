"""Import a roster or staff table into the database, all or nothing (or only the good rows with `skip_invalid`).

Every check runs before the first write, so a file with errors changes nothing. Re-importing the same file finds
every row unchanged: no writes, no audit events. The caller owns the transaction and commits.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.roster.progress import Progress
from bot.roster.reading import Table
from bot.roster.report import ImportReport
from bot.roster.rows import (
    STAFF_REQUIRED,
    RowError,
    StaffRow,
    StudentRow,
    check_columns,
    check_roster_columns,
    validate_staff,
    validate_students,
)
from bot.roster.staff import StaffImport
from bot.roster.students import RosterImport
from bot.roster.values import Invalid, parse_phone

__all__ = ["ImportReport", "import_roster", "import_staff"]

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
MOVE_LIMIT = 5  # more students changing class than this needs `confirm` (--yes): a respelt class, a wrong file
R = TypeVar("R", StudentRow, StaffRow)


async def import_roster(
    session: AsyncSession,
    table: Table,
    *,
    now: datetime,
    county: str,
    tz: tzinfo = DEFAULT_TZ,
    actor: str = "cli",
    skip_invalid: bool = False,
    confirm: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Upsert the students of a roster table with their guardians and homeroom teachers. `county` is used for
    rows without a 县 column; ages are checked on `now`'s date in `tz`. More than MOVE_LIMIT students changing
    class need `confirm`. With `dry_run` everything is planned and applied in the session: the caller rolls back.
    The table's rows are used up: emptied once checked, so that the file's cells are freed before the writes."""
    report = _report("roster", table, dry_run)
    report.errors = check_roster_columns(table)
    if report.errors:
        return report
    rows, errors = validate_students(table.rows, today=now.astimezone(tz).date(), county=county)
    table.rows.clear()
    job = RosterImport(session, now=now, actor=actor, report=report)
    rows, unplaced = await job.load_places(rows)
    errors += unplaced
    await job.load(rows)
    errors += job.check(_without_errors(rows, errors))
    report.errors = _in_row_order(errors)
    report.warnings = _in_row_order([w for row in _without_errors(rows, errors) for w in row.warnings])
    if errors and not skip_invalid:
        return report
    if len(report.moves) > MOVE_LIMIT and not confirm:
        report.needs_confirmation = True
        return report
    await job.apply(_without_errors(rows, errors), progress=progress)
    report.written = not dry_run
    return report


def _report(kind: str, table: Table, dry_run: bool) -> ImportReport:
    return ImportReport(
        kind, rows=len(table.rows), headers=dict(table.headers), sheet=table.sheet, ignored=table.ignored,
        dry_run=dry_run,
    )  # fmt: skip


async def import_staff(
    session: AsyncSession,
    table: Table,
    *,
    now: datetime,
    county: str,
    actor: str = "cli",
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Give school admins, principals and township officers their roles; schools and townships must exist."""
    report = _report("staff", table, dry_run)
    report.errors = check_columns(table, STAFF_REQUIRED)
    if report.errors:
        return report
    rows, errors = validate_staff(table.rows, county=county)
    job = StaffImport(session, now=now, actor=actor, report=report)
    await job.load(rows)
    errors += job.check(_without_errors(rows, errors))
    report.errors = _in_row_order(errors)
    if errors and not skip_invalid:
        return report
    await job.apply(_without_errors(rows, errors), keep_phones=_phones_of_bad_rows(table, errors))
    report.written = not dry_run
    return report


def _without_errors(rows: list[R], errors: list[RowError]) -> list[R]:
    bad = {error.row for error in errors}
    return [row for row in rows if row.row not in bad]


def _in_row_order(errors: list[RowError]) -> list[RowError]:
    return sorted(errors, key=lambda error: error.row)


def _phones_of_bad_rows(table: Table, errors: list[RowError]) -> set[str]:
    bad = {error.row for error in errors}
    phones: set[str] = set()
    for number, values in table.rows:
        if number in bad:
            with contextlib.suppress(Invalid):
                phones.add(parse_phone(values.get("phone")) or "")
    return phones
