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

from bot.roster.reading import Table
from bot.roster.report import ImportReport
from bot.roster.rows import (
    ROSTER_REQUIRED,
    STAFF_REQUIRED,
    RowError,
    StaffRow,
    StudentRow,
    check_columns,
    validate_staff,
    validate_students,
)
from bot.roster.staff import StaffImport
from bot.roster.students import RosterImport
from bot.roster.values import Invalid, parse_phone

__all__ = ["ImportReport", "import_roster", "import_staff"]

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
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
) -> ImportReport:
    """Upsert the students of a roster table with their guardians and homeroom teachers. `county` is used for
    rows without a 县 column; ages are checked on `now`'s date in `tz`."""
    report = ImportReport("roster", rows=len(table.rows), headers=dict(table.headers))
    report.errors = check_columns(table, ROSTER_REQUIRED)
    if report.errors:
        return report
    rows, errors = validate_students(table.rows, today=now.astimezone(tz).date(), county=county)
    job = RosterImport(session, now=now, actor=actor, report=report)
    await job.load(rows)
    errors += job.check(_without_errors(rows, errors))
    report.errors = _in_row_order(errors)
    if errors and not skip_invalid:
        return report
    await job.apply(_without_errors(rows, errors))
    report.written = True
    return report


async def import_staff(
    session: AsyncSession,
    table: Table,
    *,
    now: datetime,
    county: str,
    actor: str = "cli",
    skip_invalid: bool = False,
) -> ImportReport:
    """Give school admins, principals and township officers their roles; schools and townships must exist."""
    report = ImportReport("staff", rows=len(table.rows), headers=dict(table.headers))
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
    report.written = True
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
