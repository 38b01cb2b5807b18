"""请假: leave asked for in advance by a guardian and decided by the class teacher.

Approved leave makes the days it covers excused: the roll call records those students as on leave and no absence
notice goes out for them. A guardian asks (`request_leave`); the class teachers get a `leave_request` notice with
「批准」/「不批准」 buttons, or, while no class teacher can be reached in the bot, the school's officers (admins and
principal) get it in their place (the rule of guardians' answers, `bot.families.replies.tell_class_or_school`); the
first teacher (or school officer) to decide wins (`decide_leave`), and the guardian gets a `leave_decision` notice
saying who decided; when the school decided, the class teachers get a `leave_decided_by_school` notice. Absences
the roll call already recorded for days the approved leave covers become excused (reason approved_leave). Leave of
more school days than policy `leave.teacher_max` goes to the school's officers, and only they decide it (a class
teacher's approval is limited). No aiogram here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendar
from bot.core import audit
from bot.core.clock import to_local
from bot.core.policy import Policy, default_policy
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.families.replies import Sent, reached, school_officers, teachers_of_class, tell_class_or_school
from bot.notices.outbox import Action, Delivery, enqueue_notice
from storage.db import rows_affected
from storage.models import (
    Absence,
    AbsenceReason,
    ContactPoint,
    Guardianship,
    LeaveRequest,
    LeaveStatus,
    OutboxMessage,
    Person,
    Role,
    SchoolClass,
    StaffRole,
    Student,
)

MAX_LEAVE_DAYS = 30  # calendar days one request may cover; longer absences go through the school (休学)
MAX_NOTE = 500
LEAVE_REASONS = (AbsenceReason.SICK, AbsenceReason.PERSONAL)
LEAVE_ACTION = "leave"  # NoticeAction(action="leave", ref=leave id, value="yes" | "no")


def _(message: str) -> str:
    """Extraction marker only: button labels are msgids, translated for the recipient when the notice is queued."""
    return message


async def approved_leave(session: AsyncSession, student_ids: Iterable[int], day: date) -> dict[int, LeaveRequest]:
    """The approved leave covering `day` for each of these students that has one."""
    rows = await session.scalars(
        select(LeaveRequest).where(
            LeaveRequest.student_id.in_(list(student_ids)),
            LeaveRequest.status == LeaveStatus.APPROVED,
            LeaveRequest.first_day <= day,
            LeaveRequest.last_day >= day,
        )
    )
    return {leave.student_id: leave for leave in rows}


# --- asking -------------------------------------------------------------------------------------------------------


class LeaveProblem(StrEnum):
    FORBIDDEN = "forbidden"  # not the actor's child
    BAD_RANGE = "bad_range"  # last day before the first
    IN_PAST = "in_past"  # starts before today
    TOO_LONG = "too_long"  # over MAX_LEAVE_DAYS
    BAD_REASON = "bad_reason"  # not sick or personal leave
    NOTE_TOO_LONG = "note_too_long"
    OVERLAP = "overlap"  # a pending or approved request already covers some of these days


@dataclass
class LeaveRequestResult:
    leave: LeaveRequest | None = None
    problem: LeaveProblem | None = None
    existing: LeaveRequest | None = None  # the overlapping request (OVERLAP)
    teachers: list[tuple[Person, Delivery]] = field(default_factory=list)
    school: list[tuple[Person, Delivery]] = field(default_factory=list)  # officers asked, when no teacher was reached
    over_limit: bool = False  # longer than a class teacher may approve: the school's officers decide

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def teacher_reached(self) -> bool:
        return reached(d for _, d in self.teachers)

    @property
    def school_reached(self) -> bool:
        return reached(d for _, d in self.school)


def today(settings: Settings, now: datetime) -> date:
    return to_local(now, settings.tz).date()


async def leave_last_day(session: AsyncSession, student_id: int, first_day: date, school_days: int) -> date:
    """The last day of leave covering `school_days` school days from `first_day` (weekends and holidays between
    are not counted); calendar days when the calendar has no school day ahead."""
    if school_days <= 1:
        return first_day
    student = await session.get(Student, student_id)
    if student is None:
        return first_day + timedelta(days=school_days - 1)
    calendar = await load_calendar(session, student.school_class.school_id)
    days = calendar.school_days_after(first_day - timedelta(days=1), school_days)
    return days[-1] if len(days) == school_days else first_day + timedelta(days=school_days - 1)


async def school_days_of(session: AsyncSession, student: Student, leave: LeaveRequest) -> int:
    """How many school days the leave covers on the student's school calendar."""
    calendar = await load_calendar(session, student.school_class.school_id)
    return calendar.count_school_days(leave.first_day, leave.last_day)


