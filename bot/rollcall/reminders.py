"""The tick's roll-call step: one reminder to each class teacher whose class has no submitted roll call once the
reminder time of a school day has passed (辍学上报不过夜).

Found with a constant number of queries whatever the number of classes: the classes without a submitted roll call
today and their teachers (one query), their schools' calendars (`load_calendars`, three), the reminders already
queued (one). Each reminder is an outbox row keyed per class, day and teacher, so a second tick adds nothing.
Classes with nobody ENROLLED need no roll call. After quiet hours begin the day's reminder is no longer sent.

A class whose roll call is still missing at `rollcall.missing_alert_at` (policy) reaches the school's officers: one
notice per officer and day listing the school's classes without a roll call (`alert_missing_roll_calls`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendars
from bot.core.clock import to_local
from bot.core.policy import Policy
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
OFFICER_TEMPLATE = "rollcall_missing_officer"
OFFICER_ROLES = (Role.SCHOOL_ADMIN, Role.PRINCIPAL)
OPEN_ACTION = "rollcall"  # NoticeAction.action of the reminder's button; handlers.teacher.rollcall opens the roll call


def _missing(today: date):
    """Classes with someone ENROLLED and no submitted roll call today."""
    submitted = exists().where(RollCall.class_id == SchoolClass.id, RollCall.day == today, RollCall.revision > 0)
    enrolled = exists().where(Student.class_id == SchoolClass.id, Student.status == EnrolmentStatus.ENROLLED)
    return and_(~submitted, enrolled)


def reminder_key(class_id: int, day: date, person_id: int) -> str:
    return f"rollcall-reminder:{class_id}:{day.isoformat()}:{person_id}"


def _due(settings: Settings, now: datetime, at: time) -> date | None:
    """Today's local date when a notice due at `at` is due now (past that time, before quiet hours), else None."""
    local = to_local(now, settings.tz)
    quiet = settings.quiet_hours_start
    if local.time() < at or (quiet > at and local.time() >= quiet):
        return None
    return local.date()


async def remind_roll_calls(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue today's overdue roll-call reminders; returns how many were queued."""
    today = _due(settings, now, settings.rollcall_reminder_at)
    if today is None:
        return 0
    rows = (
        await session.execute(
            select(SchoolClass, Person)
            .join(StaffRole, (StaffRole.class_id == SchoolClass.id) & (StaffRole.role == Role.CLASS_TEACHER))
            .join(Person, Person.id == StaffRole.person_id)
            .where(_missing(today))
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


async def alert_missing_roll_calls(session: AsyncSession, settings: Settings, policy: Policy, now: datetime) -> int:
    """At `rollcall.missing_alert_at` of a school day, each officer of a school with classes still without a
    submitted roll call gets one notice listing them (key per school, day and officer); returns how many were
    queued. A missing roll call is neither present nor a break in a run of absences: the officer sees to it."""
    today = _due(settings, now, policy.rollcall.missing_alert_at)
    if today is None:
        return 0
    classes = list(await session.scalars(select(SchoolClass).where(_missing(today)).order_by(SchoolClass.name)))
    calendars = await load_calendars(session, {c.school_id for c in classes})
    by_school: dict[int, list[SchoolClass]] = defaultdict(list)
    for school_class in classes:
        calendar = calendars.get(school_class.school_id)
        if calendar is not None and calendar.is_school_day(today):
            by_school[school_class.school_id].append(school_class)
    if not by_school:
        return 0
    officers = (await session.execute(
        select(StaffRole.school_id, Person).join(Person, Person.id == StaffRole.person_id)
        .where(StaffRole.role.in_(OFFICER_ROLES), StaffRole.school_id.in_(list(by_school)))
        .order_by(StaffRole.id)
    )).all()
    wanted: dict[str, tuple[int, Person]] = {
        f"rollcall-missing:{school_id}:{today.isoformat()}:{person.id}": (school_id, person)
        for school_id, person in officers if school_id is not None
    }
    queued_before = await queued_keys(session, wanted)
    queued = 0
    for key, (school_id, person) in wanted.items():
        if key in queued_before:
            continue
        values = {"day": today, "classes": [c.name for c in by_school[school_id]]}
        delivery = await enqueue_notice(session, settings, now, person, OFFICER_TEMPLATE, values, key,
                                        entity="school", entity_id=school_id)
        queued += delivery is Delivery.QUEUED
    return queued
