"""Whether a person can be reached on a channel, and what happens when they cannot.

A guardian who blocks the bot (or never started it) is not reached by notices any more; their child's class teacher
is told once to phone them. The notice does not carry the number (messages cross the border and carry no one's phone
number, DOMAIN.md, Privacy): it is in the teacher's class roster. A staff member who cannot be reached is only marked.
Plain Python, no aiogram: the sender (on a 403) and the membership handler (on "kicked") call the same functions.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import audit
from bot.core.settings import Settings
from bot.notices.outbox import enqueue_notice
from storage.db import rows_affected
from storage.models import (
    ContactPoint,
    EnrolmentStatus,
    Guardianship,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    StaffRole,
    Student,
)

log = logging.getLogger(__name__)

TEMPLATE = "guardian_unreachable"
GONE = (EnrolmentStatus.TRANSFERRED, EnrolmentStatus.GRADUATED)  # their teacher is no longer theirs to call


async def contact_at(session: AsyncSession, channel: str, address: str) -> ContactPoint | None:
    """The contact point with this channel address, if anyone is linked there."""
    stmt = select(ContactPoint).where(ContactPoint.channel == channel, ContactPoint.address == address)
    return await session.scalar(stmt)


async def mark_unreachable(session: AsyncSession, settings: Settings, now: datetime, contact: ContactPoint,
                           why: str) -> None:
    """Mark `contact` unreachable (once), stop the person's queued notices there, and ask the class teachers of
    their children to phone them. Does nothing if the contact point is already marked unreachable."""
    if not contact.reachable:
        return
    contact.reachable = False
    contact.unreachable_since = now
    audit.record(session, now, "contact_unreachable", "person", contact.person_id, actor="system",
                 contact_point_id=contact.id, channel=contact.channel, why=why)
    stopped = await rows_affected(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.person_id == contact.person_id, OutboxMessage.channel == contact.channel,
               OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.UNREACHABLE, last_error=why[:300])
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    told = await _tell_class_teachers(session, settings, now, contact)
    log.info("contact point %s of person %s unreachable (%s): %s queued notices stopped, teachers told: %s",
             contact.id, contact.person_id, why, stopped, told)


async def mark_reachable(session: AsyncSession, now: datetime, contact: ContactPoint) -> None:
    """The person is back (/start again, or they unblocked the bot). Notices stopped meanwhile stay stopped."""
    if contact.reachable:
        return
    contact.reachable = True
    contact.unreachable_since = None
    audit.record(session, now, "contact_reachable", "person", contact.person_id, actor="system",
                 contact_point_id=contact.id, channel=contact.channel)
    await session.flush()
    log.info("contact point %s of person %s reachable again", contact.id, contact.person_id)


async def _tell_class_teachers(session: AsyncSession, settings: Settings, now: datetime,
                               contact: ContactPoint) -> list[int]:
    """One notice per class teacher of the person's children (listing those children); returns the teachers' ids."""
    rows = await session.execute(
        select(StaffRole.person_id, Student.name, Guardianship.relation)
        .select_from(Guardianship)
        .join(Student, Student.id == Guardianship.student_id)
        .join(StaffRole, and_(StaffRole.class_id == Student.class_id, StaffRole.role == Role.CLASS_TEACHER))
        .where(Guardianship.person_id == contact.person_id, Student.status.not_in(GONE),
               StaffRole.person_id != contact.person_id)
        .order_by(StaffRole.person_id, Student.id)
    )
    children_by_teacher: dict[int, list[dict[str, str | None]]] = {}
    for teacher_id, child, relation in rows:
        children_by_teacher.setdefault(teacher_id, []).append({"name": child, "relation": relation})
    if not children_by_teacher:
        return []
    guardian = await session.get_one(Person, contact.person_id)
    since = (contact.unreachable_since or now).strftime("%Y%m%dT%H%M%S")
    told = []
    for teacher_id, children in children_by_teacher.items():
        teacher = await session.get_one(Person, teacher_id)
        values = {"guardian": guardian.name, "has_phone": bool(guardian.phone), "children": children}
        await enqueue_notice(session, settings, now, teacher, TEMPLATE, values,
                             f"unreachable:{contact.id}:{since}:{teacher_id}", entity="person", entity_id=guardian.id)
        told.append(teacher_id)
    return told