async def request_leave(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    actor: Actor | None,
    student_id: int,
    first_day: date,
    last_day: date,
    reason: str,
    note: str | None = None,
    *,
    policy: Policy | None = None,
) -> LeaveRequestResult:
    """Ask for leave (see the module's docstring). Leave over `leave.teacher_max` school days (policy; the defaults
    when None) goes to the school's officers only."""
    if actor is None or student_id not in actor.children:
        return LeaveRequestResult(problem=LeaveProblem.FORBIDDEN)
    student = await session.get(Student, student_id)
    if student is None:
        return LeaveRequestResult(problem=LeaveProblem.FORBIDDEN)
    note = (note or "").strip() or None
    problem = None
    if first_day > last_day:
        problem = LeaveProblem.BAD_RANGE
    elif first_day < today(settings, now):
        problem = LeaveProblem.IN_PAST
    elif (last_day - first_day).days + 1 > MAX_LEAVE_DAYS:
        problem = LeaveProblem.TOO_LONG
    elif reason not in LEAVE_REASONS:
        problem = LeaveProblem.BAD_REASON
    elif note is not None and len(note) > MAX_NOTE:
        problem = LeaveProblem.NOTE_TOO_LONG
    if problem is not None:
        return LeaveRequestResult(problem=problem)
    existing = await session.scalar(
        select(LeaveRequest).where(
            LeaveRequest.student_id == student_id,
            LeaveRequest.status.in_((LeaveStatus.PENDING, LeaveStatus.APPROVED)),
            LeaveRequest.first_day <= last_day,
            LeaveRequest.last_day >= first_day,
        ).order_by(LeaveRequest.id).limit(1)
    )
    if existing is not None:
        return LeaveRequestResult(problem=LeaveProblem.OVERLAP, existing=existing)

    leave = LeaveRequest(student_id=student_id, requested_by=actor.person_id, first_day=first_day,
                         last_day=last_day, reason=reason, note=note, status=LeaveStatus.PENDING, requested_at=now)
    session.add(leave)
    await session.flush()
    audit.record(session, now, "leave.requested", "leave_request", leave.id, actor_person_id=actor.person_id,
                 student_id=student_id, first_day=first_day.isoformat(), last_day=last_day.isoformat(),
                 reason=reason)
    over_limit = await _over_limit(session, student, leave, policy)
    teachers, school = await _ask_deciders(session, settings, now, leave, student, policy, over_limit)
    return LeaveRequestResult(leave=leave, teachers=teachers, school=school, over_limit=over_limit)


async def _over_limit(session: AsyncSession, student: Student, leave: LeaveRequest, policy: Policy | None) -> bool:
    return await school_days_of(session, student, leave) > _teacher_max(policy)


