"""学期初 "学校全覆盖、学生逐一核": checks at the start of each term, done by the tick.

- 名在人不在: on the school's `policy.term_start.check_after`-th school day of the term (from the time of
  `policy.contact.teacher_phone_at`), each school's officers receive the list of students on the roll who were not
  present on any of those days with a roll call. (Those still absent become suspected cases by the ladder's usual
  threshold: nothing more is needed here.)
- 小升初: on the same day of an autumn term, each county officer receives the list of the county's pupils who
  graduated from a grade-6 class since 1 January and are on no other roll of the county (matched by 学籍号, or by
  name and date of birth when a school has no 学籍号).

Each list goes once (idempotency keys name the school or county and the term's first day).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import SchoolCalendar, load_calendars
from bot.core.clock import to_local
from bot.core.policy import Policy
from bot.core.settings import Settings
from bot.notices.outbox import Delivery, enqueue_notice
from storage.models import (
    Absence,
    EnrolmentChange,
    EnrolmentChangeKind,
    EnrolmentStatus,
    Person,
    Role,
    RollCall,
    School,
    SchoolClass,
    StaffRole,
    Student,
    Township,
)

GRADE_SIX = ("六年级", "6年级")  # class names of the last primary grade


async def run_term_start_checks(session: AsyncSession, settings: Settings, policy: Policy, now: datetime) -> int:
    """Queue the lists due at `now`; returns how many notices were queued."""
    local = to_local(now, settings.tz)
    if local.time() < policy.contact.teacher_phone_at:
        return 0
    today = local.date()
    calendars = await load_calendars(session)
    due = _due(calendars, today, policy.term_start.check_after.amount)
    if not due:
        return 0
    queued = await _missing_lists(session, settings, now, due)
    autumn = {school_id: window for school_id, window in due.items() if window[0].month in (8, 9)}
    if autumn:
        queued += await _grade_six_lists(session, settings, now, autumn)
    return queued


def _due(calendars: dict[int, SchoolCalendar], today: date, n: int) -> dict[int, list[date]]:
    """Schools for which today is the n-th school day of the term, with those days."""
    due = {}
    for school_id, calendar in calendars.items():
        term = calendar.term_on(today)
        if term is None:
            continue
        days = calendar.school_days(term.start, today)
        if len(days) == n and days[-1] == today:
            due[school_id] = days
    return due


async def _officers(session: AsyncSession, column, ids: set[int], roles: tuple[Role, ...]) -> dict[int, list[Person]]:
    rows = await session.execute(select(column, Person).join(Person, Person.id == StaffRole.person_id)
                                 .where(column.in_(ids), StaffRole.role.in_(roles)).order_by(Person.id))
    found: dict[int, list[Person]] = defaultdict(list)
    for key, person in rows:
        if person not in found[key]:
            found[key].append(person)
    return found


async def _missing_lists(session: AsyncSession, settings: Settings, now: datetime, due: dict[int, list[date]]) -> int:
    days = sorted({day for window in due.values() for day in window})
    students = list(await session.execute(
        select(Student.id, Student.name, SchoolClass.id, SchoolClass.name, SchoolClass.school_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(SchoolClass.school_id.in_(due), Student.status == EnrolmentStatus.ENROLLED)
        .order_by(SchoolClass.name, Student.id)
    ))
    called = defaultdict(set)  # class → days with a submitted roll call
    for class_id, day in await session.execute(
        select(RollCall.class_id, RollCall.day).join(SchoolClass, SchoolClass.id == RollCall.class_id)
        .where(SchoolClass.school_id.in_(due), RollCall.day.in_(days), RollCall.submitted_at.is_not(None))
    ):
        called[class_id].add(day)
    absent = defaultdict(set)
    for student_id, day in await session.execute(
        select(Absence.student_id, Absence.day).join(Student, Student.id == Absence.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(SchoolClass.school_id.in_(due), Absence.day.in_(days), Absence.withdrawn_at.is_(None))
    ):
        absent[student_id].add(day)
    missing: dict[int, list[dict[str, str]]] = defaultdict(list)
    for student_id, name, class_id, class_name, school_id in students:
        recorded = called[class_id] & set(due[school_id])
        if recorded and recorded <= absent[student_id]:
            missing[school_id].append({"child": name, "class_name": class_name})
    officers = await _officers(session, StaffRole.school_id, set(due), (Role.SCHOOL_ADMIN, Role.PRINCIPAL))
    queued = 0
    for school_id, window in due.items():
        values = {"children": missing.get(school_id, []), "days": len(window), "first_day": window[0]}
        for person in officers.get(school_id, []):
            key = f"term-start:{school_id}:{window[0].isoformat()}:{person.id}"
            delivery = await enqueue_notice(session, settings, now, person, "term_start_missing", values, key,
                                            entity="school", entity_id=school_id)
            queued += delivery is Delivery.QUEUED
    return queued


async def _grade_six_lists(session: AsyncSession, settings: Settings, now: datetime,
                           autumn: dict[int, list[date]]) -> int:
    first_day = min(window[0] for window in autumn.values())
    counties = {county for (county,) in await session.execute(
        select(Township.county_id).join(School, School.township_id == Township.id).where(School.id.in_(autumn)))}
    county_of = func.coalesce(Township.county_id, 0)
    graduates = list(await session.execute(
        select(Student.id, Student.name, Student.student_no, Student.birth_date, SchoolClass.name, School.name,
               county_of)
        .join(EnrolmentChange, EnrolmentChange.student_id == Student.id)
        .join(SchoolClass, SchoolClass.id == EnrolmentChange.class_id).join(School, School.id == SchoolClass.school_id)
        .join(Township, Township.id == School.township_id)
        .where(EnrolmentChange.kind == EnrolmentChangeKind.GRADUATION, county_of.in_(counties),
               EnrolmentChange.effective_on >= date(first_day.year, 1, 1),
               EnrolmentChange.effective_on < first_day)
    ))
    graduates = [row for row in graduates if any(word in row[4] for word in GRADE_SIX)]
    numbers = {row[2] for row in graduates if row[2]}
    people = {(row[1], row[3]) for row in graduates}
    on_roll = list(await session.execute(
        select(Student.id, Student.student_no, Student.name, Student.birth_date)
        .where(Student.status == EnrolmentStatus.ENROLLED,
               (Student.student_no.in_(numbers)) | Student.name.in_({name for name, _ in people}))
    ))
    found_numbers = {row[1] for row in on_roll if row[1]}
    found_people = {(row[2], row[3]) for row in on_roll}
    lost: dict[int, list[dict[str, str]]] = defaultdict(list)
    for _sid, name, number, born, class_name, school, county in graduates:
        if (number and number in found_numbers) or (not number and (name, born) in found_people):
            continue
        lost[county].append({"child": name, "class_name": class_name, "school": school})
    officers = await _officers(session, StaffRole.county_id, counties, (Role.COUNTY_OFFICER,))
    queued = 0
    for county_id in counties:
        values = {"children": lost.get(county_id, []), "first_day": first_day}
        for person in officers.get(county_id, []):
            key = f"grade-six:{county_id}:{first_day.isoformat()}:{person.id}"
            delivery = await enqueue_notice(session, settings, now, person, "grade_six_followup", values, key,
                                            entity="county", entity_id=county_id)
            queued += delivery is Delivery.QUEUED
    return queued
