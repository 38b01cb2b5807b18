"""What the bot's handlers call for records: the reports a person may ask for, and finding a student for an
enrolment change. Scope is checked here, the same way as for the reports on schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.scope import Actor
from bot.records.enrolment import may_record
from bot.records.period import Period
from bot.records.report import MonthlyReport, build_monthly_report
from bot.records.scope import ReportScope, scopes_of
from storage.models import School, SchoolClass, Student, Township

MAX_MATCHES = 8


class RecordsNotAllowed(PermissionError):
    """Out of the person's scope (or no such scope or student: the same answer)."""


def recent_months(today: date, count: int = 6) -> list[Period]:
    """The months a person can choose for /report: the previous `count` months, newest first."""
    months, day = [], today
    for _ in range(count):
        month = Period.previous_month(day)
        months.append(month)
        day = month.start
    return months


async def report_on_demand(session: AsyncSession, actor: Actor, now: datetime, scope_key: str, month: str,
                           locale: str) -> MonthlyReport:
    """The report of one of the actor's own scopes (`scope.key`, e.g. "school:3") for a month ("2026-11")."""
    scope = next((s for s in await scopes_of(session, actor) if s.key == scope_key), None)
    if scope is None:
        raise RecordsNotAllowed(scope_key)
    try:
        period = Period.parse_month(month)
    except ValueError:
        raise RecordsNotAllowed(month) from None
    report = await build_monthly_report(session, scope, period, locale)
    audit.record(session, now, "report.viewed", "report", None, actor_person_id=actor.person_id,
                 scope=scope.key, period=period.label)
    return report


async def report_scopes(session: AsyncSession, actor: Actor) -> list[ReportScope]:
    return await scopes_of(session, actor)


@dataclass(frozen=True)
class StudentMatch:
    id: int
    name: str
    class_name: str
    school: str
    status: str


async def find_students(session: AsyncSession, actor: Actor, name: str) -> list[StudentMatch]:
    """Students whose name contains `name`, among those the actor may record enrolment changes for."""
    text = name.strip()
    if not text:
        return []
    rows = await session.execute(
        select(Student.id, Student.name, SchoolClass.name, School.name, Student.status, School.id,
               School.township_id, Township.county_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id).join(School, School.id == SchoolClass.school_id)
        .join(Township, Township.id == School.township_id)
        .where(Student.name.contains(text, autoescape=True)).order_by(School.name, SchoolClass.name, Student.name)
        .limit(200)
    )
    found = [StudentMatch(sid, student, class_name, school, status)
             for sid, student, class_name, school, status, school_id, township_id, county_id in rows
             if may_record(actor, school_id, township_id, county_id)]
    return found[:MAX_MATCHES]