async def _ask_deciders(session: AsyncSession, settings: Settings, now: datetime, leave: LeaveRequest,
                        student: Student, policy: Policy | None, over_limit: bool) -> tuple[Sent, Sent]:
    """Queue the `leave_request` notice for whoever decides it: the class teachers (or the school's officers while
    none can be reached), or only the officers over the teacher's limit. Keyed per person: asking again reaches
    only those not asked yet."""
    values = await _leave_values(session, leave, student)
    actions = [[Action(_("Approve"), LEAVE_ACTION, leave.id, "yes"),
                Action(_("Decline"), LEAVE_ACTION, leave.id, "no")]]

    async def ask(person: Person, to_school: bool) -> Delivery:
        return await enqueue_notice(
            session, settings, now, person, "leave_request",
            values | {"to_school": to_school, "over_limit": over_limit, "teacher_max": _teacher_max(policy)},
            f"leave-request:{leave.id}:{person.id}", actions=actions, entity="leave_request", entity_id=leave.id,
        )

    if over_limit:
        officers = await school_officers(session, student.school_class.school_id)
        return [], [(officer, await ask(officer, True)) for officer in officers]
    return await tell_class_or_school(session, student.school_class, ask)


async def ask_again_unheard(session: AsyncSession, settings: Settings, now: datetime,
                            policy: Policy | None = None) -> int:
    """The tick's step for pending requests that reached nobody (no teacher or officer in the bot when the guardian
    asked): ask again once a class teacher or school officer of the child has joined since, so it costs the tick one
    query while nobody has. Returns how many reached someone."""
    asked = select(OutboxMessage.id).where(OutboxMessage.entity == "leave_request",
                                           OutboxMessage.entity_id == LeaveRequest.id,
                                           OutboxMessage.template == "leave_request")
    joined_since = (
        select(ContactPoint.id)
        .join(StaffRole, StaffRole.person_id == ContactPoint.person_id)
        .join(Student, Student.id == LeaveRequest.student_id)
        .join(SchoolClass, SchoolClass.id == Student.class_id)
        .where(ContactPoint.reachable, ContactPoint.linked_at >= LeaveRequest.requested_at,
               or_(and_(StaffRole.role == Role.CLASS_TEACHER, StaffRole.class_id == Student.class_id),
                   and_(StaffRole.role.in_((Role.SCHOOL_ADMIN, Role.PRINCIPAL)),
                        StaffRole.school_id == SchoolClass.school_id)))
    )
    unheard = list(await session.scalars(
        select(LeaveRequest).where(LeaveRequest.status == LeaveStatus.PENDING,
                                   LeaveRequest.last_day >= today(settings, now), ~asked.exists(),
                                   joined_since.exists())
        .order_by(LeaveRequest.id)
    ))
    reached_someone = 0
    for leave in unheard:
        student = await session.get(Student, leave.student_id)
        if student is None:
            continue
        over_limit = await _over_limit(session, student, leave, policy)
        teachers, school = await _ask_deciders(session, settings, now, leave, student, policy, over_limit)
        reached_someone += int(reached(d for _, d in [*teachers, *school]))
    return reached_someone


def _teacher_max(policy: Policy | None) -> int:
    return (policy or default_policy()).leave.teacher_max.amount


# --- deciding -----------------------------------------------------------------------------------------------------


class DecisionStatus(StrEnum):
    DECIDED = "decided"
    STALE = "stale"  # already decided (by this person or another): `decided_by` says who, `leave.status` what
    FORBIDDEN = "forbidden"  # not the child's class teacher nor an admin of the school
    NEEDS_OFFICER = "needs_officer"  # longer than a class teacher may approve (policy `leave.teacher_max`)
    NOT_FOUND = "not_found"


@dataclass
class LeaveDecisionResult:
    status: DecisionStatus
    leave: LeaveRequest | None = None
    student: Student | None = None
    decided_by: Person | None = None
    excused: list[Absence] = field(default_factory=list)  # absences already recorded that the leave now excuses
    guardian_delivery: Delivery | None = None

    @property
    def ok(self) -> bool:
        return self.status is DecisionStatus.DECIDED


