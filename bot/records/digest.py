"""The class teacher's weekly digest, done by the tick: on the school's last school day of the week, from
`settings.weekly_digest_at`, each class teacher gets their class's week: who was absent how often, the open cases,
the absence notices the family has not answered, and the class's attendance rate beside the school's. Once per
class and week (the idempotency key names both)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import SchoolCalendar, load_calendars
from bot.core.clock import to_local
from bot.core.settings import Settings
from bot.notices.outbox import Delivery, enqueue_notice, recipient_locale
from bot.records import labels
from bot.records.ledgers import UNEXCUSED, RecordsData, load_records
from bot.records.period import Period
from bot.records.rates import unit_rates
from bot.records.report import percent
from bot.records.scope import Level, ReportScope
from storage.models import Absence, AbsenceReply, Person, Role, School, SchoolClass, StaffRole, Student


async def send_weekly_digests(session: AsyncSession, settings: Settings, now: datetime) -> int:
    local = to_local(now, settings.tz)
    if local.time() < settings.weekly_digest_at:
        return 0
    today = local.date()
    calendars = await load_calendars(session)
    due = [school_id for school_id, calendar in calendars.items() if _last_school_day_of_week(calendar, today)]
    if not due:
        return 0
    teachers = await _teachers(session, due)
    monday = today - timedelta(days=today.weekday())
    period = Period(monday, today, f"{monday.isoformat()}/{today.isoformat()}")
    queued = 0
    for school_id, school_name in (await session.execute(select(School.id, School.name)
                                                         .where(School.id.in_(due)))).all():
        if school_id in teachers:
            data = await load_records(session, ReportScope(Level.SCHOOL, school_id, school_name), period)
            queued += await _send_school(session, settings, now, data, teachers[school_id])
    return queued


def _last_school_day_of_week(calendar: SchoolCalendar, today: date) -> bool:
    if not calendar.is_school_day(today):
        return False
    sunday = today + timedelta(days=6 - today.weekday())
    return not calendar.school_days(today + timedelta(days=1), sunday)


async def _teachers(session: AsyncSession, school_ids: list[int]) -> dict[int, list[tuple[int, Person]]]:
    rows = await session.execute(
        select(SchoolClass.school_id, SchoolClass.id, Person).join(StaffRole, StaffRole.class_id == SchoolClass.id)
        .join(Person, Person.id == StaffRole.person_id)
        .where(SchoolClass.school_id.in_(school_ids), StaffRole.role == Role.CLASS_TEACHER)
    )
    found: dict[int, list[tuple[int, Person]]] = defaultdict(list)
    for school_id, class_id, person in rows:
        found[school_id].append((class_id, person))
    return found


async def _unanswered(session: AsyncSession, data: RecordsData) -> dict[int, int]:
    """Per student: absence notices of the week (unexplained or unknown absences) without any answer."""
    answered = exists().where(AbsenceReply.absence_id == Absence.id)
    rows = await session.execute(
        select(Absence.student_id, func.count()).join(Student, Student.id == Absence.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(SchoolClass.school_id == data.scope.id, Absence.day.between(data.period.start, data.period.end),
               Absence.withdrawn_at.is_(None), Absence.reason.in_(UNEXCUSED), ~answered)
        .group_by(Absence.student_id)
    )
    return {student_id: int(count) for student_id, count in rows}


async def _send_school(session: AsyncSession, settings: Settings, now: datetime, data: RecordsData,
                       teachers: list[tuple[int, Person]]) -> int:
    rates = unit_rates(data, groups=False)
    school_rate = rates[0].attendance
    by_class = {r.unit_id: r for r in rates if r.unit == "class"}
    unanswered = await _unanswered(session, data)
    open_cases = [row for row in data.cases if row.closed_on is None]
    queued = 0
    for class_id, person in teachers:
        locale = recipient_locale(person, settings)
        pupils = [s for s in data.students.values() if s.class_id == class_id]
        ids = {s.id for s in pupils}
        values = {
            "class_name": data.classes[class_id].name, "first_day": data.period.start, "last_day": data.period.end,
            "class_attendance": percent(by_class[class_id].attendance if class_id in by_class else None),
            "school_attendance": percent(school_rate),
            "absent": [{"child": s.name, "days": s.absent_days} for s in sorted(pupils, key=lambda s: -s.absent_days)
                       if s.absent_days],
            "cases": [{"child": data.students[c.student_id].name, "stage": labels.label(labels.STAGES, c.stage, locale)}
                      for c in open_cases if c.student_id in ids],
            "unanswered": sum(unanswered.get(student_id, 0) for student_id in ids),
        }
        key = f"class-digest:{class_id}:{data.period.start.isoformat()}:{person.id}"
        delivery = await enqueue_notice(session, settings, now, person, "class_digest", values, key,
                                        entity="class", entity_id=class_id)
        queued += delivery is Delivery.QUEUED
    return queued
