"""Patterns, not only runs (多次旷课: 预防未成年人犯罪法 art. 28): a child absent often, never 3 days in a row.

In the tick (`run_ladder`), on each school's school days: an ENROLLED student without an open case whose absences
this calendar month reach `patterns.unexplained_days_per_month` (unexplained or unknown) or
`patterns.excused_days_per_month` (sick or personal leave, guardians' "sick" answers, approved leave) gets a
`WatchItem` for that month and kind, claimed once by its unique key, and the school's officers are alerted
(`pattern_alert`). A watch item is listed with the cases (`list_watch_items`), not opened as a dropout case.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import case as sql_case
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.policy import Policy
from storage.models import Absence, Case, EnrolmentStatus, Person, SchoolClass, StaffRole, Student, WatchItem

from .common import COUNTED_REASONS, OFFICER_ROLES, insert_for
from .model import Recipient, Told, WatchItemView
from .outbox import NoticeBatch

UNEXPLAINED, EXCUSED = "unexplained", "excused"


async def raise_watch_items(batch: NoticeBatch, policy: Policy, today: date, school_day: set[int]) -> int:
    """Watch items reached today (see the module's docstring); returns how many were raised."""
    session, now = batch.session, batch.now
    month = today.replace(day=1)
    counted = (Absence.excused.is_(False)) & Absence.reason.in_(COUNTED_REASONS)
    open_case = exists().where(Case.student_id == Student.id, Case.closed_at.is_(None))
    rows = (await session.execute(
        select(Student.id, SchoolClass.school_id,
               func.sum(sql_case((counted, 1), else_=0)), func.sum(sql_case((counted, 0), else_=1)))
        .join(Absence, Absence.student_id == Student.id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Absence.day >= month, Absence.day <= today, Absence.withdrawn_at.is_(None),
               Student.status == EnrolmentStatus.ENROLLED, SchoolClass.school_id.in_(school_day), ~open_case)
        .group_by(Student.id, SchoolClass.school_id)
    )).all()
    limits = {UNEXPLAINED: policy.patterns.unexplained_days_per_month,
              EXCUSED: policy.patterns.excused_days_per_month}
    wanted = [
        {"student_id": sid, "school_id": school_id, "kind": kind, "month": month, "days": int(days), "raised_at": now}
        for sid, school_id, unexplained, excused in rows
        for kind, days in ((UNEXPLAINED, unexplained), (EXCUSED, excused)) if days >= limits[kind]
    ]
    if not wanted:
        return 0
    raised = list(await session.scalars(
        insert_for(session)(WatchItem).values(wanted)
        .on_conflict_do_nothing(index_elements=["student_id", "kind", "month"]).returning(WatchItem.id)
    ))
    if not raised:
        return 0
    items = list(await session.scalars(select(WatchItem).where(WatchItem.id.in_(raised)).order_by(WatchItem.id)))
    await _alert(batch, items)
    return len(items)


async def _alert(batch: NoticeBatch, items: list[WatchItem]) -> list[Told]:
    session = batch.session
    pupils = {sid: (name, class_name) for sid, name, class_name in await session.execute(
        select(Student.id, Student.name, SchoolClass.name).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(Student.id.in_({i.student_id for i in items})))}
    officers: dict[int, list[Person]] = defaultdict(list)
    for school_id, person in await session.execute(
        select(StaffRole.school_id, Person).join(Person, Person.id == StaffRole.person_id)
        .where(StaffRole.role.in_(OFFICER_ROLES), StaffRole.school_id.in_({i.school_id for i in items}))
        .order_by(StaffRole.id)
    ):
        if school_id is not None:
            officers[school_id].append(person)
    await batch.prefetch({p.id for people in officers.values() for p in people})
    told = []
    for item in items:
        name, class_name = pupils[item.student_id]
        values = {"child": name, "class_name": class_name, "kind": item.kind, "days": item.days, "month": item.month}
        for person in officers.get(item.school_id, []):
            delivery = batch.add(person, "pattern_alert", values, f"pattern:{item.id}:{person.id}",
                                 entity="student", entity_id=item.student_id)
            told.append(Told(person.id, person.name, Recipient.SCHOOL_OFFICER, delivery))
    return told


async def watch_items_of(session: AsyncSession, school_ids: set[int], class_ids: set[int], since: date
                         ) -> list[WatchItemView]:
    """Watch items raised since `since` for these schools (all their classes) and classes, newest first."""
    if not school_ids and not class_ids:
        return []
    rows = await session.execute(
        select(WatchItem, Student.name, SchoolClass.name, SchoolClass.id)
        .join(Student, Student.id == WatchItem.student_id).join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(WatchItem.month >= since.replace(day=1),
               WatchItem.school_id.in_(school_ids) | SchoolClass.id.in_(class_ids))
        .order_by(WatchItem.raised_at.desc(), WatchItem.id.desc())
    )
    return [WatchItemView(item.id, item.student_id, name, class_name, item.kind, item.month, item.days,
                          item.raised_at) for item, name, class_name, _class_id in rows]