async def decide_leave(
    session: AsyncSession, settings: Settings, now: datetime, actor: Actor | None, leave_id: int, approve: bool,
    *, policy: Policy | None = None,
) -> LeaveDecisionResult:
    """Approve or decline: the class teacher or a school officer; leave over `leave.teacher_max` school days
    (policy; the defaults when None) only a school officer (NEEDS_OFFICER for the teacher, nothing changes)."""
    leave = await session.get(LeaveRequest, leave_id)
    if leave is None:
        return LeaveDecisionResult(DecisionStatus.NOT_FOUND)
    student = await session.get(Student, leave.student_id)
    if actor is None or student is None or not actor.can_manage_class(student.class_id,
                                                                       student.school_class.school_id):
        return LeaveDecisionResult(DecisionStatus.FORBIDDEN)
    if (not actor.administers_school(student.school_class.school_id)
            and await school_days_of(session, student, leave) > _teacher_max(policy)):
        return LeaveDecisionResult(DecisionStatus.NEEDS_OFFICER, leave, student)
    status = LeaveStatus.APPROVED if approve else LeaveStatus.DECLINED
    # Conditional on still pending: of two teachers tapping at once, exactly one decides.
    changed = await rows_affected(
        session,
        update(LeaveRequest)
        .where(LeaveRequest.id == leave.id, LeaveRequest.status == LeaveStatus.PENDING)
        .values(status=status, decided_by=actor.person_id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(leave)
    if changed == 0:
        decider = await session.get(Person, leave.decided_by) if leave.decided_by else None
        return LeaveDecisionResult(DecisionStatus.STALE, leave, student, decider)
    audit.record(session, now, "leave.approved" if approve else "leave.declined", "leave_request", leave.id,
                 actor_person_id=actor.person_id, student_id=student.id)

    excused: list[Absence] = []
    if approve:
        excused = list(await session.scalars(
            select(Absence).where(
                Absence.student_id == student.id, Absence.day >= leave.first_day, Absence.day <= leave.last_day,
                Absence.withdrawn_at.is_(None), Absence.reason != AbsenceReason.APPROVED_LEAVE,
            ).order_by(Absence.day)
        ))
        for absence in excused:
            audit.record(session, now, "absence.excused_by_leave", "absence", absence.id,
                         actor_person_id=actor.person_id, leave_id=leave.id, previous_reason=absence.reason,
                         previous_excused=absence.excused)
            absence.reason = AbsenceReason.APPROVED_LEAVE
            absence.excused = True
        await session.flush()

    decider = await session.get(Person, actor.person_id)
    result = LeaveDecisionResult(DecisionStatus.DECIDED, leave, student, decider, excused)
    by_school = not actor.teaches(student.class_id)
    values = await _leave_values(session, leave, student)
    values |= {"approved": approve, "teacher": decider.name if decider else "", "by_school": by_school,
               "excused_days": [a.day for a in excused]}
    guardian = await session.get(Person, leave.requested_by)
    if guardian is not None:
        result.guardian_delivery = await enqueue_notice(
            session, settings, now, guardian, "leave_decision", values, f"leave-decision:{leave.id}",
            entity="leave_request", entity_id=leave.id,
        )
    if by_school:  # the class teachers learn what the school decided: their roll call shows the leave
        for teacher in await teachers_of_class(session, student.class_id):
            await enqueue_notice(session, settings, now, teacher, "leave_decided_by_school", values,
                                 f"leave-decided:{leave.id}:{teacher.id}", entity="leave_request",
                                 entity_id=leave.id)
    return result


async def _leave_values(session: AsyncSession, leave: LeaveRequest, student: Student) -> dict:
    guardian = await session.get(Person, leave.requested_by)
    relation = await session.scalar(select(Guardianship.relation).where(
        Guardianship.student_id == student.id, Guardianship.person_id == leave.requested_by))
    return {
        "guardian": guardian.name if guardian else "",
        "relation": relation or "",
        "child": student.name,
        "class_name": student.school_class.name,
        "first_day": leave.first_day,
        "last_day": leave.last_day,
        "days": (leave.last_day - leave.first_day).days + 1,
        "reason": leave.reason,
        "note": leave.note or "",
    }
