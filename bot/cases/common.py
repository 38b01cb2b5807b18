"""What the case actions, queries and the ladder share: loading a case under lock, who is involved in it (in a
constant number of queries for any number of cases), scope checks, history events, telling people, summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar.days import load_calendar
from bot.core.clock import to_local
from bot.core.policy import Duration, Policy, Unit
from bot.core.scope import Actor
from bot.core.settings import Settings
from bot.notices.outbox import Action, Delivery
from storage.models import (
    Absence,
    AbsenceReason,
    AuditEvent,
    Case,
    CaseEvent,
    CaseOutcome,
    CaseStage,
    ContactPoint,
    Guardianship,
    Person,
    PersuasionAttempt,
    Role,
    School,
    SchoolClass,
    StaffRole,
    Student,
    SupportReferral,
)

from .model import MAX_TEXT, CaseError, CaseErrorCode, CaseSummary, DeadlineKind, Recipient, Told
from .outbox import NoticeBatch

OFFICER_ROLES = (Role.SCHOOL_ADMIN, Role.PRINCIPAL)
COUNTED_REASONS = (AbsenceReason.UNEXPLAINED, AbsenceReason.UNKNOWN)  # absences without a proper reason
OPEN_STAGES = (CaseStage.OPEN, CaseStage.REPORTED, CaseStage.ORDERED, CaseStage.LEGAL)
TOWNSHIP_STAGES = (CaseStage.REPORTED, CaseStage.ORDERED, CaseStage.LEGAL)


def local_today(settings: Settings, now: datetime) -> date:
    return to_local(now, settings.tz).date()


async def deadline_after(session: AsyncSession, duration: Duration, school_id: int, day: date) -> date:
    """The day `duration` after `day` (school days counted on the school's calendar)."""
    calendar = await load_calendar(session, school_id) if duration.unit is Unit.SCHOOL_DAYS else None
    return duration.after(day, calendar)


def case_ref(case: Case, settings: Settings) -> str:
    """The case's number on documents (劝学书, 辍学报告, 复学通知书): year opened and case id."""
    return f"{to_local(case.opened_at, settings.tz).year}-{case.id:05d}"


def is_dialect(session: AsyncSession, name: str) -> bool:
    return session.get_bind().dialect.name == name


def clip(text: str | None) -> str | None:
    """Free text as stored: stripped, None when empty; longer than the limit is refused."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise CaseError(CaseErrorCode.BAD_VALUE, field="text")
    return text or None


# --- loading and scope --------------------------------------------------------------------------------------------


async def lock_case(session: AsyncSession, case_id: int) -> Case | None:
    """The case, locked for this transaction (SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already
    serialises writers), with its attributes re-read."""
    return await session.scalar(
        select(Case).where(Case.id == case_id).with_for_update().execution_options(populate_existing=True)
    )


async def student_class(session: AsyncSession, student_id: int) -> tuple[Student, SchoolClass] | None:
    row = (
        await session.execute(
            select(Student, SchoolClass).join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(Student.id == student_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


def is_school_officer(actor: Actor | None, case: Case) -> bool:
    return actor is not None and actor.administers_school(case.school_id)


def is_township_officer(actor: Actor | None, case: Case) -> bool:
    return actor is not None and actor.oversees_township(case.township_id)


def is_class_teacher(actor: Actor | None, class_id: int) -> bool:
    return actor is not None and actor.teaches(class_id)


def is_guardian(actor: Actor | None, case: Case) -> bool:
    return actor is not None and case.student_id in actor.children


def can_view(actor: Actor | None, case: Case, class_id: int) -> bool:
    return (
        is_school_officer(actor, case)
        or is_township_officer(actor, case)
        or is_class_teacher(actor, class_id)
        or is_guardian(actor, case)
    )


async def case_for(
    session: AsyncSession, actor: Actor | None, case_id: int, *, lock: bool = True
) -> tuple[Case, Student, SchoolClass]:
    """The case (locked), its student and the student's class, when the actor may see it at all (None = the
    scheduler). Raises NOT_ALLOWED otherwise, the same as for a case that does not exist."""
    case = await lock_case(session, case_id) if lock else await session.get(Case, case_id)
    found = await student_class(session, case.student_id) if case is not None else None
    if case is None or found is None:
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    student, school_class = found
    if actor is not None and not can_view(actor, case, school_class.id):
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    return case, student, school_class


def check_stage(case: Case, allowed: Collection[str], expected_stage: str | None) -> None:
    """`expected_stage` is the stage the actor's keyboard showed: a different one means the button is stale."""
    if expected_stage is not None and case.stage != expected_stage:
        raise CaseError(CaseErrorCode.STALE, stage=case.stage)
    if case.stage == CaseStage.CLOSED and CaseStage.CLOSED not in allowed:
        raise CaseError(CaseErrorCode.STALE, stage=case.stage)
    if case.stage not in allowed:
        raise CaseError(CaseErrorCode.WRONG_STAGE, stage=case.stage)


