"""A guardian's answer to an absence notice: checked, stored, audited and forwarded to the class teacher.

A guardian may answer late and may change the answer: every answer is a new `AbsenceReply` (the newest counts,
earlier ones stay as history) and reaches the teacher as a `guardian_reply` notice. When no class teacher can be
reached in the bot (none linked, or they blocked it), the school's officers receive it instead, so that the school
always learns what the family said (a request to call above all); `tell_class_or_school` is that rule, shared with
leave requests (`..leave`). Tapping the same answer again changes nothing and sends nothing. No aiogram here: the
handlers call these functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendar
from bot.core import audit
from bot.core.clock import to_local
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.notices.absence import asks_reply
from bot.notices.outbox import Delivery, enqueue_notice
from storage.models import (
    Absence,
    AbsenceReply,
    GuardianAnswer,
    Guardianship,
    Person,
    Role,
    SchoolClass,
    StaffRole,
    Student,
)

MAX_TEXT = 500  # characters of a free-text answer (AbsenceReply.text)


class ReplyStatus(StrEnum):
    RECORDED = "recorded"
    UNCHANGED = "unchanged"  # the same answer as this guardian's newest one: nothing new stored or sent
    STALE = "stale"  # the teacher corrected the roll call: the child was not absent after all
    FORBIDDEN = "forbidden"  # not this person's child, or no such absence
    INVALID = "invalid"  # an unknown answer, or "other" without text, or text over MAX_TEXT


@dataclass
class ReplyResult:
    status: ReplyStatus
    absence: Absence | None = None
    student: Student | None = None
    reply: AbsenceReply | None = None
    previous: AbsenceReply | None = None  # this guardian's answer before this one
    forwarded: list[Delivery] = field(default_factory=list)  # one per class teacher told
    to_school: list[Delivery] = field(default_factory=list)  # one per school officer told, when no teacher was reached

    @property
    def ok(self) -> bool:
        return self.status in (ReplyStatus.RECORDED, ReplyStatus.UNCHANGED)

    @property
    def teacher_reached(self) -> bool:
        return reached(self.forwarded)

    @property
    def school_reached(self) -> bool:
        return reached(self.to_school)


def reached(deliveries: Iterable[Delivery]) -> bool:
    """Whether any of these notices is on its way (queued now, or before under the same key)."""
    return any(d in (Delivery.QUEUED, Delivery.DUPLICATE) for d in deliveries)


async def absence_in_scope(session: AsyncSession, actor: Actor | None, absence_id: int) -> Absence | None:
    """The absence, if it concerns one of the actor's children (else None: the same answer as "no such absence")."""
    if actor is None:
        return None
    absence = await session.get(Absence, absence_id)
    if absence is None or absence.student_id not in actor.children:
        return None
    return absence


async def latest_reply(session: AsyncSession, absence_id: int, person_id: int | None = None) -> AbsenceReply | None:
    stmt = select(AbsenceReply).where(AbsenceReply.absence_id == absence_id)
    if person_id is not None:
        stmt = stmt.where(AbsenceReply.person_id == person_id)
    return await session.scalar(stmt.order_by(AbsenceReply.at.desc(), AbsenceReply.id.desc()).limit(1))


async def record_reply(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    actor: Actor | None,
    absence_id: int,
    answer: str,
    text: str | None = None,
) -> ReplyResult:
    absence = await absence_in_scope(session, actor, absence_id)
    if absence is None or actor is None:
        return ReplyResult(ReplyStatus.FORBIDDEN)
    student = await session.get_one(Student, absence.student_id)
    if absence.withdrawn_at is not None:
        return ReplyResult(ReplyStatus.STALE, absence, student)
    try:
        answer = GuardianAnswer(answer)
    except ValueError:
        return ReplyResult(ReplyStatus.INVALID, absence, student)
    if answer is GuardianAnswer.OTHER:
        text = (text or "").strip()
        if not text or len(text) > MAX_TEXT:
            return ReplyResult(ReplyStatus.INVALID, absence, student)
    else:
        text = None

    previous = await latest_reply(session, absence.id, actor.person_id)
    if previous is not None and previous.answer == answer and (previous.text or None) == text:
        return ReplyResult(ReplyStatus.UNCHANGED, absence, student, previous, previous)

    reply = AbsenceReply(absence_id=absence.id, person_id=actor.person_id, answer=answer, text=text, at=now)
    session.add(reply)
    await session.flush()
    audit.record(session, now, "absence.reply", "absence", absence.id, actor_person_id=actor.person_id,
                 reply_id=reply.id, answer=answer.value, changed=previous is not None)
    _excuse_if_sick(session, now, actor, absence, answer, previous, reply)

    guardian = await session.get(Person, actor.person_id)
    relation = await session.scalar(select(Guardianship.relation).where(
        Guardianship.student_id == student.id, Guardianship.person_id == actor.person_id))
    values = {
        "guardian": guardian.name if guardian else actor.name,
        "relation": relation or "",
        "child": student.name,
        "class_name": student.school_class.name,
        "day": absence.day,
        "answer": answer.value,
        "text": text or "",
        "changed": previous is not None,
        "previous_answer": previous.answer if previous is not None else "",
        "back_on": await back_on(session, settings, now, student) if answer is GuardianAnswer.BACK_TOMORROW else None,
    }

    async def forward(person: Person, to_school: bool) -> Delivery:
        return await enqueue_notice(session, settings, now, person, "guardian_reply", values | {"to_school": to_school},
                                    f"guardian-reply:{reply.id}:{person.id}", entity="absence", entity_id=absence.id)

    forwarded, to_school = await tell_class_or_school(session, student.school_class, forward)
    return ReplyResult(ReplyStatus.RECORDED, absence, student, reply, previous, [d for _, d in forwarded],
                       [d for _, d in to_school])


