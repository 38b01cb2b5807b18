"""The tick's roll-call step: one reminder to each class teacher whose class has no submitted roll call once the
reminder time of a school day has passed (辍学上报不过夜).

Found with a constant number of queries whatever the number of classes: the classes without a submitted roll call
today and their teachers (one query), their schools' calendars (`load_calendars`, three), the reminders already
queued (one). Each reminder is an outbox row keyed per class, day and teacher, so a second tick adds nothing.
Classes with nobody ENROLLED need no roll call. After quiet hours begin the day's reminder is no longer sent.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendars
from bot.core.clock import to_local
from bot.core.settings import Settings
from bot.notices.outbox import Action, Delivery, enqueue_notice, queued_keys
from storage.models import (
    EnrolmentStatus,
    Person,
    Role,
    RollCall,
    SchoolClass,
    StaffRole,
    Student,
)

TEMPLATE = "rollcall_reminder"
OPEN_ACTION = "rollcall"  # NoticeAction.action of the reminder's button; handlers.teacher.rollcall opens the roll call


def reminder_key(class_id: int, day: date, person_id: int) -> str:
    return f"rollcall-reminder:{class_id}:{day.isoformat()}:{person_id}"


def _due(settings: Settings, now: datetime) -> date | None:
    """Today's local date when reminders are due now (past the reminder time, before quiet hours), else None."""
    local = to_local(now, settings.tz)
    at, quiet = settings.rollcall_reminder_at, settings.quiet_hours_start
    if local.time() < at or (quiet > at and local.time() >= quiet):
        return None
    return local.date()


async def remind_roll_calls(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue today's overdue roll-call reminders; returns how many were queued."""
    today = _due(settings, now)
    if today is None:
        return 0
    submitted = exists().where(RollCall.class_id == SchoolClass.id, RollCall.day == today, RollCall.revision > 0)
    enrolled = exists().where(Student.class_id == SchoolClass.id, Student.status == EnrolmentStatus.ENROLLED)
    rows = (
        await session.execute(
            select(SchoolClass, Person)
            .join(StaffRole, (StaffRole.class_id == SchoolClass.id) & (StaffRole.role == Role.CLASS_TEACHER))
            .join(Person, Person.id == StaffRole.person_id)
            .where(~submitted, enrolled)
            .order_by(SchoolClass.id, Person.id)
        )
    ).all()
    if not rows:
        return 0
    calendars = await load_calendars(session, {school_class.school_id for school_class, _ in rows})
    wanted = {
        reminder_key(school_class.id, today, person.id): (school_class, person)
        for school_class, person in rows
        if school_class.school_id in calendars and calendars[school_class.school_id].is_school_day(today)
    }
    if not wanted:
        return 0
    queued_before = await queued_keys(session, wanted)
    queued = 0
    for key, (school_class, person) in wanted.items():
        if key in queued_before:
            continue
        delivery = await enqueue_notice(
            session, settings, now, person, TEMPLATE, {"class_name": school_class.name, "day": today}, key,
            actions=[[Action("📋 Roll call", OPEN_ACTION, school_class.id)]], entity="class",
            entity_id=school_class.id,
        )
        queued += delivery is Delivery.QUEUED
    return queued