# --- history ------------------------------------------------------------------------------------------------------


def event_rows(
    now: datetime, case: Case, actor: Actor | None, event_kind: str, details: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A history event of the case and its audit record (ids only), as column values."""
    who = {"actor_person_id": actor.person_id if actor is not None else None,
           "actor": "person" if actor is not None else "scheduler"}
    event = {"case_id": case.id, "at": now, "kind": event_kind, "details": details, **who}
    audited = {k: v for k, v in details.items() if k.endswith("_id") or k in AUDITED}
    record = {"at": now, "action": f"case.{event_kind}", "entity": "case", "entity_id": case.id,
              "details": {"student_id": case.student_id, **audited}, **who}
    return event, record


def add_event(
    session: AsyncSession, now: datetime, case: Case, actor: Actor | None, event_kind: str, /, **details: Any
) -> CaseEvent:
    """Append to the case's history (never rewritten) and to the audit log. (Many at once: `NoticeBatch.event`.)"""
    event_row, audit_row = event_rows(now, case, actor, event_kind, details)
    event = CaseEvent(**event_row)
    session.add(event)
    session.add(AuditEvent(**audit_row))
    return event


AUDITED = frozenset({"stage", "outcome", "answer", "kind", "step", "method", "succeeded", "why", "deadline"})


# --- who is involved ----------------------------------------------------------------------------------------------


@dataclass
class Cast:
    """The people involved in one case: the student's class teachers, the school's officers, the township's
    officers and the guardians (with how they are related, and whether a notice can reach them)."""

    student: Student
    school_class: SchoolClass
    school_name: str
    teachers: list[Person] = field(default_factory=list)
    officers: list[Person] = field(default_factory=list)
    township_officers: list[Person] = field(default_factory=list)
    guardians: list[tuple[Person, str | None]] = field(default_factory=list)
    reachable: dict[int, bool] = field(default_factory=dict)  # person id -> reachable (absent: not linked)

    @property
    def person_ids(self) -> set[int]:
        return {p.id for p in [*self.teachers, *self.officers, *self.township_officers]} | {
            p.id for p, _ in self.guardians}

    @property
    def school_staff(self) -> list[Person]:
        """Officers, or the class teachers when the school has no officer registered."""
        return self.officers or self.teachers


async def load_casts(session: AsyncSession, cases: Iterable[Case]) -> dict[int, Cast]:
    """The cast of every case, in six queries whatever their number."""
    cases = list(cases)
    if not cases:
        return {}
    student_ids = {c.student_id for c in cases}
    rows = (
        await session.execute(
            select(Student, SchoolClass, School.name)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .join(School, School.id == SchoolClass.school_id)
            .where(Student.id.in_(student_ids))
        )
    ).all()
    students = {student.id: (student, school_class, name) for student, school_class, name in rows}
    class_ids = {school_class.id for _, school_class, _ in rows}
    school_ids = {c.school_id for c in cases}
    township_ids = {c.township_id for c in cases}

    staff = (
        await session.execute(
            select(StaffRole.role, StaffRole.class_id, StaffRole.school_id, StaffRole.township_id, Person)
            .join(Person, Person.id == StaffRole.person_id)
            .where(
                ((StaffRole.role == Role.CLASS_TEACHER) & StaffRole.class_id.in_(class_ids))
                | (StaffRole.role.in_(OFFICER_ROLES) & StaffRole.school_id.in_(school_ids))
                | ((StaffRole.role == Role.TOWNSHIP_OFFICER) & StaffRole.township_id.in_(township_ids))
            )
            .order_by(StaffRole.id)
        )
    ).all()
    teachers: dict[int | None, list[Person]] = defaultdict(list)
    officers: dict[int | None, list[Person]] = defaultdict(list)
    township: dict[int | None, list[Person]] = defaultdict(list)
    for role, class_id, school_id, township_id, person in staff:
        if role == Role.CLASS_TEACHER:
            place = teachers[class_id]
        elif role == Role.TOWNSHIP_OFFICER:
            place = township[township_id]
        else:
            place = officers[school_id]
        if person not in place:
            place.append(person)

    guardians: dict[int, list[tuple[Person, str | None]]] = defaultdict(list)
    for guardianship, person in await session.execute(
        select(Guardianship, Person).join(Person, Person.id == Guardianship.person_id)
        .where(Guardianship.student_id.in_(student_ids)).order_by(Guardianship.rank, Guardianship.id)
    ):
        guardians[guardianship.student_id].append((person, guardianship.relation))
    people = {p.id for ps in guardians.values() for p, _ in ps}
    reachable = dict(
        (await session.execute(
            select(ContactPoint.person_id, ContactPoint.reachable).where(ContactPoint.person_id.in_(people))
        )).all()
    ) if people else {}

    casts = {}
    for case in cases:
        if case.student_id not in students:
            continue
        student, school_class, school_name = students[case.student_id]
        casts[case.id] = Cast(
            student, school_class, school_name,
            teachers=list(teachers.get(school_class.id, [])),
            officers=list(officers.get(case.school_id, [])),
            township_officers=list(township.get(case.township_id, [])),
            guardians=list(guardians.get(student.id, [])),
            reachable={p.id: reachable[p.id] for p, _ in guardians.get(student.id, []) if p.id in reachable},
        )
    return casts


async def cast_of(session: AsyncSession, case: Case) -> Cast:
    casts = await load_casts(session, [case])
    if case.id not in casts:
        raise CaseError(CaseErrorCode.NOT_ALLOWED)
    return casts[case.id]


# --- telling people -----------------------------------------------------------------------------------------------


async def batch_for(session: AsyncSession, settings: Settings, now: datetime, casts: Iterable[Cast]) -> NoticeBatch:
    """A notice batch with the contact points of everyone in these casts looked up (one query)."""
    batch = NoticeBatch(session, settings, now)
    await batch.prefetch({pid for cast in casts for pid in cast.person_ids})
    return batch


def tell(
    batch: NoticeBatch,
    person: Person,
    role: Recipient,
    template: str,
    values: dict[str, Any],
    key: str,
    case: Case,
    actions: list[list[Action]] | None = None,
) -> Told:
    delivery = batch.add(person, template, values, key, actions=actions, entity="case", entity_id=case.id)
    return Told(person.id, person.name, role, delivery)


def tell_many(
    batch: NoticeBatch,
    people: Iterable[Person],
    role: Recipient,
    template: str,
    values: dict[str, Any],
    key_prefix: str,
    case: Case,
    skip: Collection[int] = (),
    actions: list[list[Action]] | None = None,
) -> list[Told]:
    """One notice each (key `key_prefix:person id`), nobody twice, nobody in `skip` (e.g. the actor)."""
    told, seen = [], set(skip)
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        told.append(tell(batch, person, role, template, values, f"{key_prefix}:{person.id}", case, actions))
    return told


def deliver_by_hand(
    batch: NoticeBatch,
    case: Case,
    cast: Cast,
    guardian: Person,
    relation: str | None,
    document: str,
    deadline: date | None,
    why: Delivery,
) -> list[Told]:
    """A guardian a notice cannot reach (not linked, or blocked the bot): the school's officers (or the class
    teachers when there is none) are asked to deliver it by hand. The step itself still happens."""
    values = {
        "child": cast.student.name,
        "class_name": cast.school_class.name,
        "guardian": guardian.name,
        "relation": relation or "",
        "document": document,
        "deadline": deadline,
        "has_phone": bool(guardian.phone),
        "why": why.value,  # not_linked, unreachable, no_consent
        "ref": case_ref(case, batch.settings),
    }
    return tell_many(batch, cast.school_staff, Recipient.SCHOOL_OFFICER, "deliver_by_hand", values,
                     f"by-hand:{case.id}:{document}:{guardian.id}", case)


def tell_guardians(
    batch: NoticeBatch, case: Case, cast: Cast, template: str, base: dict[str, Any], deadline: date | None,
    actions: list[list[Action]] | None = None,
) -> list[Told]:
    """`template` to every guardian (key `template:case:guardian`); for those it cannot reach, the school's
    officers are asked to deliver it by hand."""
    told: list[Told] = []
    for person, relation in cast.guardians:
        values = base | {"guardian": person.name, "relation": relation or ""}
        item = tell(batch, person, Recipient.GUARDIAN, template, values, f"{template}:{case.id}:{person.id}", case,
                    actions)
        told.append(item)
        if not item.reached:
            told += deliver_by_hand(batch, case, cast, person, relation, template, deadline, item.delivery)
    return told


def tell_school(
    batch: NoticeBatch, case: Case, cast: Cast, template: str, values: dict[str, Any], key_prefix: str,
    skip: Collection[int] = (), *, township: bool = False,
) -> list[Told]:
    """The school's officers, the class teachers and (when `township`) the township's officers, each once."""
    skip = set(skip)
    told = tell_many(batch, cast.officers, Recipient.SCHOOL_OFFICER, template, values, key_prefix, case, skip)
    skip |= {p.id for p in cast.officers}
    told += tell_many(batch, cast.teachers, Recipient.TEACHER, template, values, key_prefix, case, skip)
    if township:
        skip |= {p.id for p in cast.teachers}
        told += tell_many(batch, cast.township_officers, Recipient.TOWNSHIP_OFFICER, template, values, key_prefix,
                          case, skip)
    return told


# --- summaries ----------------------------------------------------------------------------------------------------


def next_deadline(case: Case, attempts: int) -> tuple[date | None, DeadlineKind | None]:
    """The deadline that matters next at the case's stage. None once the case reached the township (waiting for
    the 复学通知书) or its legal steps: from the first legal step on, the 复学通知书's passed deadline is no longer
    work that is overdue (the legal steps have their own timing, checked when they are recorded)."""
    if case.stage == CaseStage.OPEN:
        if attempts == 0 and case.home_visit_due is not None and (
            case.persuasion_deadline is None or case.home_visit_due <= case.persuasion_deadline
        ):
            return case.home_visit_due, DeadlineKind.HOME_VISIT
        return case.persuasion_deadline, DeadlineKind.PERSUASION if case.persuasion_deadline else None
    if case.stage == CaseStage.ORDERED and case.order_deadline is not None:
        return case.order_deadline, DeadlineKind.ORDER
    return None, None


async def summarize(
    session: AsyncSession, settings: Settings, policy: Policy, now: datetime, cases: list[Case]
) -> list[CaseSummary]:
    """Summaries of `cases`, in the same order, in five queries whatever their number."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    student_ids = {c.student_id for c in cases}
    today = local_today(settings, now)
    names = {
        sid: (name, class_id, class_name, school_name)
        for sid, name, class_id, class_name, school_name in await session.execute(
            select(Student.id, Student.name, SchoolClass.id, SchoolClass.name, School.name)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .join(School, School.id == SchoolClass.school_id)
            .where(Student.id.in_(student_ids))
        )
    }
    attempts: dict[int, tuple[int, int]] = {
        case_id: (total, failed or 0)
        for case_id, total, failed in await session.execute(
            select(
                PersuasionAttempt.case_id, func.count(),
                func.sum(sql_case((PersuasionAttempt.succeeded.is_(False), 1), else_=0)),
            ).where(PersuasionAttempt.case_id.in_(ids)).group_by(PersuasionAttempt.case_id)
        )
    }
    referrals = dict(
        (await session.execute(
            select(SupportReferral.case_id, func.count())
            .where(SupportReferral.case_id.in_(ids), SupportReferral.resolved_at.is_(None))
            .group_by(SupportReferral.case_id)
        )).all()
    )
    first = min(c.first_absent_day for c in cases)
    absent_days: dict[int, list[date]] = defaultdict(list)
    for student_id, day in await session.execute(
        select(Absence.student_id, Absence.day).where(
            Absence.student_id.in_(student_ids), Absence.day >= first, Absence.withdrawn_at.is_(None),
            Absence.excused.is_(False), Absence.reason.in_(COUNTED_REASONS),
        )
    ):
        absent_days[student_id].append(day)

    summaries = []
    for case in cases:
        name, class_id, class_name, school_name = names.get(case.student_id, ("", 0, "", ""))
        total, failed = attempts.get(case.id, (0, 0))
        deadline, kind = next_deadline(case, total)
        until = to_local(case.closed_at, settings.tz).date() if case.closed_at else today
        summaries.append(CaseSummary(
            id=case.id, ref=case_ref(case, settings), student_id=case.student_id, student_name=name,
            class_id=class_id, class_name=class_name, school_id=case.school_id, school_name=school_name,
            township_id=case.township_id, stage=CaseStage(case.stage), first_absent_day=case.first_absent_day,
            opened_at=case.opened_at,
            days_absent=sum(1 for d in absent_days.get(case.student_id, []) if case.first_absent_day <= d <= until),
            attempts=total, failed_attempts=int(failed), next_deadline=deadline, deadline_kind=kind,
            overdue=deadline is not None and deadline < today, reason_found=case.reason_found,
            open_referrals=referrals.get(case.id, 0), reported_at=case.reported_at, ordered_at=case.ordered_at,
            closed_at=case.closed_at, outcome=CaseOutcome(case.outcome) if case.outcome else None,
            watch_until=case.watch_until,
        ))
    return summaries


async def summary_of(session: AsyncSession, settings: Settings, policy: Policy, now: datetime, case: Case
                     ) -> CaseSummary:
    await session.flush()
    return (await summarize(session, settings, policy, now, [case]))[0]