Sent = list[tuple[Person, Delivery]]  # who was sent a notice, and what became of it


async def tell_class_or_school(session: AsyncSession, school_class: SchoolClass,
                               send: Callable[[Person, bool], Awaitable[Delivery]]) -> tuple[Sent, Sent]:
    """Something from a family for the class teacher: `send(person, to_school)` queues it for each of the class's
    teachers (to_school False); when none of them can be reached in the bot (none linked, or they blocked it), for
    each of the school's officers in their place (to_school True), so that it never reaches nobody while someone
    at the school could hear it. Returns (teachers, officers), each with what became of their notice."""
    teachers = await teachers_of_class(session, school_class.id)
    told = [(teacher, await send(teacher, False)) for teacher in teachers]
    if reached(d for _, d in told):
        return told, []
    skip = {teacher.id for teacher in teachers}
    officers = [officer for officer in await school_officers(session, school_class.school_id) if officer.id not in skip]
    return told, [(officer, await send(officer, True)) for officer in officers]


async def back_on(session: AsyncSession, settings: Settings, now: datetime, student: Student) -> date | None:
    """The day "back tomorrow" means: the next school day on the school's calendar after the day of the answer
    (Monday for an answer on a Friday, the first day after a holiday). Also for the answer to the 劝学书
    (bot.cases.actions)."""
    calendar = await load_calendar(session, student.school_class.school_id)
    days = calendar.school_days_after(to_local(now, settings.tz).date(), 1)
    return days[0] if days else None


def _excuse_if_sick(session: AsyncSession, now: datetime, actor: Actor, absence: Absence, answer: GuardianAnswer,
                    previous: AbsenceReply | None, reply: AbsenceReply) -> None:
    """A guardian's "sick" makes an absence that asked for a reason excused (it no longer counts towards a
    suspected dropout, bot.cases.ladder) until the teacher says otherwise; the same guardian changing their answer
    away from "sick" takes that back."""
    if not asks_reply(absence.reason):
        return
    if answer is GuardianAnswer.SICK and not absence.excused:
        absence.excused = True
        audit.record(session, now, "absence.excused_by_answer", "absence", absence.id,
                     actor_person_id=actor.person_id, reply_id=reply.id)
    elif (answer is not GuardianAnswer.SICK and absence.excused and previous is not None
          and previous.answer == GuardianAnswer.SICK):
        absence.excused = False
        audit.record(session, now, "absence.unexcused_by_answer", "absence", absence.id,
                     actor_person_id=actor.person_id, reply_id=reply.id)


async def teachers_of_class(session: AsyncSession, class_id: int) -> list[Person]:
    return list(await session.scalars(
        select(Person).join(StaffRole, StaffRole.person_id == Person.id)
        .where(StaffRole.role == Role.CLASS_TEACHER, StaffRole.class_id == class_id).order_by(StaffRole.id)
    ))


async def school_officers(session: AsyncSession, school_id: int | None) -> list[Person]:
    """The school's admins (控辍专干) and principal, each once."""
    people = await session.scalars(
        select(Person).join(StaffRole, StaffRole.person_id == Person.id)
        .where(StaffRole.role.in_((Role.SCHOOL_ADMIN, Role.PRINCIPAL)), StaffRole.school_id == school_id)
        .order_by(StaffRole.id)
    )
    return list({person.id: person for person in people}.values())


@dataclass(frozen=True)
class SiblingAnswer:
    absence: Absence
    student: Student
    answer: str | None  # this guardian's newest answer, if any


async def notice_children(session: AsyncSession, actor: Actor, absence: Absence) -> list[SiblingAnswer]:
    """The absences a sibling notice asks about, as the guardian's keyboard shows them: the actor's children
    absent in the same roll call with a reason that asks for a reply, each with the actor's newest answer."""
    absences = list(await session.scalars(
        select(Absence).where(
            Absence.roll_call_id == absence.roll_call_id, Absence.student_id.in_(list(actor.children)),
            Absence.withdrawn_at.is_(None),
        ).order_by(Absence.id)
    ))
    absences = [a for a in absences if asks_reply(a.reason) or a.id == absence.id]
    result = []
    for item in absences:
        student = await session.get_one(Student, item.student_id)
        reply = await latest_reply(session, item.id, actor.person_id)
        result.append(SiblingAnswer(item, student, reply.answer if reply else None))
    return sorted(result, key=lambda s: (s.student.name, s.absence.id))
