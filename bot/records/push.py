"""The monthly report on schedule: on the first school day of each month, from `settings.monthly_report_at`, each
school officer and principal receives the previous month's report of their school, each township officer their
township's and each county officer their county's (text, chart, spreadsheet: three outbox rows, in their language).

Part of the tick: a function of (database, now). Each row's idempotency key names the scope, the month, the person
and the part, so a second run sends nothing new, and a report already queued is not even built again. For a
township or county the first school day is the earliest first school day of its schools.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import SchoolCalendar, load_calendars
from bot.core import audit
from bot.core.clock import to_local
from bot.core.settings import Settings
from bot.notices.outbox import Attachment, Delivery, enqueue_notice, queued_keys, recipient_locale
from bot.records.ledgers import load_records
from bot.records.period import Period
from bot.records.report import MonthlyReport, build_monthly_report
from bot.records.scope import Level, ReportScope
from storage.models import County, Person, Role, School, StaffRole, Township

log = logging.getLogger(__name__)

PARTS = ("text", "chart", "workbook")


@dataclass(frozen=True)
class _Recipient:
    person: Person
    scope: ReportScope


async def push_monthly_reports(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the reports due at `now`; returns how many outbox rows were queued."""
    if not settings.monthly_reports:
        return 0
    local = to_local(now, settings.tz)
    if local.time() < settings.monthly_report_at:
        return 0
    today = local.date()
    recipients = await _recipients(session)
    if not recipients:
        return 0
    due = await _due_scopes(session, {r.scope for r in recipients}, today)
    period = Period.previous_month(today)
    by_scope: dict[ReportScope, list[_Recipient]] = defaultdict(list)
    for recipient in recipients:
        if recipient.scope in due:
            by_scope[recipient.scope].append(recipient)
    queued = 0
    for scope, people in by_scope.items():
        keys = {_key(scope, period, r.person.id, part) for r in people for part in PARTS}
        if keys <= await queued_keys(session, keys):
            continue
        queued += await _send_scope(session, settings, now, scope, period, people)
    return queued


def _key(scope: ReportScope, period: Period, person_id: int, part: str) -> str:
    return f"monthly-report:{scope.key}:{period.label}:{person_id}:{part}"


async def _send_scope(session: AsyncSession, settings: Settings, now: datetime, scope: ReportScope, period: Period,
                      people: list[_Recipient]) -> int:
    data = await load_records(session, scope, period)
    reports: dict[str, MonthlyReport] = {}
    queued = 0
    for recipient in people:
        locale = recipient_locale(recipient.person, settings)
        if locale not in reports:
            reports[locale] = await build_monthly_report(session, scope, period, locale, data)
        queued += await enqueue_report(session, settings, now, recipient.person, reports[locale],
                                       lambda part, pid=recipient.person.id: _key(scope, period, pid, part))
    log.info("monthly report %s %s queued for %s people", scope.key, period.label, len(people))
    return queued


async def enqueue_report(session: AsyncSession, settings: Settings, now: datetime, person: Person,
                         report: MonthlyReport, key_of) -> int:
    """The report's three parts to `person` through the outbox (text, then the PNG, then the XLSX), audited."""
    parts = (
        ("text", "monthly_report", None),
        ("chart", "report_chart", Attachment(report.chart_name, report.chart_mime, report.chart)),
        ("workbook", "report_workbook", Attachment(report.workbook_name, report.workbook_mime, report.workbook)),
    )
    queued = 0
    for part, template, attachment in parts:
        delivery = await enqueue_notice(session, settings, now, person, template, report.values, key_of(part),
                                        entity="report", attachment=attachment)
        queued += delivery is Delivery.QUEUED
    if queued:
        audit.record(session, now, "report.sent", "report", None, actor="scheduler", person_id=person.id,
                     scope=report.scope.key, period=report.period.label)
    return queued


async def _recipients(session: AsyncSession) -> list[_Recipient]:
    """Every officer with the scope of their role (school, township or county), in one query."""
    rows = await session.execute(
        select(Person, StaffRole.role, School.id, School.name, Township.id, Township.name, County.id, County.name)
        .join(StaffRole, StaffRole.person_id == Person.id)
        .outerjoin(School, School.id == StaffRole.school_id)
        .outerjoin(Township, Township.id == StaffRole.township_id)
        .outerjoin(County, County.id == StaffRole.county_id)
        .where(StaffRole.role.in_((Role.SCHOOL_ADMIN, Role.PRINCIPAL, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER)))
        .order_by(Person.id)
    )
    found: dict[tuple[int, str], _Recipient] = {}
    for person, role, school_id, school, township_id, township, county_id, county in rows:
        if role in (Role.SCHOOL_ADMIN, Role.PRINCIPAL) and school_id is not None:
            scope = ReportScope(Level.SCHOOL, school_id, school)
        elif role == Role.TOWNSHIP_OFFICER and township_id is not None:
            scope = ReportScope(Level.TOWNSHIP, township_id, township)
        elif role == Role.COUNTY_OFFICER and county_id is not None:
            scope = ReportScope(Level.COUNTY, county_id, county)
        else:
            continue
        found.setdefault((person.id, scope.key), _Recipient(person, scope))
    return list(found.values())


async def _due_scopes(session: AsyncSession, scopes: set[ReportScope], today: date) -> set[ReportScope]:
    """The scopes whose first school day of this month is today or has passed (a missed tick catches up)."""
    schools = list(await session.execute(select(School.id, School.township_id, Township.county_id)
                                         .join(Township, Township.id == School.township_id)))
    calendars = await load_calendars(session, [row[0] for row in schools])
    first_day = {school_id: _first_school_day(calendars.get(school_id), today) for school_id, _t, _c in schools}
    firsts: dict[str, list[date]] = defaultdict(list)
    for school_id, township_id, county_id in schools:
        day = first_day[school_id]
        if day is not None:
            for key in (f"school:{school_id}", f"township:{township_id}", f"county:{county_id}"):
                firsts[key].append(day)
    return {scope for scope in scopes if firsts.get(scope.key) and min(firsts[scope.key]) <= today}


def _first_school_day(calendar: SchoolCalendar | None, today: date) -> date | None:
    if calendar is None:
        return None
    day = today.replace(day=1)
    while day <= today:
        if calendar.is_school_day(day):
            return day
        day += timedelta(days=1)
    return None
